"""A FIX 4.2 venue session: requests out as FIX orders, ExecutionReports in as records.

The session layer is ``gateways.fix.session.FixSession`` as an initiator, with its
sequence numbers and sent messages in the adapter's own LMDB store, so a restarted
adapter continues the session instead of resetting it. The journal decides where
incoming messages resume: before each logon the expected incoming MsgSeqNum is set
back to one past the last journaled record's ``venue_seq``, and the venue's Logon then
shows the gap and the session asks for a resend; re-sent ExecutionReports (PossDup)
are decoded like the originals.

Requests: NewOrderSingle (D) with ClOrdID = the order token, OrderCancelReplaceRequest
(G) with OrigClOrdID = the live token and ClOrdID = the replacement token, and
OrderCancelRequest (F) with OrigClOrdID = the live token and ClOrdID = "X" + it. Answers:
ExecutionReport (8) by ExecType (150): 0 accepted, 5 replaced, 1/2 executed (LastShares
32, LastPx 31, the venue's liquidity indicator in tag 9730, ExecID 17 as the venue exec
id), 4 cancelled, 8 rejected; OrderCancelReject (9) by CxlRejResponseTo (434).
"""

from __future__ import annotations

import logging
import socket
import time
import zlib
from decimal import Decimal, InvalidOperation
from pathlib import Path

from gateways.fix.codec import FixError
from gateways.fix.session import DISCONNECT, INITIATOR, LOGGED_ON, FixSession, SessionConfig
from gateways.fix.store import LmdbStore, MemoryStore
from sequencer import records as R
from venues.session_state import NEW, REPLACE, Request, SessionState

log = logging.getLogger(__name__)

TAG_LIQUIDITY = 9730   # venue-specific: 'A' added, 'R' removed (as US venues do)
_SIDES = {R.SIDE_BUY: "1", R.SIDE_SELL: "2", R.SIDE_SELL_SHORT: "5"}
_LIQUIDITY = {b"A": R.LIQUIDITY_ADDED, b"R": R.LIQUIDITY_REMOVED}
_CANCEL_PREFIX = "X"


def _px(price: int) -> str:
    return str(Decimal(price) / R.PRICE_SCALE)


def _price8(value: bytes | None) -> int:
    if not value:
        return 0
    try:
        return int(Decimal(value.decode("ascii")) * R.PRICE_SCALE)
    except (InvalidOperation, UnicodeDecodeError):
        raise FixError(f"price {value!r} is not a decimal") from None


def _exec_id(value: bytes | None) -> int:
    """A venue ExecID as the record's u64: its digits when it has some, else a CRC."""
    if not value:
        return 0
    digits = bytes(c for c in value if 48 <= c <= 57)
    return int(digits[-18:]) if digits else zlib.crc32(value)


def request_message(req: Request) -> tuple[str, list]:
    """(MsgType, body fields) of one request."""
    if req.action == NEW:
        fields = [(11, req.token), (21, "1"), (55, req.symbol), (54, _SIDES[req.side]), (38, req.qty),
                  (40, "1" if req.ord_type == R.ORD_MARKET else "2")]
        if req.ord_type != R.ORD_MARKET:
            fields.append((44, _px(req.price)))
        fields.append((59, "3" if req.tif == R.TIF_IOC else "4" if req.tif == R.TIF_FOK else "0"))
        return "D", fields
    if req.action == REPLACE:
        return "G", [(41, req.prev_token), (11, req.token), (21, "1"), (55, req.symbol), (54, _SIDES[req.side]),
                     (38, req.qty), (40, "2"), (44, _px(req.price))]
    return "F", [(41, req.token), (11, _CANCEL_PREFIX + req.token), (55, req.symbol), (54, _SIDES[req.side])]


def _token(value: bytes | None) -> str:
    s = (value or b"").decode("ascii", "replace")
    return s[len(_CANCEL_PREFIX):] if s.startswith(_CANCEL_PREFIX) else s


def decode_answer(state: SessionState, msg):
    """One application message from the venue → a record (numpy array of 1) or None."""
    seq = msg.get_int(34)
    t = msg.msg_type
    if t == "8":
        et = msg.get_str(150)
        if et == "0":
            return state.on_accepted(_token(msg.get(11)), _exec_id(msg.get(37)), _price8(msg.get(44)),
                                     msg.get_int(151, 0), seq)
        if et == "5":
            return state.on_replaced(_token(msg.get(11)), _exec_id(msg.get(37)), _price8(msg.get(44)),
                                     msg.get_int(151, 0), seq)
        if et in ("1", "2", "F"):
            return state.on_executed(_token(msg.get(11)), msg.get_int(32, 0), _price8(msg.get(31)),
                                     _LIQUIDITY.get(msg.get(TAG_LIQUIDITY), 0), _exec_id(msg.get(17)), seq)
        if et == "4":
            tok = _token(msg.get(41) or msg.get(11))
            cancelled = msg.get_int(38, 0) - msg.get_int(14, 0)
            return state.on_canceled(tok, max(cancelled, 0), ord("4"), seq)
        if et == "8":
            return state.on_rejected(_token(msg.get(11)), msg.get_int(103, 0),
                                     "FIX: " + (msg.get_str(58) or "rejected"), seq)
        if et == "H":  # Trade Cancel: a bust, for the operators (the core cannot unwind a fill)
            state.broken_trades += 1
            log.error("venue broke trade %s of ClOrdID %s: correct the position by hand",
                      msg.get_str(19) or msg.get_str(17), msg.get_str(11))
            return None
        log.info("venue ExecutionReport with ExecType %r: nothing to record", et)
        return None
    if t == "9":
        text = "FIX: " + (msg.get_str(58) or "cancel rejected")
        if msg.get_str(434) == "2":  # a replace refused: its ClOrdID is the replacement token
            return state.on_rejected(_token(msg.get(11)), msg.get_int(102, 0), text, seq)
        return state.on_rejected(_token(msg.get(41)), msg.get_int(102, 0), text, seq, of_cancel=True)
    log.error("venue sent %s (%s): not an answer this adapter understands", t, msg.get_str(58) or "")
    return None


