"""A gateway's link to the sequencer: client commands in, reports out.

Every client session has its own source id (configured), and its commands are numbered
with a gapless source seq, so the sequencer journals each one once however often it is
re-sent. At start the link reads the input journal for the last source seq of each of
its sources, so numbering continues where the journal says it stopped (a command the old
process published but the sequencer never journaled is gone with it; the session layer
gets it again from the client, see ``gateways/fix/gateway.py``).

Delivery works as for every producer: commands stay in a per-source outbox until an
output caused by one of them (or a later one) shows they were journaled, and everything
unconfirmed is re-sent, in order, when a new sequencer incarnation appears.

Reports: the output events a gateway's clients care about (ExecReport, CancelReject),
already de-duplicated across a failover by ``OutputCursor``. The gateway keeps its place
in the output stream (``out_seq``) in its own store and catches up from the output
journal after a restart (``catch_up``).
"""

from __future__ import annotations

import asyncio
import logging
import time

import numpy as np

from replicas.consumer import OutputCursor
from sequencer import records as R
from tandem import topology
from tandem.producer import Outbox, resend_unconfirmed
from journal.reader import batches_if_any

log = logging.getLogger(__name__)

# The pump polls the outbound stream from the event loop. Right after work (a command
# submitted, reports delivered) it polls on every turn of the loop, since a report is
# usually a few hundred µs behind its order; after HOT_S without work it polls once every
# IDLE_POLL_S. Event loops count time in milliseconds: uvloop turns a shorter sleep into
# no sleep at all, which kept an idle gateway spinning a whole core.
HOT_S = 0.01
IDLE_POLL_S = 0.001

CLIENT_EVENTS = (R.EXEC_REPORT, R.CANCEL_REJECT)


def last_source_seqs(cfg, sources) -> dict[int, int]:
    """The last journaled source seq of each source id (0 if none)."""
    wanted = np.array(sorted(sources), np.uint32)
    last = dict.fromkeys(wanted.tolist(), 0)
    for batch in batches_if_any(topology.input_journal_dir(cfg)):
        hdr = R.header(batch)
        mine = np.isin(hdr["source_id"], wanted)
        for s, q in zip(hdr["source_id"][mine].tolist(), hdr["source_seq"][mine].tolist()):
            last[s] = max(last[s], q)
    return last


def client_events(events: np.ndarray) -> np.ndarray:
    return events[np.isin(R.header(events)["type"], CLIENT_EVENTS)]


def catch_up(cfg, after_seq: int):
    """Client events of the output journal after ``after_seq``, in batches."""
    for batch in batches_if_any(topology.output_journal_dir(cfg)):
        batch = batch[R.header(batch)["seq"] > after_seq]
        if len(batch):
            yield client_events(batch)


class CoreLink:
    def __init__(self, cfg, aeron, sources, counters=None):
        """``counters``: the gateway's ``Counters`` (counters.GATEWAY), or None."""
        self.cfg, self.aeron, self.counters = cfg, aeron, counters
        self.sources = sorted(sources)
        self.cursor = OutputCursor()
        self.outbox = {s: Outbox() for s in self.sources}
        self.seq: dict[int, int] = {}
        self.incarnations = 0
        self._resend_wanted = False
        self.submitted = 0
        self._last_work = 0.0

    def start(self) -> dict[int, int]:
        """Open the streams (outputs first, so nothing falls between them and the
        journal read) and continue each source's numbering; returns it."""
        self.pub = topology.inbound_publisher(self.aeron, self.cfg)
        self.sub = topology.outbound_subscriber(self.aeron, self.cfg, available_image=self._on_sequencer)
        self.seq = last_source_seqs(self.cfg, self.sources)
        return dict(self.seq)

    def _on_sequencer(self, *image):
        self.incarnations += 1
        self._resend_wanted = self.incarnations > 1
        if self.counters is not None:
            self.counters.add("core_incarnations")

    def submit(self, source_id: int, commands: np.ndarray) -> None:
        """Number and send commands of one session (raw 128-byte records)."""
        if not len(commands):
            return
        h = R.header(commands)
        first = self.seq[source_id] + 1
        h["source_id"] = source_id
        h["source_seq"] = np.arange(first, first + len(commands), dtype=np.uint64)
        self.seq[source_id] += len(commands)
        raw = commands.view(R.RAW_COMMAND)
        self.outbox[source_id].add(raw)
        self.pub.enqueue(raw)
        self.submitted += len(raw)
        self._last_work = time.monotonic()
        if self.counters is not None:
            self.counters.add("commands_published", len(raw))
            self.counters.set("unconfirmed", self.pending)

    def poll(self) -> np.ndarray:
        """New client events (ExecReport / CancelReject) from the outbound stream."""
        got = self.sub.poll().view(R.RAW_EVENT)
        if not len(got):
            return got
        hdr = R.header(got)
        for source, box in self.outbox.items():
            mine = hdr["source_seq"][hdr["source_id"] == source]
            if len(mine):
                box.confirm(int(mine.max()))
        if self.counters is not None:
            self.counters.set("unconfirmed", self.pending)
        return client_events(self.cursor.fresh(got))

    def flush(self) -> int:
        if self._resend_wanted:
            self._resend_wanted = False
            n = resend_unconfirmed(self.pub, self.outbox.values())
            log.warning("new sequencer incarnation: re-sent %d unconfirmed commands", n)
        return self.pub.flush()

    async def pause(self, worked: bool) -> None:
        """The pump's wait before its next poll (see HOT_S)."""
        now = time.monotonic()
        if worked:
            self._last_work = now
        hot = now - self._last_work < HOT_S
        if self.counters is not None and (worked or not hot):
            self.counters.set("core_connected", int(self.pub.is_connected))
        await asyncio.sleep(0 if hot else IDLE_POLL_S)

    @property
    def pending(self) -> int:
        return sum(b.count for b in self.outbox.values())


def wait_connected(link: CoreLink, timeout_s: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while not link.pub.is_connected:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True
