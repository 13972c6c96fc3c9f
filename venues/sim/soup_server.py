"""A SoupBinTCP 3.00 server: the venue side of order-entry sessions (asyncio).

The server knows nothing of OUCH: each client's Unsequenced Data payload goes to a
``handler(user, payload, now_ns)`` that returns ``{user: [payload, ...]}``, the
sequenced messages to deliver (a fill tells both sides). Per user the server keeps
the day's sequenced messages, numbered from 1, so a client that logs in again with a
requested sequence number gets everything from there on before anything new (the
SoupBinTCP recovery model); 0 asks for nothing old, only what comes next.

Protocol behaviour, as the specification says:
- the first packet must be a Login Request within ``login_timeout_s``; a wrong user or
  password is answered Login Rejected 'A', an unknown session name 'S', then closed;
- the server sends a Server Heartbeat after ``heartbeat_s`` without sending anything,
  and drops a client it has heard nothing from for ``client_timeout_s``;
- a malformed packet (bad length, unknown or client-illegal type) closes the connection:
  SoupBinTCP has no reject packet, and the stream cannot be re-synchronised;
- Logout Request closes the session; on ``close()`` every client gets End of Session.
Listens on 127.0.0.1 unless told otherwise. One login per user at a time: a second
login for a user already connected is rejected 'S'.

``on_disconnect(user)``, if given, is called when a logged-in client's connection ends
for any reason (logout, drop, timeout, malformed input) except the server's own
``close()``; the venue uses it for cancel-on-disconnect, delivering the resulting
messages with ``deliver`` so they wait in the user's store for the next login.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Callable

from venues.protocols import soupbintcp as soup

log = logging.getLogger(__name__)

Handler = Callable[[str, bytes, int], dict[str, list[bytes]]]


class SoupServer:
    def __init__(self, handler: Handler, users: dict[str, str], session: str = "SESSION1",
                 host: str = "127.0.0.1", port: int = 0, heartbeat_s: float = 1.0,
                 client_timeout_s: float = 15.0, login_timeout_s: float = 5.0,
                 clock: Callable[[], int] = time.time_ns,
                 on_disconnect: Callable[[str], None] | None = None):
        self.handler, self.users, self.session = handler, dict(users), session
        self.host, self.port = host, port
        self.heartbeat_s, self.client_timeout_s, self.login_timeout_s = heartbeat_s, client_timeout_s, login_timeout_s
        self.clock = clock
        self.on_disconnect = on_disconnect
        self._closing = False
        self.store: dict[str, list[bytes]] = {u: [] for u in users}  # sequenced messages, seq = index + 1
        self.connected: dict[str, asyncio.StreamWriter] = {}
        self._server: asyncio.base_events.Server | None = None
        self.rejected_logins = 0
        self.dropped_clients = 0

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def close(self) -> None:
        self._closing = True
        for w in list(self.connected.values()):
            self._send(w, soup.encode_end_of_session())
        for w in list(self.connected.values()):
            w.close()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def deliver(self, out: dict[str, list[bytes]]) -> None:
        """Append sequenced messages to users' stores and send them to those connected."""
        for user, payloads in out.items():
            store = self.store.setdefault(user, [])
            writer = self.connected.get(user)
            for p in payloads:
                store.append(p)
                if writer is not None:
                    self._send(writer, soup.encode_sequenced_data(p))

    # ------------------------------------------------------------------ per connection
    def _send(self, writer: asyncio.StreamWriter, packet: bytes) -> None:
        writer.write(packet)
        writer.last_sent = time.monotonic()  # type: ignore[attr-defined]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        user = None
        try:
            user, leftover = await self._login(reader, writer)
            if user is not None:
                await self._session(user, leftover, reader, writer)
        except (soup.SoupError, ConnectionError, asyncio.IncompleteReadError) as e:
            log.warning("soupbintcp client %s dropped: %s", user or writer.get_extra_info("peername"), e)
            self.dropped_clients += 1
        finally:
            if user is not None and self.connected.get(user) is writer:
                del self.connected[user]
                if self.on_disconnect is not None and not self._closing:
                    self.on_disconnect(user)
            writer.close()

    async def _login(self, reader, writer) -> tuple[str | None, list]:
        """(user, packets that came with the login) or (None, []) if refused."""
        packets = soup.PacketReader(accept=soup.CLIENT_TYPES)
        deadline = time.monotonic() + self.login_timeout_s
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise soup.SoupError("no Login Request in time")
            data = await asyncio.wait_for(reader.read(4096), left)
            if not data:
                return None, []
            got = packets.feed(data)
            if got:
                break
        kind, payload = got[0]
        if kind != soup.LOGIN_REQUEST:
            raise soup.SoupError(f"first packet {soup.NAMES.get(kind, kind)!r}, not a Login Request")
        req = soup.decode_login_request(payload)
        code = None
        if self.users.get(req.username) != req.password:
            code = soup.REJECT_NOT_AUTHORIZED
        elif req.requested_session not in ("", self.session) or req.username in self.connected:
            code = soup.REJECT_SESSION_NOT_AVAILABLE
        if code is not None:
            self.rejected_logins += 1
            self._send(writer, soup.encode_login_rejected(code))
            await writer.drain()
            return None, []
        store = self.store.setdefault(req.username, [])
        first = req.requested_sequence_number if req.requested_sequence_number > 0 else len(store) + 1
        first = min(first, len(store) + 1)
        self._send(writer, soup.encode_login_accepted(self.session, first))
        for p in store[first - 1:]:  # recovery: everything from the requested number
            self._send(writer, soup.encode_sequenced_data(p))
        self.connected[req.username] = writer
        await writer.drain()
        return req.username, got[1:]

    async def _session(self, user, pending, reader, writer) -> None:
        packets = soup.PacketReader(accept=soup.CLIENT_TYPES)
        last_heard = time.monotonic()
        while True:
            for kind, payload in pending:
                if kind == soup.UNSEQUENCED_DATA:
                    self.deliver(self.handler(user, payload, self.clock()))
                elif kind == soup.LOGOUT_REQUEST:
                    await writer.drain()
                    return
                elif kind == soup.LOGIN_REQUEST:
                    raise soup.SoupError("Login Request on a logged-in session")
            await writer.drain()
            now = time.monotonic()
            if now - last_heard > self.client_timeout_s:
                raise soup.SoupError(f"nothing heard for {self.client_timeout_s}s")
            if now - getattr(writer, "last_sent", now) >= self.heartbeat_s:
                self._send(writer, soup.encode_server_heartbeat())
            try:
                data = await asyncio.wait_for(reader.read(65536), self.heartbeat_s)
            except asyncio.TimeoutError:
                pending = []
                continue
            if not data:
                return
            last_heard = time.monotonic()
            pending = packets.feed(data)