class FixVenueSession:
    """One FIX 4.2 initiator session of the adapter."""

    protocol = "fix"

    def __init__(self, state: SessionState, host: str, port: int, sender_comp_id: str, target_comp_id: str,
                 password: str | None = None, store_dir: Path | None = None, heartbeat_s: int = 5):
        self.state, self.addr = state, (host, port)
        self.config = SessionConfig(sender_comp_id, target_comp_id, role=INITIATOR, heartbeat_s=heartbeat_s,
                                    password=password or None)
        self.store = LmdbStore(store_dir) if store_dir is not None else MemoryStore()
        self.fix = FixSession(self.config, self.store)
        self.sock: socket.socket | None = None
        self._pending: list = []   # records that arrived with the logon answer
        self.bad_messages = 0

    @property
    def connected(self) -> bool:
        return self.sock is not None and self.fix.logged_on

    def connect(self, timeout_s: float = 5.0) -> None:
        self.close(logout=False)
        # The journal is the truth: ask again for everything after the last journaled record.
        if self.store.next_target_seq > self.state.venue_seq + 1:
            self.store.set_next_target_seq(self.state.venue_seq + 1)
        sock = socket.create_connection(self.addr, timeout=timeout_s)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = sock
        self.fix.connected(time.monotonic())
        self._flush()
        deadline = time.monotonic() + timeout_s
        while not self.fix.logged_on:
            if time.monotonic() > deadline:
                self.close(logout=False)
                raise ConnectionError(f"no FIX Logon answer from {self.addr} in {timeout_s}s")
            self._pending += self._read(block=True)
        sock.setblocking(False)
        log.info("FIX logon to %s:%d as %s, next incoming MsgSeqNum %d", *self.addr, self.config.sender_comp_id,
                 self.store.next_target_seq)

    def _flush(self) -> None:
        out = self.fix.take_outgoing()
        if out and self.sock is not None:
            self.sock.setblocking(True)
            try:
                self.sock.sendall(out)
            except OSError as e:
                self.close(logout=False)
                raise ConnectionError(f"send to {self.addr} failed: {e}") from None
            finally:
                if self.sock is not None:
                    self.sock.setblocking(False)

    def _read(self, block: bool = False) -> list:
        """Feed what arrived to the session; the records it produced."""
        while True:
            try:
                data = self.sock.recv(1 << 16)
            except (BlockingIOError, socket.timeout):
                break
            except OSError as e:
                self.close(logout=False)
                raise ConnectionError(f"{self.addr}: {e}") from None
            if not data:
                self.close(logout=False)
                raise ConnectionError(f"{self.addr} closed the connection")
            self.fix.data_received(data, time.monotonic())
            if block or len(data) < 1 << 16:
                break
        out = []
        for msg in self.fix.take_app():
            try:
                rec = decode_answer(self.state, msg)
            except FixError as e:
                self.bad_messages += 1
                log.error("venue message %s is not a valid answer (%s): skipped", msg.get_str(34), e)
                continue
            if rec is not None:
                out.append(rec)
        self._flush()
        for ev in self.fix.take_events():
            if ev.kind == DISCONNECT:
                log.warning("FIX session to %s ends: %s", self.addr, ev.reason)
                self.close(logout=False)
                break
            if ev.kind == LOGGED_ON:
                log.info("FIX session to %s logged on", self.addr)
        return out

    def send(self, requests: list[Request]) -> None:
        now = time.monotonic()
        for req in requests:
            msg_type, fields = request_message(req)
            self.fix.send_app(msg_type, fields, now)
        self._flush()

    def poll(self) -> list:
        if self.sock is None:
            raise ConnectionError("not connected")
        out = self._pending + self._read()
        self._pending = []
        if self.sock is not None:
            self.fix.tick(time.monotonic())
            self._flush()
        return out

    def close(self, logout: bool = True) -> None:
        if self.sock is not None:
            if logout and self.fix.logged_on:
                self.fix.logout("adapter stopping", time.monotonic())
                try:
                    self._flush()
                except ConnectionError:
                    pass
            if self.sock is not None:
                self.sock.close()
            self.sock = None
            self.fix.disconnected(time.monotonic())
