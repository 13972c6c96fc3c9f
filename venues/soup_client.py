"""The client side of a SoupBinTCP 3.00 session, polled from an agent's duty cycle.

No asyncio: the adapter agent calls ``poll()`` between its other work, so the socket is
non-blocking after the connect. A login names the next sequence number wanted, which is
how a restarted adapter gets everything it has not journaled yet (the venue replays
from there before anything new). Client Heartbeats go out after ``heartbeat_s`` of
silence; a venue silent for ``timeout_s`` is treated as gone.
"""

from __future__ import annotations

import logging
import socket
import time

from venues.protocols import soupbintcp as soup

log = logging.getLogger(__name__)


class SoupClosed(ConnectionError):
    """The session ended: End of Session, a rejected login, a silent or closed peer."""


class SoupClient:
    def __init__(self, host: str, port: int, username: str, password: str, session: str = "",
                 heartbeat_s: float = 1.0, timeout_s: float = 15.0):
        self.addr = (host, port)
        self.username, self.password, self.session = username, password, session
        self.heartbeat_s, self.timeout_s = heartbeat_s, timeout_s
        self.sock: socket.socket | None = None
        self.logged_in = False
        self.next_seq = 0          # sequence number of the next Sequenced Data packet
        self.end_of_session = False

    def connect(self, requested_seq: int, timeout_s: float = 5.0) -> None:
        """Connect and log in asking for ``requested_seq`` onwards; returns once accepted."""
        self.close()
        reader = soup.PacketReader(accept=soup.SERVER_TYPES)
        sock = socket.create_connection(self.addr, timeout=timeout_s)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.sendall(soup.encode_login_request(self.username, self.password, self.session, requested_seq))
        deadline = time.monotonic() + timeout_s
        packets: list = []
        while not packets:
            if time.monotonic() > deadline:
                sock.close()
                raise SoupClosed(f"no login answer from {self.addr} in {timeout_s}s")
            data = sock.recv(65536)
            if not data:
                sock.close()
                raise SoupClosed(f"{self.addr} closed the connection during login")
            packets = reader.feed(data)
        kind, payload = packets[0]
        if kind == soup.LOGIN_REJECTED:
            sock.close()
            raise SoupClosed(f"login rejected by {self.addr}: code {soup.decode_login_rejected(payload)!r}")
        if kind != soup.LOGIN_ACCEPTED:
            sock.close()
            raise SoupClosed(f"{soup.NAMES[kind]} instead of a login answer from {self.addr}")
        acc = soup.decode_login_accepted(payload)
        self.session, self.next_seq = acc.session, acc.sequence_number
        sock.setblocking(False)
        self.sock, self.reader, self.logged_in = sock, reader, True
        self.end_of_session = False
        self._early = packets[1:]
        self.last_heard = self.last_sent = time.monotonic()
        log.info("logged in to %s:%d session %r, next sequence number %d", *self.addr, self.session, self.next_seq)

    def send(self, payloads: list[bytes]) -> None:
        if not payloads:
            return
        if self.sock is None:
            raise SoupClosed("not connected")
        data = b"".join(soup.encode_unsequenced_data(p) for p in payloads)
        self.sock.setblocking(True)  # a full send buffer is rare; block rather than lose order
        try:
            self.sock.sendall(data)
        except OSError as e:
            self.close()
            raise SoupClosed(f"send to {self.addr} failed: {e}") from None
        finally:
            if self.sock is not None:
                self.sock.setblocking(False)
        self.last_sent = time.monotonic()

    def poll(self) -> list[tuple[int, bytes]]:
        """(sequence number, message) of every Sequenced Data packet that arrived."""
        if self.sock is None:
            raise SoupClosed("End of Session" if self.end_of_session else "not connected")
        packets, self._early = self._early, []
        while True:
            try:
                data = self.sock.recv(1 << 16)
            except BlockingIOError:
                break
            except OSError as e:
                self.close()
                raise SoupClosed(f"{self.addr}: {e}") from None
            if not data:
                self.close()
                raise SoupClosed(f"{self.addr} closed the connection")
            try:
                packets += self.reader.feed(data)
            except soup.SoupError as e:
                self.close()
                raise SoupClosed(f"malformed packet from {self.addr}: {e}") from None
            if len(data) < 1 << 16:
                break
        now = time.monotonic()
        out = []
        for kind, payload in packets:
            if kind == soup.SEQUENCED_DATA:
                out.append((self.next_seq, payload))
                self.next_seq += 1
            elif kind == soup.END_OF_SESSION:
                self.end_of_session = True
            elif kind == soup.DEBUG:
                log.info("venue debug: %r", payload)
        if packets:
            self.last_heard = now
        if self.end_of_session:  # what came before it is delivered; the next poll raises
            log.info("%s:%d sent End of Session", *self.addr)
            self.close()
            return out
        if now - self.last_heard > self.timeout_s:
            self.close()
            raise SoupClosed(f"nothing heard from {self.addr} for {self.timeout_s}s")
        if now - self.last_sent >= self.heartbeat_s:
            self._heartbeat()
        return out

    def _heartbeat(self) -> None:
        try:
            self.sock.send(soup.encode_client_heartbeat())
        except (BlockingIOError, InterruptedError):
            pass
        except OSError as e:
            self.close()
            raise SoupClosed(f"{self.addr}: {e}") from None
        self.last_sent = time.monotonic()

    def logout(self) -> None:
        if self.sock is not None:
            try:
                self.sock.setblocking(True)
                self.sock.sendall(soup.encode_logout_request())
            except OSError:
                pass
        self.close()

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
        self.sock = None
        self.logged_in = False
