"""A seeded synthetic producer: client order flow plus a stand-in venue.

It stands in for gateways and venue adapters until those exist: client commands go
to the sequencer as source ``source_id``; VenueOrder/VenueCancel events coming back
are answered with acks, fills and cancel confirmations as source ``source_id + 1``;
its own Admin records (reference data, the final digest request) are source
``source_id + 2``.

Delivery: every command carries (source id, source seq), and the sequencer admits
only each source's next number (go-back-N). The producer keeps what the sequencer
has not yet confirmed (an output caused by a later command of the same source
confirms everything before it) and re-sends all of it, in order, when a new
sequencer incarnation appears on the outbound stream or confirmations stall; the
sequencer drops what it already journaled. The unconfirmed window is bounded, which
is also the flow control.
"""

from __future__ import annotations

import logging
import time
from collections import deque

import numpy as np

from replicas.consumer import OutputCursor
from sequencer import records
from sequencer.workload import TRADING_MIX, FlowGenerator, reference_data
from tandem import config as config_mod
from tandem import topology
from tandem.agent import Agent

log = logging.getLogger(__name__)


class Outbox:
    """Sent-but-unconfirmed records of one source, oldest first."""

    def __init__(self):
        self.batches: deque[np.ndarray] = deque()
        self.count = 0

    def add(self, batch):
        self.batches.append(batch)
        self.count += len(batch)

    def confirm(self, upto_source_seq: int):
        while self.batches:
            b = self.batches[0]
            seqs = records.header(b)["source_seq"]
            if seqs[-1] <= upto_source_seq:
                self.batches.popleft()
                self.count -= len(b)
            elif seqs[0] <= upto_source_seq:
                keep = b[seqs > upto_source_seq]
                self.count -= len(b) - len(keep)
                self.batches[0] = keep
                break
            else:
                break

    def all(self):
        return list(self.batches)


def resend_unconfirmed(pub, boxes) -> int:
    """Queue again everything the outboxes hold, each source in order, in place of what
    was queued (it is in the outboxes too): what a new sequencer incarnation may lack.
    Returns the records queued; the sequencer drops what it already has."""
    pub.drop_pending()
    n = 0
    for box in boxes:
        for b in box.all():
            pub.enqueue(b)
            n += len(b)
    return n


