"""A real sequencer process over Aeron IPC, SIGKILLed mid-stream and restarted.

The journal must continue with no seq gap and no duplicate seq, every (source,
source seq) the producer sent must be journaled exactly once (the producer re-sends
what was not confirmed; the sequencer drops what it already had), and a replay of
the journal — from seq 1 and from a snapshot — must reach the digest the live
sequencer reported.
"""

import random
import signal
import subprocess
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
from tandem.demo import cli, last_digest_event, same_outputs, write_config
from tandem.producer import ProducerAgent

pytestmark = pytest.mark.e2e


def _journaled(counters_path):
    if not counters_path.exists():
        return 0
    return Counters(counters_path, SEQUENCER, create=False).get("inputs_journaled")


def run_with_kills(tmp_path, kill_points, commands, seed):
    """Drive a sequencer process with the producer; SIGKILL it each time the journal
    passes the next of ``kill_points`` (counted by the current incarnation)."""
    cfg_path = write_config(tmp_path, {"sequencer": {"snapshot_every": 8_000, "digest_every": 5_000}})
    cfg = config_mod.load(cfg_path)
    counters_path = Path(cfg["run_dir"]) / "sequencer.counters"
    log = open(tmp_path / "sequencer.log", "w")
    driver = topology.start_media_driver(cfg)
    aeron = topology.connect(cfg)
    procs = [subprocess.Popen(cli("sequencer", "--config", str(cfg_path)), stderr=log)]
    pending = list(kill_points)
    kills = 0
    try:
        producer = ProducerAgent(cfg, commands=commands, seed=seed, clients=16, symbols=32,
                                 chunk=512, window=8_192, aeron=aeron)

        def step():
            nonlocal kills
            if pending and _journaled(counters_path) >= pending[0]:
                pending.pop(0)
                procs[-1].send_signal(signal.SIGKILL)
                procs[-1].wait()
                kills += 1
                counters_path.unlink()  # the next incarnation counts from zero
                procs.append(subprocess.Popen(cli("sequencer", "--config", str(cfg_path)), stderr=log))
            return producer.done

        deadline = time.monotonic() + 300
        AgentRunner([producer], idle="backoff").run(
            until=lambda: step() or time.monotonic() > deadline, handle_signals=False)
        assert kills == len(kill_points), f"only {kills} of {len(kill_points)} kills happened"
        assert producer.done, "the producer never saw its final digest"
        procs[-1].send_signal(signal.SIGTERM)
        assert procs[-1].wait(timeout=60) == 0
    finally:
        for p in procs:
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
    for source in (1, 2, 3):
        got = np.sort(hdr["source_seq"][hdr["source_id"] == source])
        assert len(got) and np.array_equal(got, np.arange(1, len(got) + 1)), \
            f"source {source}: a command was lost or journaled twice"
    assert len(hdr["source_seq"][hdr["source_id"] == 1]) == commands
    # The producer saw the on-demand digest of its last command; replays reach it.
    live_seq, live_digest = last_digest_event(out_dir)
    assert live_seq == producer.final_seq <= len(journal)  # timer ticks may follow it
    assert live_digest == producer.final_digest
    r = replay(in_dir, out_dir=tmp_path / "replay-out")
    assert r.final_seq == len(journal)
    assert replay(in_dir, to_seq=live_seq).digest == f"{live_digest:016x}"
    # Outputs lost in a crash were regenerated, none twice: the live output journal is
    # exactly what a replay produces.
    assert same_outputs(out_dir, tmp_path / "replay-out")
    assert replay(in_dir, from_snapshot=True, max_snapshot_seq=live_seq - 1).digest == r.digest
    assert verify(out_dir).ok
    return producer


@pytest.mark.parametrize("kill_after", [3_000, 20_000])
def test_sigkill_mid_stream_then_restart(tmp_path, kill_after):
    run_with_kills(tmp_path, [kill_after], commands=20_000, seed=kill_after)


@pytest.mark.soak
@pytest.mark.parametrize("trial", range(5))
def test_soak_repeated_sigkills(tmp_path, trial):
    rng = random.Random(trial)
    kills = sorted(rng.sample(range(1_000, 30_000), 4))
    run_with_kills(tmp_path, [b - a for a, b in zip([0] + kills, kills)], commands=60_000, seed=trial)
