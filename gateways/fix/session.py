"""The FIX 4.2/4.4 session layer as a sans-IO state machine, acceptor or initiator.

``FixSession`` does no I/O and reads no monotonic clock. The caller tells it that a
connection came up (``connected``) or went (``disconnected``), feeds it bytes
(``data_received``) or parsed messages (``on_message``), calls ``tick`` now and then
(a few times per second is plenty) and drains three outputs:

- ``take_outgoing()``: bytes to write to the connection, in order;
- ``take_app()``: application messages, in sequence order, each delivered once;
- ``take_events()``: ``SessionEvent``s: ``logged_on``, ``logged_out``, ``reject_received``
  and ``disconnect`` (close the connection after writing what is pending; the reason
  says why).

Every call takes ``now``: monotonic **seconds** as a float (``time.monotonic()``); it
drives the timers only. SendingTime (52) comes from ``clock``, an injectable function
returning an aware UTC ``datetime`` (tests pass a fixed one), written as
``YYYYMMDD-HH:MM:SS.sss``.

Rules implemented (FIX 4.2 / 4.4 session level):
- Logon: the acceptor waits ``logon_timeout_s`` for a Logon as the first message
  (anything else: disconnect); BeginString and CompIDs must match the configuration,
  a configured Username (553) / Password (554) must match, HeartBtInt (108) must be a
  non-negative integer and EncryptMethod (98) absent or 0; otherwise a Logout with the
  reason, then disconnect. The acceptor answers with a Logon carrying the
  counterparty's HeartBtInt. ResetSeqNumFlag 141=Y resets both sequence numbers (and
  the store) to 1 and is echoed. A Logon whose MsgSeqNum is above the expected one is
  accepted, then a ResendRequest is sent; below it: Logout and disconnect.
- Heartbeat after HeartBtInt seconds without sending; a TestRequest after HeartBtInt +
  slack (``test_request_slack`` x HeartBtInt) without receiving; disconnect if still
  nothing has arrived another HeartBtInt + slack later. A TestRequest is answered with
  a Heartbeat echoing TestReqID (112).
- MsgSeqNum above the expected one: ResendRequest 7=expected, 16=0 (to infinity) and
  the message is discarded (the resend brings it again); one request per gap, until
  the expected number passes the highest number seen. Exceptions: a ResendRequest is
  served first and a Logout is honoured, so two sides with gaps cannot deadlock.
- MsgSeqNum below the expected one: ignored if PossDupFlag 43=Y, else Logout with
  text and disconnect. Missing or non-numeric MsgSeqNum: Logout and disconnect.
- ResendRequest served from the store: application messages (and Reject) again with
  the same MsgSeqNum, PossDupFlag 43=Y, OrigSendingTime 122 = the original 52 and a new
  52; admin messages and numbers not in the store become SequenceReset-GapFill
  (123=Y, 43=Y, 36 = the next number to come), consecutive ones merged into one.
- SequenceReset: GapFill mode follows the sequence rules and moves the expected number
  to NewSeqNo (36); Reset mode ignores MsgSeqNum and moves it up; a NewSeqNo that would
  move it back gets a Reject (value incorrect).
- Reject 35=3 with RefSeqNum 45, RefTagID 371, RefMsgType 372, SessionRejectReason
  373 for: required header tag missing (1), a tag without a value (4), CompID problem
  (9, then Logout and disconnect), SendingTime accuracy problem (10, then Logout and
  disconnect; also an OrigSendingTime later than SendingTime, without disconnect),
  incorrect data format (6), value incorrect (5). A rejected message still consumes its
  MsgSeqNum. The application can ask for the same with ``reject(...)``.
- Logout: answered with a Logout, then disconnect; ``logout()`` sends one and
  disconnects if the answer has not come within ``logout_timeout_s``.

``send_app`` stamps the header (8, 9, 35, 49, 56, 34, 52), stores the message and
writes it if the session is logged on. While the session is down it is only stored,
with its MsgSeqNum: the counterparty sees the gap at the next Logon and asks for it, so
messages queued while disconnected arrive through normal recovery, as PossDup resends.

Garbled input (see ``codec``) is dropped without consuming a sequence number.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable

from gateways.fix.codec import FixError, FixFramer, FixMessage, encode, parse
from gateways.fix.store import MemoryStore, SessionStore

__all__ = ["SessionConfig", "FixSession", "SessionEvent", "ACCEPTOR", "INITIATOR", "LOGGED_ON", "LOGGED_OUT",
           "DISCONNECT", "REJECT_RECEIVED", "format_utc", "parse_utc", "utc_now",
           "REQUIRED_TAG_MISSING", "TAG_WITHOUT_VALUE", "VALUE_INCORRECT", "INCORRECT_DATA_FORMAT",
           "COMPID_PROBLEM",
           "SENDING_TIME_ACCURACY"]

ACCEPTOR, INITIATOR = "acceptor", "initiator"
LOGGED_ON, LOGGED_OUT, DISCONNECT, REJECT_RECEIVED = "logged_on", "logged_out", "disconnect", "reject_received"

# SessionRejectReason (373)
REQUIRED_TAG_MISSING, TAG_WITHOUT_VALUE, VALUE_INCORRECT, INCORRECT_DATA_FORMAT = 1, 4, 5, 6
COMPID_PROBLEM, SENDING_TIME_ACCURACY = 9, 10

_GAP_FILLED = {"0", "1", "2", "4", "5", "A"}   # admin messages a resend skips (Reject is resent)

# states
_DOWN, _LOGON_WAIT, _LOGON_SENT, _ACTIVE, _LOGOUT_SENT, _CLOSING = range(6)
_STATE_NAMES = ("down", "logon_wait", "logon_sent", "active", "logout_sent", "closing")


@dataclass
class SessionConfig:
    sender_comp_id: str
    target_comp_id: str
    role: str = ACCEPTOR
    begin_string: str = "FIX.4.2"
    heartbeat_s: int = 30                 # the initiator proposes it; an acceptor takes the counterparty's
    username: str | None = None           # initiator: sent in 553; acceptor: 553 must match if set
    password: str | None = None           # same with 554
    reset_on_logon: bool = False          # initiator: reset both sides with 141=Y at every Logon
    logon_timeout_s: float = 10.0
    logout_timeout_s: float = 5.0
    test_request_slack: float = 0.2       # fraction of HeartBtInt
    max_sending_time_skew_s: float | None = 120.0   # None: SendingTime accuracy not checked

    def __post_init__(self) -> None:
        if self.role not in (ACCEPTOR, INITIATOR):
            raise ValueError(f"role {self.role!r} is not {ACCEPTOR!r} or {INITIATOR!r}")
        if self.begin_string not in ("FIX.4.2", "FIX.4.4"):
            raise ValueError(f"begin_string {self.begin_string!r} is not FIX.4.2 or FIX.4.4")


@dataclass(frozen=True)
class SessionEvent:
    kind: str
    reason: str = ""


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def format_utc(t: datetime) -> str:
    """UTCTimestamp with milliseconds: YYYYMMDD-HH:MM:SS.sss."""
    return t.strftime("%Y%m%d-%H:%M:%S") + f".{t.microsecond // 1000:03d}"


def parse_utc(value: bytes | None) -> datetime | None:
    """A UTCTimestamp (seconds, optionally 1-9 fraction digits); None if malformed."""
    if value is None:
        return None
    s = value.decode("ascii", "replace")
    main, _, frac = s.partition(".")
    if len(main) != 17 or (frac and (not frac.isdigit() or len(frac) > 9)) or (_ and not frac):
        return None
    try:
        t = datetime.strptime(main, "%Y%m%d-%H:%M:%S").replace(tzinfo=timezone.utc)
    except ValueError:
        return None
    return t.replace(microsecond=int(frac.ljust(6, "0")[:6])) if frac else t


class FixSession:
    def __init__(self, config: SessionConfig, store: SessionStore | None = None,
                 clock: Callable[[], datetime] = utc_now) -> None:
        self.config = config
        self.store = store if store is not None else MemoryStore()
        self.clock = clock
        self.framer = FixFramer()
        self.heartbeat_s = config.heartbeat_s
        self._state = _DOWN
        self._out: list[bytes] = []
        self._app: list[FixMessage] = []
        self._events: list[SessionEvent] = []
        self.last_logon_reset = False   # the last Logon reset the sequence numbers (141=Y)
        self._reset_timers(0.0)

    # ------------------------------------------------------------------ outputs
    def take_outgoing(self) -> bytes:
        out, self._out = b"".join(self._out), []
        return out

    def take_app(self) -> list[FixMessage]:
        out, self._app = self._app, []
        return out

    def take_events(self) -> list[SessionEvent]:
        out, self._events = self._events, []
        return out

    @property
    def logged_on(self) -> bool:
        return self._state in (_ACTIVE, _LOGOUT_SENT)

    @property
    def state(self) -> str:
        return _STATE_NAMES[self._state]

    # ------------------------------------------------------------------ connection
    def _reset_timers(self, now: float) -> None:
        self._connected_at = self._last_recv = self._last_sent = now
        self._test_sent_at: float | None = None
        self._logout_sent_at = 0.0
        self._resend_until: int | None = None
        self._test_id = 0

    def connected(self, now: float) -> None:
        """A new connection: an initiator sends its Logon, an acceptor waits for one."""
        self._reset_timers(now)
        self.framer = FixFramer()
        if self.config.role == INITIATOR:
            c = self.config
            fields: list = [(98, 0), (108, c.heartbeat_s)]
            if c.reset_on_logon:
                self.store.reset()
                fields.append((141, "Y"))
            if c.username:
                fields.append((553, c.username))
            if c.password:
                fields.append((554, c.password))
            self.heartbeat_s = c.heartbeat_s
            self._send("A", fields, now)
            self._state = _LOGON_SENT
        else:
            self._state = _LOGON_WAIT

    def disconnected(self, now: float) -> None:
        """The connection is gone; what was not written is dropped (the store keeps it)."""
        self._state = _DOWN
        self._out.clear()
        self._test_sent_at = None

    # ------------------------------------------------------------------ sending
    def _stamp(self) -> str:
        return format_utc(self.clock())

    def _build(self, msg_type: str, fields, seq: int, sending_time: str, orig_time: bytes | str | None = None,
               poss_dup: bool = False) -> bytes:
        c = self.config
        head: list = [(49, c.sender_comp_id), (56, c.target_comp_id), (34, seq)]
        if poss_dup:
            head.append((43, "Y"))
        head.append((52, sending_time))
        if orig_time is not None:
            head.append((122, orig_time))
        return encode(c.begin_string, msg_type, head + list(fields))

    def _write(self, raw: bytes, now: float) -> None:
        self._out.append(raw)
        self._last_sent = now

    def _send(self, msg_type: str, fields, now: float, write: bool = True) -> int:
        seq = self.store.next_sender_seq
        raw = self._build(msg_type, fields, seq, self._stamp())
        self.store.store_sent(seq, raw)
        if write:
            self._write(raw, now)
        return seq

    def send_app(self, msg_type: str, fields, now: float) -> int:
        """Send (or, while not logged on, only store) an application message; its MsgSeqNum."""
        return self._send(msg_type, fields, now, write=self._state == _ACTIVE)

    # ------------------------------------------------------------------ the batch path
    def take_in_sequence(self, first_seq: int, count: int, now: float) -> bool:
        """Consume MsgSeqNums ``first_seq .. first_seq+count-1`` of application messages
        whose header checks a batch decoder has done (``order_decoder``), if they are
        exactly the next expected ones on an active session with no resend outstanding;
        otherwise change nothing and return False (the messages then go one by one
        through ``on_message``)."""
        if self._state != _ACTIVE or self._resend_until is not None or self.store.next_target_seq != first_seq:
            return False
        self._last_recv = now
        self._test_sent_at = None
        self.store.set_next_target_seq(first_seq + count)
        return True

    def next_header(self) -> tuple[int, str]:
        """(MsgSeqNum, SendingTime) for a batch of messages encoded outside the session."""
        return self.store.next_sender_seq, self._stamp()

    def send_encoded(self, first_seq: int, raw: bytes, ends, now: float) -> None:
        """Application messages encoded outside the session (``report_encoder``) with
        MsgSeqNums from ``first_seq`` (``next_header``): stored, and written if logged on."""
        if first_seq != self.store.next_sender_seq:
            raise ValueError(f"batch starts at MsgSeqNum {first_seq}, the next is {self.store.next_sender_seq}")
        self.store.store_sent_many(first_seq, raw, ends)
        if self._state == _ACTIVE:
            self._write(raw, now)

    def reject(self, msg: FixMessage, reason: int, tag: int | None = None, text: str | None = None,
               now: float = 0.0) -> None:
        """Session-level Reject (35=3) of a received message (e.g. an application message
        with a required tag missing)."""
        fields: list = [(45, msg.get(34) or b"0")]
        if tag is not None:
            fields.append((371, tag))
        if 35 in msg:
            fields.append((372, msg.get(35)))
        fields.append((373, reason))
        if text:
            fields.append((58, text))
        self._send("3", fields, now, write=self._state in (_ACTIVE, _LOGOUT_SENT))

    def logout(self, text: str | None = None, now: float = 0.0) -> None:
        """Start the Logout handshake (disconnect if unanswered within logout_timeout_s)."""
        if self._state == _ACTIVE:
            self._send("5", [(58, text)] if text else [], now)
            self._state = _LOGOUT_SENT
            self._logout_sent_at = now
        elif self._state in (_LOGON_WAIT, _LOGON_SENT):
            self._disconnect(text or "logout before logon", now)

    def _disconnect(self, reason: str, now: float) -> None:
        self._events.append(SessionEvent(DISCONNECT, reason))
        self._state = _CLOSING

    def _logout_and_disconnect(self, text: str, now: float) -> None:
        self._send("5", [(58, text)], now)
        self._events.append(SessionEvent(LOGGED_OUT, text))
        self._disconnect(text, now)

    # ------------------------------------------------------------------ timers
    def tick(self, now: float) -> None:
        st = self._state
        if st in (_LOGON_WAIT, _LOGON_SENT):
            if now - self._connected_at >= self.config.logon_timeout_s:
                self._disconnect(f"no Logon within {self.config.logon_timeout_s}s", now)
            return
        if st not in (_ACTIVE, _LOGOUT_SENT):
            return
        if st == _LOGOUT_SENT and now - self._logout_sent_at >= self.config.logout_timeout_s:
            self._disconnect("Logout not answered", now)
            return
        hb = self.heartbeat_s
        if hb <= 0:
            return
        wait = hb * (1 + self.config.test_request_slack)
        if self._test_sent_at is not None:
            if now - self._test_sent_at >= wait:
                self._disconnect("no answer to TestRequest", now)
                return
        elif now - self._last_recv >= wait:
            self._test_id += 1
            self._send("1", [(112, f"TEST{self._test_id}")], now)
            self._test_sent_at = now
        if now - self._last_sent >= hb:
            self._send("0", [], now)

    # ------------------------------------------------------------------ receiving
    def data_received(self, data: bytes, now: float) -> None:
        for msg in self.framer.feed(data):
            self.on_message(msg, now)

    def on_message(self, msg: FixMessage, now: float) -> None:
        st = self._state
        if st in (_DOWN, _CLOSING):
            return
        self._last_recv = now
        self._test_sent_at = None
        c = self.config
        if msg.begin_string != c.begin_string:
            return self._logout_and_disconnect(f"Incorrect BeginString {msg.begin_string}", now)
        try:
            seq = msg.get_int(34)
        except FixError:
            seq = None
        if seq is None or seq < 1:
            return self._logout_and_disconnect("MsgSeqNum(34) missing or not a positive integer", now)
        if st in (_LOGON_WAIT, _LOGON_SENT):
            return self._on_logon(msg, seq, now)
        self._on_active(msg, seq, now)

    def _reject_in(self, msg: FixMessage, seq: int, reason: int, tag: int | None, text: str, now: float) -> None:
        """Reject a received in-sequence message; it still consumes its MsgSeqNum."""
        self.reject(msg, reason, tag, text, now)
        if self.store.next_target_seq <= seq:
            self.store.set_next_target_seq(seq + 1)

    def _comp_ids_ok(self, msg: FixMessage) -> bool:
        c = self.config
        return msg.get(49) == c.target_comp_id.encode() and msg.get(56) == c.sender_comp_id.encode()

    def _header_ok(self, msg: FixMessage, seq: int, now: float) -> bool:
        """Header checks of an in-sequence message; sends the Reject (and Logout) if not."""
        c = self.config
        empty = msg.empty_tag()
        if empty is not None:
            self._reject_in(msg, seq, TAG_WITHOUT_VALUE, empty, "Tag specified without a value", now)
            return False
        for tag in (49, 56, 52):
            if tag not in msg:
                self._reject_in(msg, seq, REQUIRED_TAG_MISSING, tag, f"Required tag missing: {tag}", now)
                return False
        if not self._comp_ids_ok(msg):
            tag = 49 if msg.get(49) != c.target_comp_id.encode() else 56
            self._reject_in(msg, seq, COMPID_PROBLEM, tag, "CompID problem", now)
            self._logout_and_disconnect("CompID problem", now)
            return False
        sent = parse_utc(msg.get(52))
        if sent is None:
            self._reject_in(msg, seq, INCORRECT_DATA_FORMAT, 52, "Incorrect data format for value", now)
            return False
        skew = c.max_sending_time_skew_s
        if skew is not None and abs((self.clock() - sent).total_seconds()) > skew:
            self._reject_in(msg, seq, SENDING_TIME_ACCURACY, 52, "SendingTime accuracy problem", now)
            self._logout_and_disconnect("SendingTime accuracy problem", now)
            return False
        pd = msg.get(43)
        if pd not in (None, b"Y", b"N"):
            self._reject_in(msg, seq, VALUE_INCORRECT, 43, "Value is incorrect (out of range) for this tag", now)
            return False
        if pd == b"Y" and msg.msg_type != "4":
            if 122 not in msg:
                self._reject_in(msg, seq, REQUIRED_TAG_MISSING, 122, "Required tag missing: 122", now)
                return False
            orig = parse_utc(msg.get(122))
            if orig is None:
                self._reject_in(msg, seq, INCORRECT_DATA_FORMAT, 122, "Incorrect data format for value", now)
                return False
            if orig > sent:
                self._reject_in(msg, seq, SENDING_TIME_ACCURACY, 122, "OrigSendingTime later than SendingTime",
                                now)
                return False
        return True

    def _on_logon(self, msg: FixMessage, seq: int, now: float) -> None:
        c = self.config
        mt = msg.msg_type
        if mt == "5" and self._state == _LOGON_SENT:
            text = msg.get_str(58, "")
            self._events.append(SessionEvent(LOGGED_OUT, text))
            return self._disconnect(f"Logon refused: {text}" if text else "Logon refused", now)
        if mt != "A":
            return self._disconnect(f"first message is 35={mt}, not a Logon", now)
        problem = None
        if not self._comp_ids_ok(msg):
            problem = "CompID problem"
        elif self._state == _LOGON_WAIT and (
                (c.username is not None and msg.get_str(553) != c.username)
                or (c.password is not None and msg.get_str(554) != c.password)):
            problem = "Invalid username or password"
        else:
            try:
                hb = msg.get_int(108)
                enc = msg.get_int(98, 0)
            except FixError as e:
                hb, enc, problem = None, 0, f"Incorrect data format: {e}"
            if problem is None and (hb is None or hb < 0):
                problem = "HeartBtInt(108) missing or negative"
            elif problem is None and enc != 0:
                problem = f"EncryptMethod {enc} not supported"
        if problem is None:
            sent = parse_utc(msg.get(52))
            if sent is None:
                problem = "SendingTime(52) missing or malformed"
            elif c.max_sending_time_skew_s is not None and \
                    abs((self.clock() - sent).total_seconds()) > c.max_sending_time_skew_s:
                problem = "SendingTime accuracy problem"
        if problem is not None:
            return self._logout_and_disconnect(problem, now)
        reset = msg.get(141) == b"Y"
        self.last_logon_reset = reset
        if self._state == _LOGON_WAIT:
            if reset:
                self.store.reset()
            self.heartbeat_s = hb
        elif reset:
            self.store.set_next_target_seq(1)
        expected = self.store.next_target_seq
        if seq < expected:
            return self._logout_and_disconnect(
                f"MsgSeqNum too low, expecting {expected} but received {seq}", now)
        if self._state == _LOGON_WAIT:
            fields: list = [(98, 0), (108, hb)]
            if reset:
                fields.append((141, "Y"))
            self._send("A", fields, now)
        self._state = _ACTIVE
        self._events.append(SessionEvent(LOGGED_ON))
        if seq > expected:
            self._request_resend(expected, seq, now)
        else:
            self.store.set_next_target_seq(seq + 1)

    def _request_resend(self, expected: int, seq: int, now: float) -> None:
        if self._resend_until is not None and expected <= self._resend_until:
            self._resend_until = max(self._resend_until, seq)  # already asked for everything from here
            return
        self._resend_until = seq
        self._send("2", [(7, expected), (16, 0)], now)

    def _on_active(self, msg: FixMessage, seq: int, now: float) -> None:
        mt = msg.msg_type
        if mt == "4" and msg.get(123) != b"Y":
            return self._on_sequence_reset(msg, seq, now)
        expected = self.store.next_target_seq
        if seq > expected:
            if mt == "5":
                return self._on_logout(msg, now)
            if mt == "2" and self._comp_ids_ok(msg):
                self._serve_resend(msg, now)
            if self._state != _CLOSING:
                self._request_resend(expected, seq, now)
            return
        if seq < expected:
            if msg.get(43) == b"Y":
                return  # a possible duplicate we already have
            return self._logout_and_disconnect(
                f"MsgSeqNum too low, expecting {expected} but received {seq}", now)
        if not self._header_ok(msg, seq, now):
            return
        self.store.set_next_target_seq(seq + 1)
        if self._resend_until is not None and seq >= self._resend_until:
            self._resend_until = None
        if mt == "0":
            return
        if mt == "1":
            if 112 not in msg:
                return self.reject(msg, REQUIRED_TAG_MISSING, 112, "Required tag missing: 112", now)
            self._send("0", [(112, msg.get(112))], now)
            return
        if mt == "2":
            return self._serve_resend(msg, now)
        if mt == "3":
            return self._events.append(SessionEvent(REJECT_RECEIVED, msg.get_str(58, "")))
        if mt == "4":
            return self._on_gap_fill(msg, seq, now)
        if mt == "5":
            return self._on_logout(msg, now)
        if mt == "A":
            return self._logout_and_disconnect("Logon received on a logged-on session", now)
        self._app.append(msg)

    def _int_field(self, msg: FixMessage, tag: int, now: float) -> int | None:
        """A required int field, or None after rejecting the message."""
        try:
            v = msg.get_int(tag)
        except FixError:
            self.reject(msg, INCORRECT_DATA_FORMAT, tag, "Incorrect data format for value", now)
            return None
        if v is None:
            self.reject(msg, REQUIRED_TAG_MISSING, tag, f"Required tag missing: {tag}", now)
        return v

    def _on_gap_fill(self, msg: FixMessage, seq: int, now: float) -> None:
        new = self._int_field(msg, 36, now)
        if new is None:
            return
        if new <= seq:
            return self.reject(msg, VALUE_INCORRECT, 36, f"NewSeqNo {new} not above MsgSeqNum {seq}", now)
        self.store.set_next_target_seq(new)
        if self._resend_until is not None and new > self._resend_until:
            self._resend_until = None

    def _on_sequence_reset(self, msg: FixMessage, seq: int, now: float) -> None:
        """Reset mode: MsgSeqNum is ignored; the expected number only moves up."""
        for tag in (49, 56):
            if tag not in msg:
                return self.reject(msg, REQUIRED_TAG_MISSING, tag, f"Required tag missing: {tag}", now)
        if not self._comp_ids_ok(msg):
            self.reject(msg, COMPID_PROBLEM, 49 if msg.get(49) != self.config.target_comp_id.encode() else 56,
                        "CompID problem", now)
            return self._logout_and_disconnect("CompID problem", now)
        new = self._int_field(msg, 36, now)
        if new is None:
            return
        expected = self.store.next_target_seq
        if new < expected:
            return self.reject(msg, VALUE_INCORRECT, 36, f"NewSeqNo {new} below the expected {expected}", now)
        self.store.set_next_target_seq(new)
        self._resend_until = None

    def _on_logout(self, msg: FixMessage, now: float) -> None:
        text = msg.get_str(58, "")
        if self._state == _LOGOUT_SENT:
            self._events.append(SessionEvent(LOGGED_OUT, text))
            return self._disconnect("logout complete", now)
        self._send("5", [], now)
        self._events.append(SessionEvent(LOGGED_OUT, text))
        self._disconnect(f"counterparty logged out: {text}" if text else "counterparty logged out", now)

    def _serve_resend(self, msg: FixMessage, now: float) -> None:
        begin = self._int_field(msg, 7, now)
        if begin is None:
            return
        end = self._int_field(msg, 16, now)
        if end is None:
            return
        if begin < 1 or end < 0 or (end and end < begin):
            return self.reject(msg, VALUE_INCORRECT, 7 if begin < 1 else 16, "Value is incorrect (out of range) "
                               "for this tag", now)
        last = self.store.next_sender_seq - 1
        hi = last if end == 0 else min(end, last)
        stored = dict(self.store.get_sent(begin, hi))
        gap_from = None
        for s in range(begin, hi + 1):
            try:
                old = parse(stored[s]) if s in stored else None
            except FixError:
                old = None
            if old is None or old.msg_type in _GAP_FILLED:
                gap_from = s if gap_from is None else gap_from
                continue
            if gap_from is not None:
                self._gap_fill(gap_from, s, now)
                gap_from = None
            self._write(self._build(old.msg_type, old.body(), s, self._stamp(), old.get(52), poss_dup=True), now)
        if gap_from is not None:
            self._gap_fill(gap_from, hi + 1, now)

    def _gap_fill(self, seq: int, new_seq: int, now: float) -> None:
        t = self._stamp()
        self._write(self._build("4", [(123, "Y"), (36, new_seq)], seq, t, t, poss_dup=True), now)
