"""The sequencer: poll inbound → de-duplicate → seq + ts → journal → business logic → outputs.

One agent, one thread. A batch is journaled before the business logic sees it, so
the journal alone reproduces every decision. On start it recovers: a torn journal
tail is truncated and reported, state comes from the latest valid snapshot plus a
replay of the journal after it, and outputs that the output journal lacks are
regenerated (they are derived data: deterministic, so identical to what was lost).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np

from journal import JournalReader, JournalWriter, SnapshotStore
from sequencer import records
from sequencer.intake import admit, update_source_seq
from sequencer.replay import LogicParams, restore, snapshot_arrays, write_params
from tandem import topology
from tandem.agent import Agent
from tandem.counters import SEQUENCER, Counters
from tandem.transport import BackPressured, NotConnected

log = logging.getLogger(__name__)


def _asks_for_snapshot(batch) -> bool:
    hdr = records.header(batch)
    admin = hdr["type"] == records.ADMIN
    return bool(admin.any()) and bool((batch.view(records.Admin)["action"][admin] == records.ADMIN_SNAPSHOT).any())


class SequencerAgent(Agent):
    role = "sequencer"

    def __init__(self, cfg, aeron=None, clock=time.time_ns):
        self.cfg = cfg
        self.aeron = aeron
        self.own_aeron = aeron is None
        self.clock = clock  # the sequencer's clock: stamped into records, never read by logic
        self.params = LogicParams.from_config(cfg)
        self.snapshot_every = cfg["sequencer"]["snapshot_every"]
        self.backpressure_s = cfg["sequencer"]["outbound_backpressure_ms"] / 1000
        self.in_dir = topology.input_journal_dir(cfg)
        self.out_dir = topology.output_journal_dir(cfg)
        self.recovery = None

    # ---------------------------------------------------------------- start-up
    def on_start(self):
        j = self.cfg["journal"]
        key = Path(j["seal_key_file"]).read_bytes() if j["seal_key_file"] else None
        common = dict(segment_bytes=j["segment_mb"] << 20, fsync=j["fsync"],
                      index_every=j["index_every"], seal_key=key)
        self.journal = JournalWriter(self.in_dir, kind="input", record_size=records.COMMAND_SIZE, **common)
        self.recovery = self.journal.open()
        try:
            write_params(self.in_dir, self.params)
        except ValueError:
            self.journal.close(seal=False)
            raise
        if self.recovery.truncated_bytes:
            log.warning("journal recovery: %s", self.recovery.message)
        self.out_journal = JournalWriter(self.out_dir, kind="output", record_size=records.EVENT_SIZE, **common)
        out_recovery = self.out_journal.open()
        if out_recovery.truncated_bytes:
            log.warning("output journal recovery: %s", out_recovery.message)
        self.counters = Counters(Path(self.cfg["run_dir"]) / "sequencer.counters", SEQUENCER, create=True)
        self._restore_state()
        if self.own_aeron:
            self.aeron = topology.connect(self.cfg)
        self.inbound = topology.inbound_subscriber(self.aeron, self.cfg)
        self.outbound = topology.outbound_publisher(self.aeron, self.cfg)
        self.last_ts = self.journal.last_ts
        log.info("sequencer started at seq %d (state from snapshot seq %d)",
                 self.journal.last_seq, self.restored_from)

    def _restore_state(self):
        out_last = self.out_journal.last_seq
        # Outputs already journaled for the last output seq: regenerated ones skip them.
        already = len(JournalReader(self.out_dir).read(out_last, out_last)) if out_last else 0
        regenerated = 0

        def on_events(batch, events):
            nonlocal regenerated
            if len(events) == 0:
                return
            seqs = records.header(events)["seq"]
            keep = seqs > out_last
            keep[np.flatnonzero(seqs == out_last)[already:]] = True
            if keep.any():
                self.out_journal.append(events[keep])
                regenerated += int(keep.sum())

        if self.journal.last_seq == 0:
            r = restore(self.in_dir, from_snapshot=False)
        else:
            # A snapshot no newer than the output journal, so every missing output is replayed.
            r = restore(self.in_dir, max_snapshot_seq=out_last, on_events=on_events)
        self.logic, self.source_seq, self.restored_from = r.logic, r.source_seq, r.snapshot_seq
        self.inputs_since_snapshot = r.seq - r.snapshot_seq
        if regenerated:
            log.info("regenerated %d output events missing from the output journal", regenerated)
        self.counters.set("last_seq", self.journal.last_seq)

    # --------------------------------------------------------------- duty cycle
    def do_work(self) -> int:
        data = self.inbound.poll()
        self.counters.set("malformed_messages", self.inbound.malformed)
        if len(data) == 0:
            return 0
        t0 = time.perf_counter_ns()
        raw = data.view(records.RAW_COMMAND)
        self.counters.add("inputs_received", len(raw))
        batch, invalid, dups, gaps = admit(raw, self.source_seq)
        if invalid:
            self.counters.add("invalid_dropped", invalid)
        if dups:
            self.counters.add("duplicates_dropped", dups)
        if gaps:
            self.counters.add("gap_dropped", gaps)
        if len(batch):
            self._sequence(batch)
        self.counters.add("busy_ns", time.perf_counter_ns() - t0)
        return len(raw)

    def _sequence(self, batch: np.ndarray):
        hdr = records.header(batch)
        first = self.journal.last_seq + 1
        hdr["seq"] = np.arange(first, first + len(batch), dtype=np.uint64)
        self.last_ts = max(self.clock(), self.last_ts)  # never backwards, even if the host clock is
        hdr["ts"] = self.last_ts
        self.journal.append(batch)
        update_source_seq(self.source_seq, batch)
        events = self.logic.apply(batch, copy=False)  # journaled and published at once
        if len(events):
            self.out_journal.append(events)
            self._publish(events)
        c = self.counters
        c.add("inputs_journaled", len(batch))
        c.add("batches")
        c.set("last_seq", self.journal.last_seq)
        self.inputs_since_snapshot += len(batch)
        due = self.snapshot_every and self.inputs_since_snapshot >= self.snapshot_every
        if due or _asks_for_snapshot(batch):
            self.snapshot()

    def _publish(self, events):
        # The core never waits long on a consumer: outputs are already in the output
        # journal, from which a consumer with no live or no fast reader catches up.
        try:
            self.outbound.publish(events, wait_s=0, backpressure_s=self.backpressure_s)
            self.counters.add("events_out", len(events))
        except NotConnected:
            self.counters.add("outbound_unsent", len(events))
        except BackPressured as e:
            self.counters.add("events_out", len(events) - e.unsent_records)
            self.counters.add("outbound_unsent", e.unsent_records)
            seqs = records.header(events)["seq"]
            log.warning("outbound reader not keeping up: %d events of seqs %d..%d not published live "
                        "(they are in the output journal)", e.unsent_records, seqs[0], seqs[-1])

    # ------------------------------------------------------------------- admin
    def snapshot(self) -> int:
        seq = self.journal.last_seq
        digest = self.logic.state.digest()
        SnapshotStore(self.in_dir).save(seq, snapshot_arrays(self.logic.state, self.source_seq), digest)
        self.inputs_since_snapshot = 0
        self.counters.add("snapshots")
        self.counters.set("last_digest", np.int64(np.uint64(digest)).item())
        log.info("snapshot at seq %d digest %016x", seq, digest)
        return seq

    def on_close(self):
        try:
            if self.inputs_since_snapshot:
                self.snapshot()
        finally:
            self.journal.close(seal=True)
            self.out_journal.close(seal=True)
            if self.own_aeron and self.aeron is not None:
                self.aeron.close()
        log.info("sequencer closed at seq %d", self.journal.last_seq)
