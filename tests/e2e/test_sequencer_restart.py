"""A real sequencer process over Aeron IPC, SIGKILLed mid-stream and restarted.

The journal must continue with no seq gap and no duplicate seq, every (source,
source seq) the producer sent must be journaled exactly once (the producer re-sends
what was not confirmed; the sequencer drops what it already had), and a replay of
the journal must reach the digest the live sequencer reported.
"""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from journal import JournalReader, verify
from sequencer import records
from sequencer.replay import replay
from tandem import config as config_mod
from tandem import topology
from tandem.agent import AgentRunner
from tandem.counters import SEQUENCER, Counters
from tandem.demo import cli, last_digest_event, write_config
from tandem.producer import ProducerAgent

pytestmark = pytest.mark.e2e


def _start_sequencer(cfg_path, log):
    return subprocess.Popen(cli("sequencer", "--config", str(cfg_path)), stderr=log)


def _journaled(counters_path):
    if not counters_path.exists():
        return 0
    return Counters(counters_path, SEQUENCER, create=False).get("inputs_journaled")


@pytest.mark.parametrize("kill_after", [3_000, 20_000])
def test_sigkill_mid_stream_then_restart(tmp_path, kill_after):
    cfg_path = write_config(tmp_path, {"sequencer": {"snapshot_every": 8_000, "digest_every": 5_000}})
    cfg = config_mod.load(cfg_path)
    counters_path = Path(cfg["run_dir"]) / "sequencer.counters"
    log = open(tmp_path / "sequencer.log", "w")
    driver = topology.start_media_driver(cfg)
    aeron = topology.connect(cfg)
    seq = _start_sequencer(cfg_path, log)
    try:
        producer = ProducerAgent(cfg, commands=40_000, seed=kill_after, clients=16, symbols=32,
                                 chunk=512, window=8_192, aeron=aeron)
        killed = []

        def step():
            if not killed and _journaled(counters_path) >= kill_after:
                seq.send_signal(signal.SIGKILL)
                seq.wait()
                killed.append(_journaled(counters_path))
                # A new incarnation: recovery from the torn journal, snapshot and tail.
                restarted.append(_start_sequencer(cfg_path, log))
            return producer.done

        restarted = []
        deadline = time.monotonic() + 240
        AgentRunner([producer], idle="backoff").run(
            until=lambda: step() or time.monotonic() > deadline, handle_signals=False)
        assert killed, "the sequencer was never killed: the test did not exercise recovery"
        assert producer.done, "the producer never saw its final digest"
        restarted[0].send_signal(signal.SIGTERM)
        assert restarted[0].wait(timeout=60) == 0
    finally:
        for p in [seq] + locals().get("restarted", []):
            if p.poll() is None:
                p.kill()
        aeron.close()
        driver.close()
        log.close()

    in_dir, out_dir = topology.input_journal_dir(cfg), topology.output_journal_dir(cfg)
    v = verify(in_dir)
    assert v.ok, (v.reason, v.first_bad_seq)
    journal = np.concatenate(list(JournalReader(in_dir).iter_batches()))
    hdr = records.header(journal)
    assert np.array_equal(hdr["seq"], np.arange(1, len(journal) + 1)), "seq gap or duplicate"
    for source in (1, 2):
        got = np.sort(hdr["source_seq"][hdr["source_id"] == source])
        assert len(got) and np.array_equal(got, np.arange(1, len(got) + 1)), \
            f"source {source}: a command was lost or journaled twice"
    # The producer saw the on-demand digest of its last command; a replay reaches it.
    live_seq, live_digest = last_digest_event(out_dir)
    assert live_seq == producer.final_seq and live_digest == producer.final_digest
    r = replay(in_dir)
    assert (r.final_seq, r.digest) == (live_seq, f"{live_digest:016x}")
    assert replay(in_dir, from_snapshot=True).digest == r.digest
    assert verify(out_dir).ok
