"""The simulator's market data: ITCH 5.0 messages over MoldUDP64 on UDP, with a
retransmission port.

Messages are numbered from 1 for the session and packed into downstream packets up to
``MAX_PACKET`` bytes (an Ethernet MTU less IP/UDP headers); a heartbeat goes out after
``heartbeat_s`` without data, and End of Session when the feed closes. Every message is
kept for the day, so a receiver that sees a gap sends a MoldUDP64 request packet to the
retransmission port and gets the range back (up to ``MAX_RETRANSMIT`` messages per
request) as ordinary downstream packets, sent to the requester's address.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time

from venues.protocols import moldudp64 as mold

log = logging.getLogger(__name__)

MAX_PACKET = 1400
HEADER = 20           # session 10 + sequence number 8 + message count 2
MAX_RETRANSMIT = 1000


class MoldFeed:
    def __init__(self, session: str, target: tuple[str, int], retransmit: tuple[str, int] = ("127.0.0.1", 0),
                 heartbeat_s: float = 1.0):
        self.session, self.target, self.heartbeat_s = session, target, heartbeat_s
        self.messages: list[bytes] = []   # message seq n at index n - 1
        self.sent_upto = 0                # messages already sent downstream
        self.last_sent = time.monotonic()
        self.out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.rx.bind(retransmit)
        self.rx.setblocking(False)
        self.retransmit_port = self.rx.getsockname()[1]
        self.bad_requests = 0

    def publish(self, messages: list[bytes]) -> None:
        """Number and send new ITCH messages."""
        self.messages.extend(messages)
        self._send_range(self.sent_upto + 1, len(self.messages) + 1, self.target)
        self.sent_upto = len(self.messages)

    def _send_range(self, first: int, end: int, addr) -> None:
        seq = first
        while seq < end:
            size, batch = HEADER, []
            while seq + len(batch) < end:
                m = self.messages[seq + len(batch) - 1]
                if batch and size + 2 + len(m) > MAX_PACKET:
                    break
                batch.append(m)
                size += 2 + len(m)
            self.out.sendto(mold.encode_packet(self.session, seq, batch), addr)
            seq += len(batch)
        if end > first:
            self.last_sent = time.monotonic()

    def poll(self) -> None:
        """Answer retransmission requests; heartbeat when idle."""
        while True:
            try:
                data, addr = self.rx.recvfrom(2048)
            except BlockingIOError:
                break
            try:
                req = mold.decode_request(data)
            except mold.MoldError as e:
                self.bad_requests += 1
                log.warning("bad MoldUDP64 request from %s: %s", addr, e)
                continue
            first = max(1, req.seq)
            end = min(first + min(req.count, MAX_RETRANSMIT), self.sent_upto + 1)
            self._send_range(first, end, addr)
        if time.monotonic() - self.last_sent >= self.heartbeat_s:
            self.out.sendto(mold.encode_heartbeat(self.session, self.sent_upto + 1), self.target)
            self.last_sent = time.monotonic()

    def close(self) -> None:
        self.out.sendto(mold.encode_end_of_session(self.session, self.sent_upto + 1), self.target)
        self.out.close()
        self.rx.close()


async def run_feed(feed: MoldFeed, stop: asyncio.Event, interval_s: float = 0.01) -> None:
    while not stop.is_set():
        feed.poll()
        try:
            await asyncio.wait_for(stop.wait(), interval_s)
        except asyncio.TimeoutError:
            pass
