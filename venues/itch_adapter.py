"""The ITCH 5.0 / MoldUDP64 feed adapter: a venue's market data into MarketData records.

Packets arrive on a UDP port; ``GapTracker`` puts them in sequence order, and missing
ranges are asked for on the venue's retransmission port (MoldUDP64 request packets, at
most ``MAX_REQUEST`` messages each, repeated every ``request_every_s`` while the gap
lasts). In-order messages go through the Numba batch decoder; only what the book
consumes becomes a record (add, executed, cancel, delete, replace, trade, cross), each
carrying its MoldUDP64 sequence number as ``venue_seq`` and this adapter's gapless
``source_seq``.

Restart: the adapter always reads the day from message 1, because the Stock Directory
messages that map stock locates to symbols are at the start of the day and are not
journaled (the core does not consume them); records up to the last ``venue_seq``
journaled from this source are decoded but not published again, so nothing is lost
and nothing is sequenced twice.

Market data causes no outputs, so nothing confirms it: the last ``keep`` records are
kept and re-sent when a new sequencer incarnation appears (the sequencer drops what it
already has by source seq).
"""

from __future__ import annotations

import logging
import socket
import time
from collections import deque

import numpy as np

from sequencer import records as R
from tandem import topology
from tandem.agent import Agent
from journal.reader import batches_if_any
from venues.protocols import itch50 as I
from venues.protocols import moldudp64 as mold

log = logging.getLogger(__name__)

MAX_REQUEST = 1000   # the simulator's retransmission limit per request


def last_journaled(cfg, source_id: int) -> tuple[int, int]:
    """(last source seq, its venue seq) of MarketData from ``source_id`` in the input journal."""
    last = (0, 0)
    for batch in batches_if_any(topology.input_journal_dir(cfg)):
        hdr = R.header(batch)
        mine = np.flatnonzero((hdr["source_id"] == source_id) & (hdr["type"] == R.MARKET_DATA))
        if len(mine):
            md = batch[mine[-1:]].view(R.MarketData)
            last = (int(md["source_seq"][0]), int(md["venue_seq"][0]))
    return last


class ItchFeedAdapter(Agent):
    role = "feed-adapter"

    def __init__(self, cfg, venue_id: int, source_id: int, symbols: dict[str, int],
                 listen: tuple[str, int], retransmit: tuple[str, int], aeron=None,
                 request_every_s: float = 0.05, keep: int = 1 << 18):
        self.cfg, self.venue_id, self.source_id = cfg, venue_id, source_id
        self.keys = I.SymbolKeys.from_mapping(symbols)
        self.locate = I.new_locate_table()
        self.retransmit = retransmit
        self.aeron, self.own_aeron = aeron, aeron is None
        self.request_every_s = request_every_s
        self.tracker = mold.GapTracker()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        self.sock.bind(listen)
        self.sock.setblocking(False)
        self.port = self.sock.getsockname()[1]
        self.recent: deque[np.ndarray] = deque()
        self.recent_count, self.keep = 0, keep
        self.source_seq = self.skip_upto = 0
        self.published = self.requests_sent = self.bad_packets = self.unmapped = 0
        self.next_request = 0.0
        self.incarnations = 0
        self._resend_wanted = False

    def on_start(self):
        if self.own_aeron:
            self.aeron = topology.connect(self.cfg)
        self.pub = topology.inbound_publisher(self.aeron, self.cfg)
        # Only to notice a new sequencer incarnation (the feed reads no outputs).
        self.sub = topology.outbound_subscriber(self.aeron, self.cfg, batch_max=1024,
                                                available_image=self._on_sequencer)
        self.source_seq, self.skip_upto = last_journaled(self.cfg, self.source_id)
        if self.skip_upto:
            log.info("feed of venue %d resumes after message %d (source seq %d)",
                     self.venue_id, self.skip_upto, self.source_seq)

    def _on_sequencer(self, *image):
        self.incarnations += 1
        self._resend_wanted = self.incarnations > 1

    def do_work(self) -> int:
        work = 0
        self.sub.poll()
        first, messages = self.tracker.next_seq, []
        for _ in range(256):
            try:
                data = self.sock.recv(65536)
            except BlockingIOError:
                break
            work += 1
            try:
                messages += self.tracker.feed(data)
            except mold.MoldError as e:
                self.bad_packets += 1
                log.warning("feed of venue %d: dropped a malformed MoldUDP64 packet: %s", self.venue_id, e)
        if messages:
            self._decode(messages, first)
        now = time.monotonic()
        if now >= self.next_request and self.tracker.session is not None:
            gaps = self.tracker.missing(limit=4)
            for s, n in gaps:
                self.sock.sendto(mold.encode_request(self.tracker.session, s, min(n, MAX_REQUEST)), self.retransmit)
                self.requests_sent += 1
            self.next_request = now + self.request_every_s
        if self._resend_wanted:
            self._resend_wanted = False
            self.pub.drop_pending()
            for b in self.recent:
                self.pub.enqueue(b)
            log.info("feed of venue %d: re-sent the last %d records to the new sequencer",
                     self.venue_id, self.recent_count)
        work += self.pub.flush()
        return work

    def _decode(self, messages: list[bytes], first_seq: int) -> None:
        try:
            res = I.decode_batch(messages, self.locate, self.keys, venue_id=self.venue_id,
                                 source_id=self.source_id, first_seq=first_seq)
        except I.ItchError as e:  # nothing of the batch is published; the venue's feed is broken
            self.bad_packets += 1
            log.error("feed of venue %d: messages %d..%d are not valid ITCH 5.0: %s",
                      self.venue_id, first_seq, first_seq + len(messages) - 1, e)
            return
        self.unmapped += res.unmapped
        # Filtered as raw bytes: numpy's copy of a structured dtype with gaps may leave
        # the gaps uninitialised, and those bytes would be journaled.
        raw = res.records.view(R.RAW_COMMAND)[res.records["venue_seq"] > self.skip_upto]
        if not len(raw):
            return
        md = raw.view(R.MarketData)
        md["source_seq"] = np.arange(self.source_seq + 1, self.source_seq + 1 + len(md), dtype=np.uint64)
        self.source_seq += len(md)
        self.pub.enqueue(raw)
        self.published += len(raw)
        self.recent.append(raw)
        self.recent_count += len(raw)
        while self.recent_count - len(self.recent[0]) >= self.keep:
            self.recent_count -= len(self.recent.popleft())

    def on_close(self):
        self.sock.close()
        if self.own_aeron and self.aeron is not None:
            self.aeron.close()
