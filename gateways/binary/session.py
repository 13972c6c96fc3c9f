"""The binary order-entry session as a sans-IO state machine (acceptor side).

``BinarySession`` does no I/O and reads no clock. The gateway tells it that a
connection came up (``connected``) or went (``disconnected``), feeds it bytes
(``on_bytes``) and the core's events for its client (``on_events``), calls ``tick`` a
few times a second, and drains:

- ``take_outgoing()``: bytes to write to the connection, in order;
- ``take_commands()``: core command records (``RAW_COMMAND``) for the sequencer, with
  the header's source, seq and ts left 0 for the gateway and sequencer to stamp;
- ``take_events()``: ``SessionEvent``s ``logged_in``, ``logged_out`` and ``disconnect``
  (close the connection after writing what is pending; the reason says why).

``now`` is monotonic seconds and drives only the timers. One object per configured
session can live across connections; what is stored (the numbered responses and the
next number) is in the ``ResponseStore``, so a new object on the same store after a
gateway restart carries on the numbering and serves replays.

Rules (docs/binary.md has the bytes):
- A Login must come first. Before it, an order, replay request or heartbeat gets a
  session reject ``PR_NOT_LOGGED_IN`` (and counts as a bad message); no Login within
  ``login_timeout_s``: disconnect. A Login with the wrong protocol version, non-zero
  flags or the wrong API key gets a login reject with the reason, then disconnect.
  Accepted: a login-accepted response, then, if ``next_response_seq`` is not 0, the
  stored responses from that number on and a replay-complete.
- Orders are checked in batches (``protocol.validate``); a bad one gets a session reject
  with the protocol reason and never reaches the sequencer. More than
  ``max_bad_messages`` bad messages within ``bad_window_s``: logout (``PR_TOO_MANY_BAD``)
  and disconnect; what came after the last straw in the same read is dropped.
- Commands carry the session's client_id and account: a client cannot name another
  account, and as Cancel / Replace name orders by ClOrdID, which the core looks up per
  client, it cannot reach another client's order either.
- Responses to the client (ack, reject, fill, cancelled, replaced, cancel reject) are
  numbered from 1 without gaps, stored before they are written, and written only while
  logged in; a ReplayRequest re-sends a stored range with the replayed flag set.
- End of stream with part of a message buffered: a session reject ``PR_TRUNCATED``, then
  disconnect. Nothing received for ``idle_timeout_s``: logout ``PR_IDLE`` and
  disconnect. Nothing sent for ``heartbeat_s``: a heartbeat.
"""

from __future__ import annotations

import hmac
from collections import deque
from dataclasses import dataclass

import numpy as np

from gateways.binary import protocol as P
from gateways.binary.store import MemoryStore, ResponseStore
from sequencer import records as R

__all__ = ["BinaryConfig", "BinarySession", "SessionEvent", "LOGGED_IN", "LOGGED_OUT", "DISCONNECT"]

LOGGED_IN, LOGGED_OUT, DISCONNECT = "logged_in", "logged_out", "disconnect"

_DOWN, _LOGIN_WAIT, _ACTIVE, _CLOSING = range(4)
_STATE_NAMES = ("down", "login_wait", "active", "closing")
_ORDER = np.zeros(256, bool)
_ORDER[list(P.ORDER_TYPES)] = True


@dataclass
class BinaryConfig:
    api_key: str                  # printable ASCII, 1-24 characters
    client_id: int                # the core's client the session trades for
    account: str                  # printed on every NewOrder (<= 16 ASCII characters)
    source_id: int = 0            # gateway id for the (source_id, source_seq) stamp, by the gateway
    name: str = ""                # for logs and the session's store directory
    heartbeat_s: float = 1.0      # a heartbeat after this long without sending (0: none)
    idle_timeout_s: float = 15.0  # logout after this long without receiving (0: never)
    login_timeout_s: float = 5.0
    max_bad_messages: int = 3     # more than this many bad messages within bad_window_s: disconnect
    bad_window_s: float = 10.0

    def __post_init__(self) -> None:
        key = self.api_key.encode("ascii")
        if not 1 <= len(key) <= P.API_KEY_LEN or not all(0x21 <= b <= 0x7E for b in key):
            raise ValueError(f"api_key must be 1-{P.API_KEY_LEN} printable ASCII characters")
        if not 0 < self.client_id < 1 << 32:
            raise ValueError(f"client_id {self.client_id} is not a uint32 above 0")
        R.ascii_field(self.account, R.ACCOUNT_LEN)  # raises if it does not fit


@dataclass(frozen=True)
class SessionEvent:
    kind: str
    reason: str = ""