class ProducerAgent(Agent):
    role = "producer"

    def __init__(self, cfg, commands, seed=7, clients=64, symbols=256, source_id=1,
                 chunk=2048, window=262_144, aeron=None, mix=TRADING_MIX, kill_at_end=True):
        self.cfg = cfg
        self.commands = commands
        self.chunk = chunk
        self.window = window
        self.aeron = aeron
        self.own_aeron = aeron is None
        self.client_source = source_id
        self.venue_source = source_id + 1
        self.admin_source = source_id + 2
        self.md_source = source_id + 3  # the venues' ITCH feeds: unnumbered, never re-sent
        self.admin_seq = 0
        self.operator_key = config_mod.operator_key(cfg)  # reference data and the kill are operator commands
        self.n_clients, self.n_symbols = clients, symbols
        self.mix = mix
        self.gen = FlowGenerator(seed=seed, n_clients=clients, n_symbols=symbols, mix=mix,
                                 client_source=self.client_source, venue_source=self.venue_source,
                                 md_source=self.md_source)
        # At the end of the flow the operator pulls the kill switch on symbol 1 with a
        # cancel-all (the venue answers the cancels), then asks for the final digest.
        self.kill_sent = not kill_at_end
        self.sent = 0            # client commands sent (reference data excluded)
        self.venue_sent = 0
        self.feed_sent = 0
        self.digest_requested = False
        self.final_digest = None
        self.final_seq = None
        self.events_seen = 0
        self.resends = 0
        self.incarnations = 0
        self.cursor = OutputCursor()  # a new primary re-sends recent outputs: seen once only
        self.outbox = {s: Outbox() for s in (self.client_source, self.venue_source, self.admin_source)}
        self._resend_wanted = False
        self.last_activity = time.monotonic()
        self.last_confirmed = time.monotonic()
        self.resend_after_s = 2.0
        self.done = False

    def on_start(self):
        if self.own_aeron:
            self.aeron = topology.connect(self.cfg)
        self.pub = topology.inbound_publisher(self.aeron, self.cfg)
        # A new image on the outbound stream is a new sequencer incarnation.
        self.sub = topology.outbound_subscriber(self.aeron, self.cfg, available_image=self._on_sequencer)
        self.t0 = time.perf_counter()
        self._send(self._admin(reference_data(self.n_clients, self.n_symbols, self.mix.venues)), self.admin_source)

    def _admin(self, raw):
        h = records.header(raw)
        h["source_id"] = self.admin_source
        h["source_seq"] = np.arange(self.admin_seq + 1, self.admin_seq + 1 + len(raw))
        self.admin_seq += len(raw)
        return records.sign_admin(raw, self.operator_key)

    def _digest_request(self):
        raw = records.new_commands(1)
        a = raw.view(records.Admin)
        a["type"], a["version"], a["action"] = records.ADMIN, 1, records.ADMIN_DIGEST
        return self._admin(raw)

    def _on_sequencer(self, *image):
        self.incarnations += 1
        self._resend_wanted = self.incarnations > 1

    def _send(self, batch, source):
        self.outbox[source].add(batch)
        self.pub.enqueue(batch)

    def do_work(self) -> int:
        work = 0
        stalled = (self.outbox[self.client_source].count or self.outbox[self.venue_source].count) \
            and not self.pub.pending and time.monotonic() - self.last_confirmed > self.resend_after_s
        if self._resend_wanted or stalled:
            why = "new sequencer incarnation" if self._resend_wanted else "no confirmation"
            self._resend_wanted = False
            self.last_confirmed = time.monotonic()
            n = resend_unconfirmed(self.pub, self.outbox.values())
            self.resends += n
            log.warning("%s: re-sending %d unconfirmed commands", why, n)
        work += self.pub.flush()
        received = self.sub.poll().view(records.RAW_EVENT)
        if len(received):
            work += len(received)
            self.events_seen += len(received)
            # Confirmation is idempotent, so re-sent outputs confirm too: a live stream may
            # have skipped events (a reader not keeping up), and a new primary's re-sent
            # range then holds the only copy this producer sees.
            self._confirm(received)
            events = self.cursor.fresh(received)
            # After the final digest request the stand-in venue falls silent, so that
            # request stays the journal's last input.
            replies = self.gen.venue_responses(events) if not self.digest_requested else events[:0]
            if len(replies):
                self._send(replies, self.venue_source)
                self.venue_sent += len(replies)
            feed = self.gen.take_feed()
            if len(feed) and not self.digest_requested:
                self.pub.enqueue(feed)
                self.feed_sent += len(feed)
            self._check_digest(events)
        unconfirmed = sum(o.count for o in self.outbox.values())
        if self.sent < self.commands and unconfirmed < self.window and self.pub.pending_records < 4 * self.chunk:
            n = min(self.chunk, self.commands - self.sent)
            self.gen.now = time.time_ns()  # algo windows start now (the sequencer stamps this clock too)
            self._send(self.gen.next_client_batch(n), self.client_source)
            self.sent += n
            work += n
        elif self.sent >= self.commands and not self.kill_sent and not self.pub.pending and self._quiescent():
            self._send(self._admin(records.admin_command(records.ADMIN_KILL, target_id=1, v0=1, v1=1,
                                                         scope=records.KILL_SYMBOL, operator="demo")),
                       self.admin_source)
            self.kill_sent = True
            self.last_activity = time.monotonic()
        elif (self.sent >= self.commands and not self.digest_requested and not self.pub.pending
              and self._quiescent()):
            # Last of all, so the digest it answers is the state at the journal's final seq.
            self._send(self._digest_request(), self.admin_source)
            self.digest_requested = True
        if work:
            self.last_activity = time.monotonic()
        return work

    def _quiescent(self) -> bool:
        """Nothing of ours awaits processing: every command confirmed by an output (or, for
        trailing commands that cause none, no traffic for a while) and no venue reply due."""
        idle = time.monotonic() - self.last_activity
        confirmed = not self.outbox[self.client_source].count and not self.outbox[self.venue_source].count
        return idle > 0.2 if confirmed else idle > 2.0

    def _confirm(self, events):
        hdr = records.header(events)
        for source, box in self.outbox.items():
            mine = hdr["source_seq"][hdr["source_id"] == source]
            if len(mine):
                box.confirm(int(mine.max()))
                self.last_confirmed = time.monotonic()

    def _check_digest(self, events):
        hdr = records.header(events)
        idx = np.flatnonzero(hdr["type"] == records.STATE_DIGEST)
        if len(idx) and self.digest_requested:
            d = events.view(records.StateDigest)[idx]
            on_demand = d[d["reason"] == records.DIGEST_ON_DEMAND]
            if len(on_demand):
                self.final_digest = int(on_demand["digest"][-1])
                self.final_seq = int(on_demand["seq"][-1])
                self.done = True
                self.seconds = time.perf_counter() - self.t0

    def result(self) -> dict:
        return {
            "client_commands": self.sent, "venue_commands": self.venue_sent, "feed_messages": self.feed_sent,
            "events_seen": self.events_seen, "resent": self.resends,
            "final_seq": self.final_seq,
            "digest": None if self.final_digest is None else f"{self.final_digest:016x}",
            "seconds": round(getattr(self, "seconds", time.perf_counter() - self.t0), 3),
        }

    def on_close(self):
        if self.own_aeron and self.aeron is not None:
            self.aeron.close()
