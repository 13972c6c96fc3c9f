"""Replication benchmarks: the sequencer's per-batch path with a standby acking every
batch (a separate process, so it runs beside the primary as in production) against the
same path unreplicated, in the same run; and the RTO of a local DR drill."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from perf.core import figure, numbered_stream, pipeline_records_per_s


def replicated_pipeline(n):
    from tandem import config, topology
    from tandem.demo import cli
    from tandem.drill import write_node_configs

    stream = numbered_stream(n)
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
            solo = pipeline_records_per_s(stream.copy(), solo_cfg, aeron)
            replicated = pipeline_records_per_s(stream.copy(), primary_cfg, aeron)
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