class BinarySession:
    def __init__(self, config: BinaryConfig, store: ResponseStore | None = None) -> None:
        self.config = config
        self.store = store if store is not None else MemoryStore()
        self._account = R.ascii_field(config.account, R.ACCOUNT_LEN)
        self._key = config.api_key.encode("ascii").ljust(P.API_KEY_LEN, b"\0")
        self._state = _DOWN
        self._buf = b""
        self._out: list[bytes] = []
        self._commands: list[np.ndarray] = []
        self._events: list[SessionEvent] = []
        self._bad_times: deque[float] = deque()
        self.bad_messages = 0         # since construction, for the gateway's counters
        self._reset_timers(0.0)

    # ------------------------------------------------------------------ outputs
    def take_outgoing(self) -> bytes:
        out, self._out = b"".join(self._out), []
        return out

    def take_commands(self) -> np.ndarray:
        cmds, self._commands = self._commands, []
        if len(cmds) == 1:
            return cmds[0]
        return np.concatenate(cmds) if cmds else R.new_commands(0)

    def take_events(self) -> list[SessionEvent]:
        out, self._events = self._events, []
        return out

    @property
    def state(self) -> str:
        return _STATE_NAMES[self._state]

    @property
    def logged_in(self) -> bool:
        return self._state == _ACTIVE

    # ------------------------------------------------------------------ connection
    def _reset_timers(self, now: float) -> None:
        self._connected_at = self._last_recv = self._last_sent = now

    def connected(self, now: float) -> None:
        """A new connection: wait for its Login."""
        self._reset_timers(now)
        self._state = _LOGIN_WAIT
        self._buf = b""
        self._out.clear()
        self._bad_times.clear()

    def disconnected(self, now: float) -> None:
        """The connection is gone; unwritten output is dropped (the store keeps the
        numbered responses). Commands already decoded stay to be taken."""
        self._state = _DOWN
        self._buf = b""
        self._out.clear()

    def _disconnect(self, reason: str) -> None:
        self._events.append(SessionEvent(DISCONNECT, reason))
        self._state = _CLOSING

    def logout(self, reason: int = P.PR_SHUTDOWN, now: float = 0.0) -> None:
        """Close the session from the gateway's side: a logout response, then disconnect."""
        if self._state in (_LOGIN_WAIT, _ACTIVE):
            self._send_session(P.SERVER_LOGOUT, now, reason)
            self._events.append(SessionEvent(LOGGED_OUT, P.reason_text(reason)))
            self._disconnect(f"logout: {P.reason_text(reason)}")

    @property
    def _open(self) -> bool:
        return self._state in (_LOGIN_WAIT, _ACTIVE)

    # ------------------------------------------------------------------ sending
    def _write(self, raw: bytes, now: float | None) -> None:
        self._out.append(raw)
        if now is not None:
            self._last_sent = now

    def _send_session(self, msg_type: int, now: float | None, reason: int = 0, ref_msg_type: int = 0,
                      client_order_id: int = 0) -> None:
        self._write(P.session_response(msg_type, self.store.next_seq, reason, ref_msg_type, client_order_id), now)

    def on_events(self, events: np.ndarray, now: float | None = None) -> None:
        """Core events (``RAW_EVENT``) for this session's client, in output order: the
        ones a client is told about are numbered, stored, and written if logged in."""
        resp = P.responses_from_events(events)
        if not len(resp):
            return
        first = self.store.next_seq
        resp["response_seq"] = np.arange(first, first + len(resp), dtype=np.uint32)
        raw = resp.tobytes()
        self.store.append(first, raw)
        if self._state == _ACTIVE:
            self._write(raw, now)

    def _replay(self, begin: int, end: int, now: float) -> None:
        raw = self.store.get(begin, end)
        if raw:
            resp = np.frombuffer(bytearray(raw), P.RESPONSE)
            resp["flags"] |= P.FLAG_REPLAYED
            self._write(resp.tobytes(), now)
        self._send_session(P.REPLAY_COMPLETE, now)

    # ------------------------------------------------------------------ timers
    def tick(self, now: float) -> None:
        c = self.config
        if self._state == _LOGIN_WAIT and now - self._connected_at >= c.login_timeout_s:
            self._disconnect(f"no Login within {c.login_timeout_s}s")
        elif self._state == _ACTIVE:
            if c.idle_timeout_s > 0 and now - self._last_recv >= c.idle_timeout_s:
                self.logout(P.PR_IDLE, now)
            elif c.heartbeat_s > 0 and now - self._last_sent >= c.heartbeat_s:
                self._send_session(P.SERVER_HEARTBEAT, now)

    # ------------------------------------------------------------------ receiving
    def on_bytes(self, data, now: float) -> None:
        """Bytes read from the connection (any bytes-like object): whole messages are
        handled at once, a partial trailing message waits for the next read."""
        data = memoryview(data).cast("B")
        if not self._open or not len(data):
            return
        self._last_recv = now
        msgs, self._buf = P.decode_batch(self._buf + data if self._buf else data)
        if len(msgs):
            self._on_messages(msgs, now)

    def eof(self, now: float) -> None:
        """The client closed its side: a partial message left is a truncated frame."""
        if not self._open:
            return
        partial, self._buf = self._buf, b""
        if partial:
            self._send_session(P.SESSION_REJECT, now, P.PR_TRUNCATED, ref_msg_type=partial[0])
            self.bad_messages += 1
        self._disconnect("end of stream inside a message" if partial else "end of stream")

    def _on_messages(self, msgs: np.ndarray, now: float) -> None:
        codes = P.validate(msgs)
        special = (codes != 0) | ~_ORDER[msgs["msg_type"]]
        if self._state == _ACTIVE and not special.any():   # the order path: one batch
            self._commands.append(P.to_commands(msgs, self.config.client_id, self._account))
            return
        start = 0
        for i in np.flatnonzero(special).tolist() + [len(msgs)]:
            if i > start:
                self._on_orders(msgs[start:i], now)
            if i < len(msgs) and self._open:
                self._on_special(msgs[i], int(codes[i]), now)
            if not self._open:
                return
            start = i + 1

    def _on_orders(self, msgs: np.ndarray, now: float) -> None:
        """A run of valid order messages."""
        if self._state == _ACTIVE:
            self._commands.append(P.to_commands(msgs, self.config.client_id, self._account))
            return
        for m in msgs:
            if not self._open:
                return
            self._bad(m, P.PR_NOT_LOGGED_IN, now)

    def _on_special(self, m: np.void, code: int, now: float) -> None:
        """A session message or a bad one."""
        if code:
            return self._bad(m, code, now)
        t = int(m["msg_type"])
        if t == P.LOGIN:
            if self._state == _ACTIVE:
                return self._bad(m, P.PR_ALREADY_LOGGED_IN, now)
            return self._on_login(m.tobytes(), now)
        if t == P.LOGOUT:
            self._send_session(P.SERVER_LOGOUT, now)
            self._events.append(SessionEvent(LOGGED_OUT, "client logged out"))
            return self._disconnect("client logged out")
        if self._state != _ACTIVE:
            return self._bad(m, P.PR_NOT_LOGGED_IN, now)
        if t == P.REPLAY_REQUEST:
            r = np.frombuffer(m.tobytes(), P.REPLAY_MSG)[0]
            begin, count = int(r["from_seq"]), int(r["count"])
            if not 1 <= begin <= self.store.next_seq:
                return self._bad(m, P.PR_BAD_FIELD, now)
            return self._replay(begin, begin + count if count else self.store.next_seq, now)
        # HEARTBEAT: receiving it was the point

    def _bad(self, m: np.void, reason: int, now: float) -> None:
        """Session reject for one message; too many within the window end the session."""
        t = int(m["msg_type"])
        self._send_session(P.SESSION_REJECT, now, reason, t, int(m["client_order_id"]) if _ORDER[t] else 0)
        self.bad_messages += 1
        c = self.config
        self._bad_times.append(now)
        while self._bad_times and now - self._bad_times[0] > c.bad_window_s:
            self._bad_times.popleft()
        if len(self._bad_times) > c.max_bad_messages:
            self.logout(P.PR_TOO_MANY_BAD, now)

    def _on_login(self, raw: bytes, now: float) -> None:
        m = np.frombuffer(raw, P.LOGIN_MSG)[0]
        reason = 0
        if m["version"] != P.PROTOCOL_VERSION:
            reason = P.PR_BAD_VERSION
        elif m["flags"] != 0:
            reason = P.PR_BAD_FIELD
        elif not hmac.compare_digest(raw[8:8 + P.API_KEY_LEN], self._key):
            reason = P.PR_BAD_API_KEY
        if reason:
            self._send_session(P.LOGIN_REJECTED, now, reason)
            return self._disconnect(f"login rejected: {P.reason_text(reason)}")
        self._state = _ACTIVE
        self._send_session(P.LOGIN_ACCEPTED, now)
        self._events.append(SessionEvent(LOGGED_IN))
        begin = int(m["next_response_seq"])
        if begin:
            self._replay(begin, self.store.next_seq, now)
