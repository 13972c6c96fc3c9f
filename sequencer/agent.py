"""The sequencer node: poll inbound → de-duplicate → seq + ts → journal → replicate →
await the standby's ack → business logic → outputs. Or, as standby: receive → journal
→ ack → the same business logic, outputs to its own output journal only.

One agent, one thread. A batch is journaled before the business logic sees it, so
the journal alone reproduces every decision. On start it recovers: a torn journal
tail is truncated and reported, state comes from the latest valid snapshot plus a
replay of the journal after it, and outputs that the output journal lacks are
regenerated (they are derived data: deterministic, so identical to what was lost).

Replication state changes are inputs too: the primary journals an epoch when it
starts a journal or is promoted, and a REPLICATION marker when the standby is lost
(new orders are then refused, or, under ``degrade``, accepted and the range marked)
and when one has caught up again. So a replay and the standby decide exactly as the
primary did. See docs/replication.md.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from journal import JournalReader, JournalWriter, SnapshotStore
from journal.truncate import truncate
from replicas.primary import PrimaryLink
from replicas.standby import StandbyLink
from sequencer import records
from sequencer.intake import admit, update_source_seq
from sequencer.replay import LogicParams, restore, snapshot_arrays, write_params
from sequencer.state import S_LAST_SEQ, S_REPL_DOWN_SEQ
from tandem import config as config_mod
from tandem import topology
from tandem.agent import Agent
from tandem.counters import SEQUENCER, Counters
from tandem.transport import BackPressured, NotConnected

log = logging.getLogger(__name__)


def _asks_for_snapshot(batch) -> bool:
    hdr = records.header(batch)
    admin = hdr["type"] == records.ADMIN
    return bool(admin.any()) and bool((batch.view(records.Admin)["action"][admin] == records.ADMIN_SNAPSHOT).any())


POLICIES = {"require_ack": records.POLICY_REJECT_NEW, "degrade": records.POLICY_DEGRADE}
ROLE_CODES = {"stopped": 0, "primary": 1, "standby": 2, "fenced": 3}
ROLE_NAMES = {v: k for k, v in ROLE_CODES.items()}
SNAPSHOT_PAUSE_MS = 3000  # announced to the other node before a snapshot copy


class SequencerAgent(Agent):
    role = "sequencer"

    def __init__(self, cfg, aeron=None, clock=time.time_ns, role: str | None = None):
        self.cfg = cfg
        self.aeron = aeron
        self.own_aeron = aeron is None
        self.clock = clock  # the sequencer's clock: stamped into records, never read by logic
        self.params = LogicParams.from_config(cfg)
        self.snapshot_every = cfg["sequencer"]["snapshot_every"]
        self.backpressure_s = cfg["sequencer"]["outbound_backpressure_ms"] / 1000
        self.timer_ns = int(cfg["sequencer"]["timer_ms"]) * 1_000_000
        self.operator_key = config_mod.operator_key(cfg)
        if self.operator_key is None:
            log.warning("no sequencer.operator_token_file: admin commands are not authenticated")
        self.next_tick = 0
        self.in_dir = topology.input_journal_dir(cfg)
        self.out_dir = topology.output_journal_dir(cfg)
        self.recovery = None
        r = cfg["replication"]
        self.replicated = r["enabled"]
        self.node_id = cfg["node"]["id"]
        self.node_role = (role or r["role"]) if self.replicated else "primary"
        if self.node_role not in ("primary", "standby"):
            raise ValueError(f"replication.role must be primary or standby, not {self.node_role!r}")
        for key in ("policy", "after_promotion"):
            if r[key] not in POLICIES:
                raise ValueError(f"replication.{key} must be one of {sorted(POLICIES)}, not {r[key]!r}")
        self.policy, self.after_promotion = POLICIES[r["policy"]], POLICIES[r["after_promotion"]]
        self.grace_s = r["ack_timeout_ms"] / 1000
        self.resend_margin = r["resend_margin"]
        self.link: PrimaryLink | None = None      # primary side of replication
        self.standby: StandbyLink | None = None   # standby side
        self.inbound = self.outbound = None
        self._saver = None   # the thread writing the last snapshot
        self.done = False    # fenced: the runner stops
        self.fenced = False

    # ---------------------------------------------------------------- start-up
    def on_start(self):
        self._open_journals()
        try:
            write_params(self.in_dir, self.params)
        except ValueError:
            self._close_journals(seal=False)
            raise
        self.counters = Counters(Path(self.cfg["run_dir"]) / "sequencer.counters", SEQUENCER, create=True)
        self._restore_state()
        # Load the compiled kernels now: a first call takes ~0.25 s (more on a busy host),
        # which a standby must not spend while its primary awaits an ack.
        self.logic.apply(records.new_commands(0))
        if self.own_aeron:
            self.aeron = topology.connect(self.cfg)
        self.started = time.monotonic()
        if self.node_role == "primary":
            self._start_primary(new_epoch=1 if self.replicated and self.logic.state.epoch == 0 else 0)
        else:
            self.standby = StandbyLink(self.cfg, self.aeron, self.node_id)
        self._role_counters()
        log.info("%s node %d started at seq %d (state from snapshot seq %d, epoch %d)", self.node_role,
                 self.node_id, self.journal.last_seq, self.restored_from, self.logic.state.epoch)

    def _writer(self, kind: str) -> JournalWriter:
        j = self.cfg["journal"]
        key = Path(j["seal_key_file"]).read_bytes() if j["seal_key_file"] else None
        path, size = (self.in_dir, records.COMMAND_SIZE) if kind == "input" else (self.out_dir, records.EVENT_SIZE)
        w = JournalWriter(path, kind=kind, record_size=size, segment_bytes=j["segment_mb"] << 20,
                          fsync=j["fsync"], index_every=j["index_every"], seal_key=key)
        report = w.open()
        if report.truncated_bytes:
            log.warning("%s journal recovery: %s", kind, report.message)
        if kind == "input":
            self.recovery = report
        return w

    def _open_journals(self):
        self.journal = self._writer("input")
        try:
            self.out_journal = self._writer("output")
        except BaseException:
            self.journal.close(seal=False)
            raise
        self.last_ts = max(getattr(self, "last_ts", 0), self.journal.last_ts)

    def _close_journals(self, seal: bool):
        self.journal.close(seal=seal)
        self.out_journal.close(seal=seal)

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

    def _start_primary(self, new_epoch: int = 0, why: int = 0):
        """Take inputs and publish outputs; with replication, journal ``new_epoch`` first
        (a new journal, or a promotion) and serve a standby."""
        self.inbound = topology.inbound_subscriber(self.aeron, self.cfg)
        self.outbound = topology.outbound_publisher(self.aeron, self.cfg)
        if not self.replicated:
            return
        self.link = PrimaryLink(self.cfg, self.aeron, self.node_id, self.in_dir, self.logic.state.epoch,
                                self._match_point, json.dumps(asdict(self.params)))
        if new_epoch:
            markers = [records.admin_command(records.ADMIN_EPOCH, target_id=self.node_id, v0=new_epoch)]
            if why:
                markers.append(self._down_marker(self.after_promotion, why))
            self._sequence(np.concatenate(markers), internal=True)

    def _match_point(self, standby_epoch: int, standby_last: int) -> int:
        """How much of a joining standby's journal is also ours: all of it up to our end,
        except what it holds past the start of the first epoch it took no part in."""
        state = self.logic.state
        keep = min(standby_last, self.journal.last_seq)
        if standby_epoch < state.epoch:
            first = state.epoch_first_seq(standby_epoch + 1)
            if first:
                keep = min(keep, first - 1)
        if state.replication_down:
            # Nothing from the down marker on was replicated; what a standby holds there is
            # a batch we took back and sequenced again.
            keep = min(keep, int(state.scalars[S_REPL_DOWN_SEQ]) - 1)
        return keep

    # ---------------------------------------------------------------- markers
    def _down_marker(self, policy: int, why: int) -> np.ndarray:
        return records.admin_command(records.ADMIN_REPLICATION, v0=records.REPLICATION_DOWN, v1=policy,
                                     v2=self.journal.last_seq + 1, scope=why)

    def _replication_markers(self):
        """Journal what changed in the link since the last duty cycle."""
        link, state = self.link, self.logic.state
        for seq, theirs, ours in link.diverged:
            as_i8 = lambda d: int(np.uint64(d).view(np.int64))  # a u8 digest in an i8 field, bit for bit
            self._sequence(records.admin_command(records.ADMIN_STANDBY_DIVERGED, target_id=link.standby,
                                                 v0=seq, v1=as_i8(theirs), v2=as_i8(ours)), internal=True)
        link.diverged.clear()
        if link.live and state.replication_down:
            self._sequence(records.admin_command(records.ADMIN_REPLICATION, v0=records.REPLICATION_UP,
                                                 scope=records.WHY_CAUGHT_UP), internal=True)
        elif not link.live and not state.replication_down and time.monotonic() - self.started > self.grace_s:
            why = records.WHY_ACK_TIMEOUT if link.ever_live else records.WHY_NO_STANDBY
            self._sequence(self._down_marker(self.policy, why), internal=True)

    # --------------------------------------------------------------- duty cycle
    def do_work(self) -> int:
        if self.done:
            return 0
        if self.standby is not None:
            return self._standby_work()
        work = 0
        if self.link is not None:
            work += self.link.poll(self.journal.last_seq, int(self.logic.state.scalars[S_LAST_SEQ]))
            if self.link.fenced_by:
                self._fence()
                return work
            self._replication_markers()
            if work:
                self._role_counters()
        work += self._tick()
        data = self.inbound.poll()
        self.counters.set("malformed_messages", self.inbound.malformed)
        if len(data) == 0:
            return work
        t0 = time.perf_counter_ns()
        raw = data.view(records.RAW_COMMAND)
        self.counters.add("inputs_received", len(raw))
        batch, invalid, dups, gaps = admit(raw, self.source_seq, self.operator_key)
        if invalid:
            self.counters.add("invalid_dropped", invalid)
        if dups:
            self.counters.add("duplicates_dropped", dups)
        if gaps:
            self.counters.add("gap_dropped", gaps)
        if len(batch):
            self._sequence(batch)
        self.counters.add("busy_ns", time.perf_counter_ns() - t0)
        return work + len(raw)

    def _tick(self) -> int:
        """A Timer tick every ``timer_ms`` on the primary, journaled like any input: the
        algos' slices and the margin sweep run on it, so a replay or the standby sees
        the same ticks at the same seqs. The standby gets them by replication."""
        if not self.timer_ns:
            return 0
        now = self.clock()
        if now < self.next_tick:
            return 0
        self.next_tick = now + self.timer_ns
        tick = records.new_commands(1)
        t = tick.view(records.Timer)
        t["type"], t["version"], t["kind"], t["param"] = records.TIMER, 1, records.TIMER_TICK, self.timer_ns
        self._sequence(tick, internal=True)
        return 1

    def _sequence(self, batch: np.ndarray, internal: bool = False):
        link = self.link
        if link is not None and not internal and not link.live and not self.logic.state.replication_down:
            why = records.WHY_ACK_TIMEOUT if link.ever_live else records.WHY_NO_STANDBY
            batch = np.concatenate([self._down_marker(self.policy, why), batch])
        self._stamp(batch)
        self.journal.append(batch)
        update_source_seq(self.source_seq, batch)
        if link is not None and link.live:
            acked = link.send_live(batch) and link.await_ack(self.journal.last_seq)
            if link.fenced_by:
                return  # journaled, never processed: a rejoin as standby cuts it off
            if not acked:
                batch = self._resequence_after_down(batch)
        self._process(batch)
        c = self.counters
        c.add("inputs_journaled", len(batch))
        c.add("batches")
        c.set("last_seq", self.journal.last_seq)

    def _resequence_after_down(self, batch: np.ndarray) -> np.ndarray:
        """The standby did not ack ``batch``: nobody has seen it processed, so take it back
        out of the journal (kept in truncated-<seq>.bin) and sequence it again behind a
        REPLICATION DOWN marker, so the policy applies to it too: under require_ack no new
        order is accepted without a second copy. A standby that did journal the first
        version is cut back to before the marker when it rejoins (see _match_point)."""
        hdr = records.header(batch)
        first = int(hdr["seq"][0])
        self._snapshot_written()
        self.journal.close(seal=False)
        truncate(self.in_dir, first - 1)
        self.journal = self._writer("input")
        numbered = hdr["source_seq"] > 0
        for source in np.unique(hdr["source_id"][numbered]).tolist():  # de-duplication table back too
            mine = numbered & (hdr["source_id"] == source)
            self.source_seq[source] = hdr["source_seq"][mine].min() - 1
        admin = batch.view(records.Admin)
        # An UP marker in the batch never took effect; the new DOWN marker supersedes it.
        keep = ~((hdr["type"] == records.ADMIN) & (admin["action"] == records.ADMIN_REPLICATION))
        again = np.concatenate([self._down_marker(self.policy, records.WHY_ACK_TIMEOUT), batch[keep]])
        self._stamp(again)
        self.journal.append(again)
        update_source_seq(self.source_seq, again)
        log.error("replication lost: seq %d..%d sequenced again after a REPLICATION DOWN marker",
                  first, self.journal.last_seq)
        return again

    def _stamp(self, batch: np.ndarray):
        hdr = records.header(batch)
        first = self.journal.last_seq + 1
        hdr["seq"] = np.arange(first, first + len(batch), dtype=np.uint64)
        self.last_ts = max(self.clock(), self.last_ts)  # never backwards, even if the host clock is
        hdr["ts"] = self.last_ts

    def _process(self, batch: np.ndarray):
        """Business logic on journaled (and, replicated, acknowledged) inputs; outputs."""
        events = self.logic.apply(batch, copy=False)  # journaled and published at once
        if self.link is not None:
            self.link.epoch = self.logic.state.epoch
            self.link.send_digests(events)
        if len(events):
            self.out_journal.append(events)
            if self.standby is None:
                self._publish(events)
            else:
                self.standby.check_digests(events)  # a standby's outputs stay in its output journal
        self.counters.set("processed_seq", int(self.logic.state.scalars[S_LAST_SEQ]))
        self.inputs_since_snapshot += len(batch)
        due = self.snapshot_every and self.inputs_since_snapshot >= self.snapshot_every
        if due or _asks_for_snapshot(batch):
            self.snapshot()
        self._role_counters()

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

    # ---------------------------------------------------------------- standby
    def _standby_work(self) -> int:
        sb = self.standby
        sb.epoch = self.logic.state.epoch
        slices = sb.poll(self.journal.last_seq)
        start = sb.take_start()
        if start is not None:
            self._join(*start)
        if slices:
            # One append and one ack for all that arrived, before the kernels run: the
            # primary waits on the ack, not on our business logic.
            self._follow(slices[0] if len(slices) == 1 else np.concatenate(slices))
        if sb.promote_reason:
            self._promote(sb.promote_reason)
        elif start is not None:
            self._role_counters()
        return sum(len(r) for r in slices) + (start is not None)

    def _join(self, keep: int, params: bytes):
        theirs = LogicParams(**json.loads(params))
        if theirs != self.params:
            raise RuntimeError(f"the primary's journal has logic parameters {asdict(theirs)}, this node "
                               f"{asdict(self.params)}: a standby must be configured like its primary")
        if keep < self.journal.last_seq:
            self._snapshot_written()
            log.warning("this journal holds seq %d..%d that the primary does not: cutting them off "
                        "(kept in truncated-%d.bin)", keep + 1, self.journal.last_seq, keep)
            self._close_journals(seal=False)
            truncate(self.in_dir, keep)
            truncate(self.out_dir, keep)
            self._open_journals()
            self._restore_state()
            self.counters.add("truncated_records", 1)
        self.standby.ack(self.journal.last_seq)

    def _follow(self, recs: np.ndarray):
        """Records from the primary, stamped by it: journal, ack, then the same kernels."""
        self.journal.append(recs)
        self.standby.ack(self.journal.last_seq)
        update_source_seq(self.source_seq, recs)
        self._process(recs)
        self.counters.add("inputs_journaled", len(recs))
        self.counters.set("last_seq", self.journal.last_seq)

    def _promote(self, reason: str):
        sb = self.standby
        epoch = max(self.logic.state.epoch, sb.following) + 1
        resend_from = max(0, sb.primary_processed - self.resend_margin)
        log.warning("PROMOTING node %d to primary of epoch %d (%s) at seq %d", self.node_id, epoch, reason,
                    self.journal.last_seq)
        sb.close()
        self.standby = None
        self.node_role = "primary"
        self.started = time.monotonic()
        self._start_primary(new_epoch=epoch, why=records.WHY_PROMOTED)
        self.counters.set("promoted_at_ns", time.time_ns())
        self._resend_outputs(resend_from)
        self._role_counters()

    def _resend_outputs(self, after_seq: int):
        """Outputs the old primary may not have delivered; consumers drop what they had."""
        n = 0
        for events in JournalReader(self.out_dir).iter_batches(from_seq=after_seq + 1):
            try:
                # A consumer connects to the new publication within milliseconds; with none at
                # all there is no one to re-send to, and the new primary must not wait long.
                self.outbound.publish(events, wait_s=0.25, backpressure_s=self.backpressure_s)
                n += len(events)
            except (NotConnected, BackPressured) as e:
                log.warning("re-sending outputs after promotion stopped: %s (consumers catch up from "
                            "the output journal)", e)
                break
        self.counters.add("outputs_resent", n)
        log.info("re-sent %d output events of seqs after %d", n, after_seq)

    def _fence(self):
        self.fenced = self.done = True
        self.counters.set("fenced_by", self.link.fenced_by)
        self._role_counters()
        log.critical("node %d is fenced by epoch %d: it stops; restart it as standby to rejoin",
                     self.node_id, self.link.fenced_by)

    def _role_counters(self):
        c = self.counters
        c.set("role", ROLE_CODES["fenced" if self.fenced else self.node_role])
        c.set("epoch", self.logic.state.epoch)
        c.set("replication_down", int(self.logic.state.replication_down))
        if self.link is not None:
            c.set("standby_node", self.link.standby)
            c.set("standby_acked", self.link.acked)
            c.set("replication_live", int(self.link.live))
            c.set("catchup_records", self.link.catchup_records)
        if self.standby is not None:
            c.set("diverged_at", self.standby.diverged_at)
            c.set("digests_compared", self.standby.digests_compared)
            c.set("following_epoch", self.standby.following)

    # ------------------------------------------------------------------- admin
    def snapshot(self) -> int:
        """Copy the state now; encode and store it on a thread. Encoding and writing
        hundreds of MB takes long enough that a standby waiting on it would miss its
        ack deadline, and a primary would stall its clients."""
        seq = int(self.logic.state.scalars[S_LAST_SEQ])
        # The copy below stops this duty cycle for a while (~0.2 s per 100 MB, more on a busy
        # host): the other node must not take the silence for a failure.
        if self.link is not None:
            self.link.announce_pause(SNAPSHOT_PAUSE_MS)
        if self.standby is not None:
            self.standby.announce_pause(SNAPSHOT_PAUSE_MS, self.journal.last_seq)
        digest = self.logic.state.digest()
        arrays = {k: v.copy() for k, v in snapshot_arrays(self.logic.state, self.source_seq).items()}
        self._snapshot_written()  # one save at a time
        self._saver = threading.Thread(target=self._save_snapshot, args=(seq, arrays, digest),
                                       name="snapshot-writer", daemon=True)
        self._saver.start()
        self.inputs_since_snapshot = 0
        self.counters.set("last_digest", np.int64(np.uint64(digest)).item())
        return seq

    def _save_snapshot(self, seq, arrays, digest):
        try:
            with SnapshotStore(self.in_dir) as store:
                store.save(seq, arrays, digest)
            self.counters.add("snapshots")
            log.info("snapshot at seq %d digest %016x", seq, digest)
        except Exception:  # a lost snapshot costs replay time at start-up, never correctness
            log.exception("snapshot at seq %d failed", seq)

    def _snapshot_written(self):
        if self._saver is not None:
            self._saver.join()
            self._saver = None

    def on_close(self):
        try:
            if self.inputs_since_snapshot and not self.fenced:
                self.snapshot()
            self._snapshot_written()
        finally:
            self._close_journals(seal=True)
            for x in (self.link, self.standby):
                if x is not None:
                    x.close()
            if self.own_aeron and self.aeron is not None:
                self.aeron.close()
        if not self.fenced:
            self.counters.set("role", ROLE_CODES["stopped"])  # journals closed: a new process may open them
        log.info("sequencer closed at seq %d", self.journal.last_seq)
