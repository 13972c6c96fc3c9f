"""The venue adapter agent: one venue order-entry session between the core and a venue.

Duty cycle: VenueOrder / VenueCancel events for this venue from the outbound stream go
to the venue (``OuchSession`` or ``FixSession`` adapters, same interface); the venue's
answers come back as records published on the inbound stream, numbered by this
adapter's source id and gapless source seq, so the sequencer journals each once.

Restart: ``recover`` reads this venue's requests from the output journal and this
adapter's records from the input journal, in journal order, into ``SessionState``; the
session then logs in from the venue sequence number after the last journaled record,
so the venue replays whatever was lost with the old process, and every request the
venue has not answered is sent again (the venue drops what it already has). The
outbound subscription is opened before the journal is read, so events published in
between arrive live and the cursor drops the ones the journal already gave.

Delivery to the sequencer works as for every producer: the records stay in an outbox
until an output caused by one of them (or a later one) shows they were journaled, and
everything unconfirmed is re-sent when a new sequencer incarnation appears.
"""

from __future__ import annotations

import logging
import time

import numpy as np

from journal.reader import batches_if_any
from replicas.consumer import OutputCursor
from sequencer import records as R
from tandem import topology
from tandem.agent import Agent
from tandem.producer import Outbox, resend_unconfirmed
from venues.session_state import SessionState, venue_records

log = logging.getLogger(__name__)


def recover(state: SessionState, cfg) -> tuple[int, list[bytes]]:
    """Rebuild ``state`` from the journals; returns (last output seq read, the events at
    that seq) to seed the live stream's duplicate filter."""
    answers = [venue_records(b, state.source_id) for b in batches_if_any(topology.input_journal_dir(cfg))]
    answers = np.concatenate(answers) if answers else np.empty(0, R.RAW_COMMAND)
    requests, last_seq, at_last = [], 0, []
    for batch in batches_if_any(topology.output_journal_dir(cfg)):
        hdr = R.header(batch)
        if len(batch):
            top = int(hdr["seq"][-1])
            if top != last_seq:
                at_last = []
            last_seq = top
            at_last += [e.tobytes() for e in batch[hdr["seq"] == top]]
        requests.append(_mine(batch, state.venue_id))
    requests = np.concatenate(requests) if requests else np.empty(0, R.RAW_EVENT)
    # Journal order: an answer journaled at seq s comes before the requests it caused
    # (their events carry seq s); an answer can only follow the requests it answers.
    a_seq, q_seq = R.header(answers)["seq"], R.header(requests)["seq"]
    order = np.lexsort((np.r_[np.zeros(len(a_seq)), np.ones(len(q_seq))], np.r_[a_seq, q_seq]))
    na = len(answers)
    av, qv = answers.view(R.COMMAND_HEADER), requests.view(R.EVENT_HEADER)
    for i in order.tolist():
        if i < na:
            dtype = R.COMMAND_DTYPES[int(av[i]["type"])]
            state.apply(answers[i:i + 1].view(dtype).copy())
        else:
            j = i - na
            state.request(requests[j:j + 1].view(R.EVENT_DTYPES[int(qv[j]["type"])])[0])
    log.info("recovered venue %d session: %d records of source %d (last venue seq %d), %d requests, "
             "%d unanswered", state.venue_id, na, state.source_id, state.venue_seq, len(requests),
             len(state.unanswered()))
    return last_seq, at_last


def _mine(events: np.ndarray, venue_id: int) -> np.ndarray:
    """VenueOrder / VenueCancel events of one venue."""
    t = R.header(events)["type"]
    mine = ((t == R.VENUE_ORDER) & (events.view(R.VenueOrder)["venue_id"] == venue_id)) | \
           ((t == R.VENUE_CANCEL) & (events.view(R.VenueCancel)["venue_id"] == venue_id))
    return events[mine]


