"""Replication benchmarks: the sequencer's per-batch path with a standby acking every
batch (a separate process, so it runs beside the primary as in production) against the
same path unreplicated, in the same run; and the RTO of a local DR drill."""

from __future__ import annotations

import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from perf.core import BATCH, _stream, figure
from sequencer import records


def _pipeline(stream, cfg, aeron) -> float:
    """records/s of admit + stamp + journal (+ replicate + await ack) + logic + out journal."""
    from sequencer.agent import SequencerAgent
    from sequencer.intake import admit

    agent = SequencerAgent(cfg, aeron=aeron)
    agent.on_start()
    try:
        deadline = time.monotonic() + 60
        while agent.link is not None and not agent.link.live:  # the standby joins and catches up
            agent.do_work()
            if time.monotonic() > deadline:
                raise TimeoutError("the standby did not join")
            time.sleep(0.001)
        warm = 5 * BATCH
        t0 = None
        for i in range(0, len(stream), BATCH):
            if i == warm:
                t0 = time.perf_counter()
            batch, *_ = admit(stream[i:i + BATCH], agent.source_seq)
            agent._sequence(batch)
        return (len(stream) - warm) / (time.perf_counter() - t0)
    finally:
        agent.on_close()


def replicated_pipeline(n):
    from tandem import config, topology
    from tandem.demo import cli
    from tandem.drill import write_node_configs

    stream = _stream(n)
    hdr = records.header(stream)
    hdr["source_id"], hdr["source_seq"] = 1, np.arange(1, len(stream) + 1)
    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        extra = {"sequencer": {"snapshot_every": 0}}
        solo_cfg = config.load(None, config.under(root / "solo"), {**extra, "aeron": {"dir": str(root / "aeron")}})
        paths = write_node_configs(root, extra)
        primary_cfg = config.load(paths[0])
        driver = topology.start_media_driver(primary_cfg)
        aeron = topology.connect(primary_cfg)
        standby = subprocess.Popen(cli("sequencer", "--config", str(paths[1]), "--role", "standby"),
                                   stderr=subprocess.DEVNULL)
        try:
            solo = _pipeline(stream.copy(), solo_cfg, aeron)
            replicated = _pipeline(stream.copy(), primary_cfg, aeron)
        finally:
            standby.terminate()
            standby.wait(timeout=60)
            aeron.close()
            driver.close()
    return [
        figure("sequencer pipeline, unreplicated (same run)", solo, "records/s", 2_000_000),
        figure("sequencer pipeline, replicated (standby acks each batch)", replicated, "records/s", 1_000_000),
        figure("replicated / unreplicated", 100 * replicated / solo, "%", 50),
    ]


def drill_rto(n):
    from tandem import drill

    with tempfile.TemporaryDirectory() as d:
        r = drill.run(root=Path(d) / "drill", commands=20_000, quiet=True)
    if not r["ok"]:
        raise RuntimeError(f"drill checks failed: {r['checks']}")
    return [figure(f"DR drill RTO (SIGKILL → {r['rto_basis']})", r["rto_ms"], "ms", 1000, better="lower")]


BENCHMARKS = [replicated_pipeline, drill_rto]
