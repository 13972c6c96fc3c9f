"""Rebuild business-logic state from a journal: start-up recovery and ``tandem replay``.

The parameters that shape state (capacities, digest interval) are fixed when a journal
is created and stored beside it in ``logic.json``, so a replay needs nothing but the
journal: a replay with other capacities would reach another digest.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from journal import JournalReader, JournalWriter, SnapshotStore
from sequencer import records
from sequencer.intake import update_source_seq
from sequencer.logic import BusinessLogic
from sequencer.state import Capacity, State

PARAMS_FILE = "logic.json"
SOURCE_SEQ = "sequencer.source_seq"  # de-duplication table, saved with snapshots


# Capacities added after the first journals: a logic.json without them means the defaults.
_LATER_CAPACITIES = ("positions", "algos", "books", "book_levels", "book_orders")


@dataclass
class LogicParams:
    orders: int
    clients: int
    symbols: int
    digest_every: int
    max_sources: int
    positions: int = Capacity.positions
    algos: int = Capacity.algos
    books: int = Capacity.books
    book_levels: int = Capacity.book_levels
    book_orders: int = Capacity.book_orders

    @classmethod
    def from_config(cls, cfg) -> "LogicParams":
        c = cfg["capacity"]
        s = cfg["sequencer"]
        return cls(c["orders"], c["clients"], c["symbols"], s["digest_every"], s["max_sources"],
                   **{k: c[k] for k in _LATER_CAPACITIES})

    def capacity(self) -> Capacity:
        return Capacity(orders=self.orders, clients=self.clients, symbols=self.symbols,
                        **{k: getattr(self, k) for k in _LATER_CAPACITIES})


def write_params(journal_dir: Path, params: LogicParams) -> None:
    """Pin the parameters to a new journal; refuse to run an existing one with others."""
    path = Path(journal_dir) / PARAMS_FILE
    if path.exists():
        pinned = read_params(journal_dir)
        if pinned != params:
            raise ValueError(
                f"{journal_dir} was created with {asdict(pinned)}; the configuration asks for "
                f"{asdict(params)} — replaying it with other capacities would reach another state")
        return
    path.write_text(json.dumps(asdict(params), indent=1) + "\n")


def read_params(journal_dir: Path) -> LogicParams:
    path = Path(journal_dir) / PARAMS_FILE
    try:
        return LogicParams(**json.loads(path.read_text()))
    except FileNotFoundError:
        raise ValueError(f"{journal_dir} has no {PARAMS_FILE}: not a Tandem input journal") from None
    except (TypeError, json.JSONDecodeError) as e:
        raise ValueError(f"{path} is unreadable: {e}") from None


def check_batch(raw: np.ndarray) -> None:
    """A journal record this build cannot read is an error naming it, never a skip."""
    ok = records.check_commands(raw)
    if not ok.all():
        i = int(np.argmin(ok))
        seq = int(records.header(raw)["seq"][i])
        raise records.RecordError(f"seq {seq}: {records.describe_bad(raw, i)}")


@dataclass
class ReplayResult:
    journal: str
    final_seq: int
    digest: str
    inputs: int
    events: int
    from_snapshot_seq: int
    seconds: float
    input_counts: dict = field(default_factory=dict)
    event_counts: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        d = asdict(self)
        d["records_per_s"] = round(self.inputs / self.seconds) if self.seconds else None
        return d


def snapshot_arrays(state: State, source_seq: np.ndarray) -> dict:
    """What a snapshot stores: the used state arrays and the de-duplication table."""
    return {**state.used_arrays(), SOURCE_SEQ: source_seq}


class Restored:
    """Business logic plus the sequencer's de-duplication table at ``seq``."""

    def __init__(self, logic: BusinessLogic, source_seq: np.ndarray, seq: int, snapshot_seq: int):
        self.logic = logic
        self.source_seq = source_seq
        self.seq = seq
        self.snapshot_seq = snapshot_seq

def restore(journal_dir, *, from_snapshot=True, to_seq=None, max_snapshot_seq=None,
            on_events=None, progress=False, batch_records=65536) -> Restored:
    """Latest valid snapshot (if asked) + replay of the journal after it, up to ``to_seq``."""
    journal_dir = Path(journal_dir)
    params = read_params(journal_dir)
    reader = JournalReader(journal_dir)
    last = reader.last_seq if to_seq is None else min(to_seq, reader.last_seq)
    snap = None
    if from_snapshot:
        limit = last if max_snapshot_seq is None else min(last, max_snapshot_seq)
        snap = SnapshotStore(journal_dir).latest_valid(max_seq=limit)
    if snap is not None:
        arrays = dict(snap.arrays)
        source_seq = arrays.pop(SOURCE_SEQ).copy()
        state = State.from_used_arrays(arrays, params.orders)
        if state.digest() != snap.digest:
            raise ValueError(f"snapshot at seq {snap.seq} does not reach its recorded digest")
        start = snap.seq
    else:
        state = State.create(params.capacity())
        source_seq = np.zeros(params.max_sources, np.uint64)
        start = 0
    logic = BusinessLogic(state, digest_every=params.digest_every)
    bar = None
    if progress and last > start:
        from tqdm import tqdm
        bar = tqdm(total=last - start, unit="rec", unit_scale=True, desc="replay")
    if last > start:
        for batch in reader.iter_batches(from_seq=start + 1, to_seq=last, batch_records=batch_records):
            check_batch(batch)
            events = logic.apply(batch, copy=False)  # consumed before the next batch
            update_source_seq(source_seq, batch)
            if on_events is not None:
                on_events(batch, events)
            if bar is not None:
                bar.update(len(batch))
    if bar is not None:
        bar.close()
    return Restored(logic, source_seq, last, start)


def replay(journal_dir, *, from_snapshot=False, to_seq=None, out_dir=None, progress=False,
           max_snapshot_seq=None) -> ReplayResult:
    """``tandem replay``: re-run the kernels, optionally writing the outputs to ``out_dir``.

    ``max_snapshot_seq`` starts from the newest valid snapshot at or before that seq."""
    t0 = time.perf_counter()
    in_counts: Counter = Counter()
    ev_counts: Counter = Counter()
    writer = None
    if out_dir is not None:
        writer = JournalWriter(out_dir, kind="output", record_size=records.EVENT_SIZE, fsync="none")
        writer.open()
        if writer.last_seq:
            writer.close(seal=False)
            raise ValueError(f"{out_dir} already holds an output journal; replay writes a new one")

    def count(counter, raw):
        by_type = np.bincount(records.header(raw)["type"])
        for t in np.flatnonzero(by_type).tolist():
            counter[t] += int(by_type[t])

    def on_events(batch, events):
        count(in_counts, batch)
        if len(events):
            count(ev_counts, events)
            if writer is not None:
                writer.append(events)

    try:
        r = restore(journal_dir, from_snapshot=from_snapshot, to_seq=to_seq,
                    max_snapshot_seq=max_snapshot_seq, on_events=on_events, progress=progress)
    finally:
        if writer is not None:
            writer.close(seal=True)
    name = records.TYPE_NAMES.get
    return ReplayResult(
        journal=str(journal_dir), final_seq=r.seq, digest=f"{r.logic.state.digest():016x}",
        inputs=sum(in_counts.values()), events=sum(ev_counts.values()),
        from_snapshot_seq=r.snapshot_seq, seconds=time.perf_counter() - t0,
        input_counts={name(k, str(k)): v for k, v in sorted(in_counts.items())},
        event_counts={name(k, str(k)): v for k, v in sorted(ev_counts.items())},
    )