class VenueAdapterAgent(Agent):
    role = "venue-adapter"

    def __init__(self, cfg, session, aeron=None, reconnect_s: float = 1.0, resend_after_s: float = 10.0):
        self.cfg, self.session, self.state = cfg, session, session.state
        self.aeron, self.own_aeron = aeron, aeron is None
        self.reconnect_s, self.resend_after_s = reconnect_s, resend_after_s
        self.cursor = OutputCursor()
        self.outbox = Outbox()
        self.incarnations = 0
        self._resend_wanted = False
        self.next_connect = 0.0
        self.last_confirmed = time.monotonic()
        self.published = 0
        self.requests_sent = 0
        self.reconnects = 0
        self.forget_every_s = 5.0
        self.next_forget = 0.0

    def on_start(self):
        if self.own_aeron:
            self.aeron = topology.connect(self.cfg)
        self.pub = topology.inbound_publisher(self.aeron, self.cfg)
        self.sub = topology.outbound_subscriber(self.aeron, self.cfg, available_image=self._on_sequencer)
        self.cursor.seq, at_last = recover(self.state, self.cfg)
        self.cursor._at_seq = set(at_last)

    def _on_sequencer(self, *image):
        self.incarnations += 1
        self._resend_wanted = self.incarnations > 1

    def _connect(self) -> int:
        now = time.monotonic()
        if now < self.next_connect:
            return 0
        self.next_connect = now + self.reconnect_s
        try:
            self.session.connect()
        except (OSError, ConnectionError) as e:
            log.warning("venue %d: cannot log in (%s); retrying in %.1fs", self.state.venue_id, e, self.reconnect_s)
            return 0
        self.reconnects += 1
        again = self.state.unanswered()
        if again:
            log.info("venue %d: re-sending %d unanswered requests", self.state.venue_id, len(again))
            self._send(again)
        return 1

    def _send(self, requests) -> None:
        try:
            self.session.send(requests)
            self.requests_sent += len(requests)
        except (OSError, ConnectionError) as e:  # kept as unanswered: re-sent after the reconnect
            log.warning("venue %d: send failed (%s)", self.state.venue_id, e)

    def do_work(self) -> int:
        work = 0
        received = self.sub.poll().view(R.RAW_EVENT)
        if len(received):
            work += len(received)
            self._confirm(received)
            fresh = _mine(self.cursor.fresh(received), self.state.venue_id)
            reqs = []
            for i in range(len(fresh)):
                ev = fresh[i:i + 1].view(R.EVENT_DTYPES[int(R.header(fresh[i:i + 1])["type"][0])])[0]
                req = self.state.request(ev)
                if req is not None:
                    reqs.append(req)
            if reqs and self.session.connected:  # else they wait as unanswered for the login
                self._send(reqs)
        if not self.session.connected:
            work += self._connect()
        if self.session.connected:
            try:
                recs = self.session.poll()
            except (OSError, ConnectionError) as e:
                log.warning("venue %d session lost: %s", self.state.venue_id, e)
                recs = []
            if recs:
                batch = np.concatenate([r.view(R.RAW_COMMAND) for r in recs])
                self.outbox.add(batch)
                self.pub.enqueue(batch)
                self.published += len(batch)
                work += len(batch)
        stalled = self.outbox.count and time.monotonic() - self.last_confirmed > self.resend_after_s
        if self._resend_wanted or stalled:
            self._resend_wanted = False
            self.last_confirmed = time.monotonic()
            n = resend_unconfirmed(self.pub, [self.outbox])
            log.info("venue %d: re-sent %d unconfirmed records", self.state.venue_id, n)
        work += self.pub.flush()
        if time.monotonic() > self.next_forget:
            self.next_forget = time.monotonic() + self.forget_every_s
            self.state.forget_done()
        return work

    def _confirm(self, events) -> None:
        hdr = R.header(events)
        mine = hdr["source_seq"][hdr["source_id"] == self.state.source_id]
        if len(mine):
            self.outbox.confirm(int(mine.max()))
            self.last_confirmed = time.monotonic()

    def on_close(self):
        try:
            self.session.close()
        except OSError:
            pass
        if self.own_aeron and self.aeron is not None:
            self.aeron.close()
