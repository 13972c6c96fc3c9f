"""Benchmarks of the deterministic core: kernels, journal append, replay, memory."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from journal import JournalWriter
from sequencer import records
from sequencer.logic import BusinessLogic
from sequencer.state import Capacity, State
from sequencer import workload

BATCH = 4096
SEED = 20261124


def figure(name, value, unit, goal, better="higher"):
    """One result row; goal None marks a baseline or context figure (nothing to meet)."""
    return {"name": name, "value": float(value), "unit": unit, "goal": goal, "better": better}


def _stream(n):
    return workload.generate(SEED, n)


def _run_logic(stream, capacity):
    logic = BusinessLogic(State.create(capacity), digest_every=100_000)
    t0 = time.perf_counter()
    for i in range(0, len(stream), BATCH):
        logic.apply(stream[i:i + BATCH])
    return time.perf_counter() - t0, logic


def kernel_throughput(n):
    """Business logic alone (state machine, checks, positions, digests) on the mixed workload."""
    stream = _stream(n)
    cap = Capacity(orders=1 << 20)
    _run_logic(stream[:20_000], cap)  # warm-up: compile / load cached kernels
    best = min(_run_logic(stream, cap)[0] for _ in range(3))
    return [figure("logic: mixed workload", len(stream) / best, "cmds/s", 3_000_000)]


def journal_append(n):
    stream = _stream(min(n, 1_000_000))
    reps = max(1, 2_000_000 // len(stream))
    out = []
    for fsync in ("none", "batch"):
        with tempfile.TemporaryDirectory() as d:
            w = JournalWriter(Path(d) / "j", kind="input", record_size=records.COMMAND_SIZE, fsync=fsync)
            w.open()
            hdr = records.header(stream)
            t0 = time.perf_counter()
            total = 0
            for r in range(reps):
                hdr["seq"] = np.arange(1 + r * len(stream), 1 + (r + 1) * len(stream), dtype=np.uint64)
                hdr["ts"] = hdr["seq"].astype(np.int64)  # repeats must keep ts non-decreasing
                for i in range(0, len(stream), BATCH):
                    w.append(stream[i:i + BATCH])
                total += len(stream)
            secs = time.perf_counter() - t0
            w.close(seal=True)
        out.append(figure(f"journal append (fsync={fsync})", total / secs, "records/s", 2_000_000))
    return out


def replay_throughput(n):
    """Journal read + frame checks + business logic, as `tandem replay` runs it."""
    from sequencer.replay import LogicParams, replay, write_params

    stream = _stream(n)
    with tempfile.TemporaryDirectory() as d:
        jdir = Path(d) / "j"
        w = JournalWriter(jdir, kind="input", record_size=records.COMMAND_SIZE, fsync="none")
        w.open()
        for i in range(0, len(stream), BATCH):
            w.append(stream[i:i + BATCH])
        w.close(seal=True)
        write_params(jdir, LogicParams(orders=1 << 20, clients=1024, symbols=4096,
                                       digest_every=100_000, max_sources=65536))
        replay(jdir, to_seq=10_000)  # warm-up
        r = replay(jdir)
    return [figure("replay (journal + logic)", r.inputs / r.seconds, "records/s", 2_000_000)]


def numbered_stream(n):
    """The seeded workload as one source's numbered commands (what admit expects)."""
    stream = _stream(n)
    hdr = records.header(stream)
    hdr["source_id"], hdr["source_seq"] = 1, np.arange(1, len(stream) + 1)
    return stream


def pipeline_records_per_s(stream, cfg, aeron) -> float:
    """The sequencer's per-batch path, in this process: admit, stamp, journal (with
    replication on: send and await the standby's ack), business logic, output journal
    (outbound publish with no reader, so no transport cost)."""
    from sequencer.agent import SequencerAgent
    from sequencer.intake import admit

    agent = SequencerAgent(cfg, aeron=aeron)
    agent.on_start()
    try:
        deadline = time.monotonic() + 60
        while agent.link is not None and not agent.link.live:  # a standby joins and catches up
            agent.do_work()
            if time.monotonic() > deadline:
                raise TimeoutError("the standby did not join")
            time.sleep(0.001)
        warm = 5 * BATCH  # batches before timing starts (kernels loaded, pages touched)
        t0 = None
        for i in range(0, len(stream), BATCH):
            if i == warm:
                t0 = time.perf_counter()
            batch, *_ = admit(stream[i:i + BATCH], agent.source_seq)
            agent._sequence(batch)
        return (len(stream) - warm) / (time.perf_counter() - t0)
    finally:
        agent.on_close()


def sequencer_pipeline(n):
    import pyaeron

    from tandem import config

    with tempfile.TemporaryDirectory() as d:
        cfg = config.load(None, config.under(d), {"sequencer": {"snapshot_every": 0}})
        with pyaeron.Aeron(embedded=True) as aeron:
            rate = pipeline_records_per_s(numbered_stream(n), cfg, aeron)
    return [figure("sequencer pipeline (admit+journal+logic+out journal)", rate, "records/s", 2_000_000)]


_RSS_CHILD = """
import json, resource, sys
import numpy as np
from sequencer import records, workload
from sequencer.logic import BusinessLogic
from sequencer.state import Capacity, State
n = int(sys.argv[1])
logic = BusinessLogic(State.create(Capacity(orders=1 << 20)), digest_every=100_000)
logic.apply(workload.reference_data(64, 256))
orders = workload.live_orders(n, 64, 256)
for i in range(0, n, 65536):
    logic.apply(orders[i:i + 65536])
live = int(logic.state.live_orders())
print(json.dumps({"live": live, "rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""


def peak_rss(n):
    """A fresh process holding 1M live orders at capacity 1<<20 orders."""
    out = subprocess.run([sys.executable, "-c", _RSS_CHILD, str(1_000_000)], capture_output=True, text=True, check=True)
    r = json.loads(out.stdout.strip().splitlines()[-1])
    if r["live"] < 1_000_000:
        raise RuntimeError(f"only {r['live']} orders were live; the RSS figure would not mean anything")
    return [figure("peak RSS, 1M live orders", r["rss_kb"] / 1024, "MiB", 1024, "lower")]


BENCHMARKS = [kernel_throughput, journal_append, replay_throughput, sequencer_pipeline, peak_rss]
