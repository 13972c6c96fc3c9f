"""The simulator's FIX 4.2 venue: FIX order entry on the same ``VenueEngine`` as OUCH.

Each configured counterparty (its SenderCompID, optionally a password in Password 554)
gets a ``FixSession`` acceptor with an in-memory store: a venue's day. The simulator
does not persist sessions across its own restarts; a restarted venue is a new day
(sequence numbers from 1). Application messages are translated into OUCH 4.2 calls on
the engine, so matching is the same code as the OUCH venue, and the engine's OUCH
answers are translated back into FIX 4.2 ExecutionReports:

- NewOrderSingle D -> Enter Order with order token = ClOrdID (11, at most 14 printable
  characters without spaces: the OUCH token). Side 54: 1 buy, 2 sell, 5 sell short;
  OrdType 40: 1 market, 2 limit (Price 44 required, at most 4 decimals); TimeInForce
  59: 0 day (default), 3 IOC. HandlInst 21 and TransactTime 60 are accepted, not
  required.
- OrderCancelRequest F (41, 11) -> Cancel Order of the order's current token (this
  ClOrdID is not a token, so it may be longer than 14 characters).
- OrderCancelReplaceRequest G (41, 11 new ClOrdID, 38 new total OrderQty, 44 optional:
  unchanged if absent) -> Replace Order with the new ClOrdID as replacement token and
  OUCH shares = OrderQty - CumQty.
- Anything else: BusinessMessageReject 35=j, 380=3 (unsupported message type).

ExecutionReports (35=8) carry ExecTransType 20=0, OrderID 37 = the venue's order
reference number (as in OUCH and ITCH; a replace that loses priority gets a new one,
"NONE" before there is one), ClOrdID 11 (and OrigClOrdID 41 on cancel / replace
answers), ExecType 150 = OrdStatus 39 of FIX 4.2 (0 new, 1 partial fill, 2 fill,
4 canceled, 5 replaced, 8 rejected), Symbol, Side, OrderQty, OrdType, Price,
TimeInForce, LastShares 32 / LastPx 31 on fills, CumQty 14, LeavesQty 151, AvgPx 6,
TransactTime 60, Text 58 and OrdRejReason 103 on rejects. ExecID 17 is deterministic:
``E<match number><liquidity flag>`` for fills (both sides of a match differ by the
flag) and ``X<n>`` (a venue-wide counter) for every other report. Fills carry the
venue-specific tag 9730 = 'A' (added liquidity) or 'R' (removed), as US venues put
liquidity indicators in a venue tag. Unsolicited cancels say why in Text: an IOC or
market remainder, or cancel-on-disconnect (OUCH reason 'Z').

Rejected cancel / replace -> OrderCancelReject 35=9 with CxlRejResponseTo 434 (1 cancel,
2 replace), CxlRejReason 102 (0 too late: the order is done, 1 unknown order, 2 venue
option: anything else), OrdStatus 39 (8 for an unknown order), 37, 11, 41.

Malformed application messages: a required tag missing, or a number that does not
parse, gets a session-level Reject (373 = 1 or 6, the FIX 4.2 rule for violations
the session can name); values that parse but the venue does not take (unsupported
side, order type, time in force, a price off the OUCH grid, an unknown symbol, a
duplicate ClOrdID) get a rejecting ExecutionReport or OrderCancelReject.

Fills against a FIX session's resting orders caused by other sessions or the
background agent reach it too: the engine keys its outputs by session user, and a FIX
session's user is its counterparty CompID (or a configured name). Reports produced
while the session is down (cancel-on-disconnect, fills of a resting order that
survives) are stored with their sequence numbers; at the next Logon the counterparty
sees the gap and asks for them, and gets them as PossDup resends.

``FixVenue`` is the sans-IO part (sessions, orders, translation); ``FixVenueServer`` the
asyncio acceptor on 127.0.0.1 unless configured otherwise.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Callable

from gateways.fix.codec import FixFramer, FixMessage
from gateways.fix.session import (ACCEPTOR, DISCONNECT, INCORRECT_DATA_FORMAT, REQUIRED_TAG_MISSING, FixSession,
                                  SessionConfig, format_utc, utc_now)
from gateways.fix.store import MemoryStore
from venues.protocols import ouch42 as O
from venues.sim.engine import VenueEngine

__all__ = ["FixVenueConfig", "FixVenue", "FixVenueServer", "Delay", "LIQUIDITY_TAG"]

log = logging.getLogger(__name__)

LIQUIDITY_TAG = 9730
_SIDES = {"1": "B", "2": "S", "5": "T"}
_TIFS = {"0": O.TIF_MARKET_HOURS, "3": O.TIF_IMMEDIATE}
_REJ_TEXT = {"S": "unknown symbol", "X": "invalid price (zero, above the maximum or off the tick)",
             "Z": "invalid quantity", "N": "minimum quantity above the order quantity",
             "O": "refused by the venue"}
_REJ_CODE = {"S": 1, "Z": 3}      # OrdRejReason 103; anything else 0 (exchange option)
_CANCEL_TEXT = {"I": "immediate or cancel: remainder canceled", "Z": "canceled on disconnect"}


@dataclass
class FixVenueConfig:
    sender_comp_id: str
    sessions: dict[str, str]                      # counterparty CompID -> password ("" = none checked)
    users: dict[str, str] = field(default_factory=dict)   # CompID -> engine session name (default the CompID)
    begin_string: str = "FIX.4.2"
    host: str = "127.0.0.1"
    port: int = 0
    cancel_on_disconnect: bool = False
    latency_us: int = 0
    logon_timeout_s: float = 10.0


@dataclass
class _Order:
    clordid: str            # the latest of its chain (the engine token while it lives)
    symbol: str
    side: str               # FIX 54
    ord_type: str           # FIX 40
    tif: str                # FIX 59
    qty: int                # total OrderQty
    px4: int                # OUCH price, 0 for market
    oref: int = 0
    cum: int = 0
    leaves: int = 0
    notional4: int = 0      # sum of qty * price(4 decimals)
    status: str = "0"


@dataclass
class _Request:
    """The cancel or replace being sent to the engine, to word its answers."""
    kind: str               # "cancel" or "replace"
    link: "Link"
    order: _Order
    clordid: str
    orig: str
    new_qty: int = 0


class _Reject(Exception):
    """A business-level refusal: ``text`` and OrdRejReason / CxlRejReason ``code``."""

    def __init__(self, text: str, code: int = 0) -> None:
        super().__init__(text)
        self.text, self.code = text, code


class _SessionReject(Exception):
    def __init__(self, reason: int, tag: int, text: str) -> None:
        super().__init__(text)
        self.reason, self.tag, self.text = reason, tag, text


class Link:
    """One counterparty: its session, its engine user, its orders, its connection."""

    def __init__(self, comp_id: str, user: str, session: FixSession) -> None:
        self.comp_id, self.user, self.session = comp_id, user, session
        self.orders: dict[str, _Order] = {}     # every ClOrdID of the day -> its order
        self.by_token: dict[str, _Order] = {}   # live engine token -> order
        self.conn: _Conn | None = None


def _px(px4: int) -> str:
    whole, frac = divmod(px4, 10_000)
    return f"{whole}.{frac:04d}".rstrip("0").rstrip(".")


def _required(msg: FixMessage, tag: int) -> str:
    v = msg.get(tag)
    if v is None:
        raise _SessionReject(REQUIRED_TAG_MISSING, tag, f"Required tag missing: {tag}")
    return v.decode("ascii", "replace")


def _decimal(msg: FixMessage, tag: int) -> Decimal:
    s = _required(msg, tag)
    try:
        d = Decimal(s)
    except InvalidOperation:
        d = None
    if d is None or not d.is_finite() or s.strip() != s:
        raise _SessionReject(INCORRECT_DATA_FORMAT, tag, "Incorrect data format for value")
    return d


def _qty(msg: FixMessage, tag: int = 38) -> int:
    d = _decimal(msg, tag)
    if d <= 0 or d != d.to_integral_value():
        raise _Reject("OrderQty must be a positive whole number", 0)
    if d > 0xFFFFFFFF:
        raise _Reject("OrderQty exceeds the limit", 3)
    return int(d)


def _price4(msg: FixMessage) -> int:
    d = _decimal(msg, 44)
    p4 = d * 10_000
    if d <= 0 or p4 != p4.to_integral_value() or p4 > O.MAX_PRICE:
        raise _Reject(f"Price {d} is not a valid venue price (positive, at most 4 decimals)")
    return int(p4)


def _check_clordid(clordid: str, token: bool = True) -> None:
    """A ClOrdID that becomes an OUCH token (new order, replace) has at most 14 characters."""
    if any(not 0x21 <= ord(c) <= 0x7E for c in clordid):
        raise _Reject("ClOrdID must be printable characters without spaces")
    if token and len(clordid) > 14:
        raise _Reject("ClOrdID must be 1 to 14 printable characters without spaces")


class FixVenue:
    """Sessions and order translation, no I/O: ``on_app`` for an application message,
    ``deliver`` for engine outputs, ``session_down`` when a connection ends."""

    def __init__(self, engine: VenueEngine, config: FixVenueConfig, now_ns: Callable[[], int],
                 clock=utc_now, after_engine: Callable[[], None] = lambda: None) -> None:
        self.engine, self.config, self.now_ns, self.clock = engine, config, now_ns, clock
        self.after_engine = after_engine
        self.links: dict[str, Link] = {}
        self._by_user: dict[str, Link] = {}
        self._exec = 0
        self._pending: _Request | None = None
        for comp_id, password in config.sessions.items():
            sc = SessionConfig(config.sender_comp_id, comp_id, role=ACCEPTOR, begin_string=config.begin_string,
                               password=password or None, logon_timeout_s=config.logon_timeout_s)
            link = Link(comp_id, config.users.get(comp_id, comp_id), FixSession(sc, MemoryStore(), clock=clock))
            if link.user in self._by_user:
                raise ValueError(f"two FIX sessions share the engine user {link.user!r}")
            self.links[comp_id] = link
            self._by_user[link.user] = link

    # ------------------------------------------------------------------ inbound
    def on_app(self, link: Link, msg: FixMessage, now: float) -> None:
        """One application message from a logged-on session; never raises."""
        try:
            mt = msg.msg_type
            if mt == "D":
                self._new_order(link, msg, now)
            elif mt == "F":
                self._cancel(link, msg, now)
            elif mt == "G":
                self._replace(link, msg, now)
            else:
                link.session.send_app("j", [(45, msg.get(34) or b"0"), (372, msg.get(35)), (380, 3),
                                            (58, f"Unsupported message type {mt}")], now)
        except _SessionReject as e:
            link.session.reject(msg, e.reason, e.tag, e.text, now)
        except Exception:  # a venue must not fall over on one message; say so and go on
            log.exception("FIX venue: failed on %r", msg)
            link.session.send_app("j", [(45, msg.get(34) or b"0"), (372, msg.get(35)), (380, 0),
                                        (58, "internal error")], now)

    def _engine(self, link: Link, payload: bytes, now: float) -> None:
        out = self.engine.on_ouch(link.user, payload, self.now_ns())
        self.after_engine()
        self.deliver(out, now)

    def _new_order(self, link: Link, msg: FixMessage, now: float) -> None:
        clordid = _required(msg, 11)
        o = _Order(clordid, _required(msg, 55), _required(msg, 54), _required(msg, 40), msg.get_str(59, "0"),
                   0, 0)
        qty_text = _required(msg, 38)
        try:
            o.qty = _qty(msg)
            _check_clordid(clordid)
            if clordid in link.orders:
                raise _Reject(f"duplicate ClOrdID {clordid}", 6)
            if o.side not in _SIDES:
                raise _Reject(f"Side {o.side} not supported (1 buy, 2 sell, 5 sell short)")
            if o.ord_type not in ("1", "2"):
                raise _Reject(f"OrdType {o.ord_type} not supported (1 market, 2 limit)")
            if o.tif not in _TIFS:
                raise _Reject(f"TimeInForce {o.tif} not supported (0 day, 3 IOC)")
            if o.ord_type == "2":
                if 44 not in msg:
                    raise _Reject("Price (44) is required for a limit order")
                o.px4 = _price4(msg)
            if not 1 <= len(o.symbol) <= 8 or not o.symbol.isascii() or not o.symbol.isprintable():
                raise _Reject(f"unknown symbol {o.symbol}", 1)
        except _Reject as e:
            return self._order_rejected(link, o, e.text, e.code, now, qty_text)
        link.orders[clordid] = link.by_token[clordid] = o
        self._engine(link, O.encode_enter_order(
            order_token=clordid, side=_SIDES[o.side], shares=o.qty, stock=o.symbol,
            price=o.px4 if o.ord_type == "2" else O.MARKET_PRICE, time_in_force=_TIFS[o.tif], firm="",
            display="Y", capacity="A", intermarket_sweep="N", minimum_quantity=0, cross_type="N",
            customer_type=" "), now)

    def _lookup(self, link: Link, msg: FixMessage, response_to: int, now: float):
        """(order, OrigClOrdID, ClOrdID) of a cancel / replace, or None after rejecting it."""
        orig, clordid = _required(msg, 41), _required(msg, 11)
        o = link.orders.get(orig)
        if o is None:
            self._cancel_rejected(link, None, clordid, orig, response_to, 1, "unknown order", now)
        elif o.status in ("2", "4", "8"):
            self._cancel_rejected(link, o, clordid, orig, response_to, 0, "order is done", now)
        else:
            try:
                _check_clordid(clordid, token=response_to == 2)
                if clordid in link.orders:
                    raise _Reject(f"duplicate ClOrdID {clordid}", 2)
            except _Reject as e:
                self._cancel_rejected(link, o, clordid, orig, response_to, 2, e.text, now)
            else:
                return o, orig, clordid
        return None

    def _cancel(self, link: Link, msg: FixMessage, now: float) -> None:
        found = self._lookup(link, msg, 1, now)
        if found is None:
            return
        o, orig, clordid = found
        link.orders[clordid] = o
        self._pending = _Request("cancel", link, o, clordid, orig)
        try:
            self._engine(link, O.encode_cancel_order(order_token=o.clordid, shares=0), now)
        finally:
            self._pending = None

    def _replace(self, link: Link, msg: FixMessage, now: float) -> None:
        new_qty_text = _decimal(msg, 38)  # session-level checks first
        if 44 in msg:
            _decimal(msg, 44)
        found = self._lookup(link, msg, 2, now)
        if found is None:
            return
        o, orig, clordid = found
        try:
            new_qty = _qty(msg)
            px4 = _price4(msg) if 44 in msg else o.px4
            if o.ord_type != "2":
                raise _Reject("only limit orders can be replaced")
            if new_qty <= o.cum:
                raise _Reject(f"OrderQty {new_qty_text} must exceed CumQty {o.cum}")
        except _Reject as e:
            return self._cancel_rejected(link, o, clordid, orig, 2, 2, e.text, now)
        self._pending = _Request("replace", link, o, clordid, orig, new_qty)
        try:
            self._engine(link, O.encode_replace_order(
                existing_order_token=o.clordid, replacement_order_token=clordid, shares=new_qty - o.cum,
                price=px4, time_in_force=_TIFS[o.tif], display="Y", intermarket_sweep="N",
                minimum_quantity=0), now)
        finally:
            self._pending = None

    # ------------------------------------------------------------------ outbound
    def _exec_id(self) -> str:
        self._exec += 1
        return f"X{self._exec}"

    def _report(self, link: Link, o: _Order, exec_type: str, status: str, now: float, *, exec_id=None,
                clordid=None, orig=None, last=None, text=None, rej=None, liq=None, qty_text=None) -> None:
        f: list = [(37, o.oref or "NONE"), (11, clordid or o.clordid)]
        if orig:
            f.append((41, orig))
        f += [(17, exec_id or self._exec_id()), (20, 0), (150, exec_type), (39, status)]
        if rej is not None:
            f.append((103, rej))
        f += [(55, o.symbol), (54, o.side), (38, qty_text or o.qty), (40, o.ord_type)]
        if o.px4:
            f.append((44, _px(o.px4)))
        f.append((59, o.tif))
        if last is not None:
            f += [(32, last[0]), (31, _px(last[1]))]
        avg = Decimal(o.notional4) / Decimal(o.cum * 10_000) if o.cum else Decimal(0)
        f += [(14, o.cum), (151, o.leaves), (6, format(avg.quantize(Decimal("1e-8")).normalize(), "f")),
              (60, format_utc(self.clock()))]
        if text:
            f.append((58, text))
        if liq:
            f.append((LIQUIDITY_TAG, liq))
        link.session.send_app("8", f, now)

    def _order_rejected(self, link, o, text, code, now, qty_text=None) -> None:
        o.status, o.leaves = "8", 0
        self._report(link, o, "8", "8", now, text=text, rej=code, qty_text=qty_text)

    def _cancel_rejected(self, link, o, clordid, orig, response_to, reason, text, now) -> None:
        link.session.send_app("9", [(37, (o.oref or "NONE") if o else "NONE"), (11, clordid), (41, orig),
                                    (39, o.status if o else "8"), (434, response_to), (102, reason),
                                    (58, text)], now)

    def deliver(self, out: dict[str, list[bytes]], now: float) -> None:
        """Engine outputs -> ExecutionReports for the FIX sessions among the keys."""
        for user, payloads in out.items():
            link = self._by_user.get(user)
            if link is None:
                continue
            for p in payloads:
                letter, rec = O.decode(p)
                self._translate(link, letter, rec, now)

    def _translate(self, link: Link, letter: str, rec, now: float) -> None:
        req = self._pending if self._pending is not None and self._pending.link is link else None
        if letter == "U":  # only ever the answer to our own replace
            o = link.by_token.pop(O.text(rec["previous_order_token"]))
            o.clordid, o.qty, o.px4 = req.clordid, req.new_qty, int(rec["price"])
            o.oref, o.leaves = int(rec["order_reference_number"]), int(rec["shares"])
            link.orders[o.clordid] = link.by_token[o.clordid] = o
            return self._report(link, o, "5", "5", now, orig=req.orig)
        token = O.text(rec["order_token"])
        reason = rec["reason"].decode() if "reason" in rec.dtype.names else ""
        if letter == "J":
            if req is not None and req.kind == "replace" and token == req.clordid:
                return self._cancel_rejected(link, req.order, req.clordid, req.orig, 2, 2,
                                             _REJ_TEXT.get(reason, "refused"), now)
            o = link.by_token.pop(token)
            link.orders.pop(token, None)   # a rejected ClOrdID may be sent again, as in the engine
            return self._order_rejected(link, o, _REJ_TEXT.get(reason, "refused"), _REJ_CODE.get(reason, 0), now)
        if letter == "I":  # the engine does not know a token we thought live
            if req is not None:
                self._cancel_rejected(link, req.order, req.clordid, req.orig, 1, 1, "unknown order", now)
            return
        o = link.by_token.get(token)
        if o is None:
            log.warning("FIX venue: %s for unknown token %r of %s", letter, token, link.comp_id)
            return
        if letter == "A":
            o.oref, o.leaves, o.status = int(rec["order_reference_number"]), int(rec["shares"]), "0"
            self._report(link, o, "0", "0", now)
        elif letter == "E":
            qty, px4 = int(rec["executed_shares"]), int(rec["execution_price"])
            liq = rec["liquidity_flag"].decode()
            o.cum += qty
            o.leaves -= qty
            o.notional4 += qty * px4
            o.status = "1" if o.leaves > 0 else "2"
            if o.leaves <= 0:
                link.by_token.pop(token, None)
            self._report(link, o, o.status, o.status, now, exec_id=f"E{int(rec['match_number'])}{liq}",
                         last=(qty, px4), liq=liq)
        elif letter == "C":
            o.leaves = max(0, o.leaves - int(rec["decrement_shares"]))
            if o.leaves == 0:
                o.status = "4"
                link.by_token.pop(token, None)
            if req is not None and req.kind == "cancel" and req.order is o:
                o.clordid = req.clordid
                return self._report(link, o, "4", o.status, now, orig=req.orig)
            self._report(link, o, "4", o.status, now, text=_CANCEL_TEXT.get(reason))

    def session_down(self, link: Link, now: float, cancel: bool = True) -> None:
        """A connection ended: the session goes down, and cancel-on-disconnect applies
        (not when the venue itself is closing, as for SoupBinTCP)."""
        link.session.disconnected(now)
        link.conn = None
        if cancel and self.config.cancel_on_disconnect:
            out = self.engine.cancel_session(link.user, self.now_ns())
            self.after_engine()
            self.deliver(out, now)


class Delay:
    """Runs calls a fixed time later, in the order they were made (at once if the delay
    is 0): the simulated distance between a venue and its clients."""

    def __init__(self, delay_s: float) -> None:
        self.delay_s = delay_s
        self._q: deque = deque()
        self._timer: asyncio.TimerHandle | None = None

    def call(self, fn, *args) -> None:
        if self.delay_s <= 0:
            fn(*args)
            return
        loop = asyncio.get_running_loop()
        self._q.append((loop.time() + self.delay_s, fn, args))
        if self._timer is None:
            self._timer = loop.call_at(self._q[0][0], self._run)

    def _run(self) -> None:
        loop = asyncio.get_running_loop()
        self._timer = None
        while self._q and self._q[0][0] <= loop.time():
            _, fn, args = self._q.popleft()
            fn(*args)
        if self._q:
            self._timer = loop.call_at(self._q[0][0], self._run)


class _Conn:
    """A client connection behind a ``Delay``; ``close`` comes after what is pending."""

    def __init__(self, writer: asyncio.StreamWriter, delay_s: float) -> None:
        self.writer = writer
        self.delay = Delay(delay_s)

    def _write(self, data: bytes) -> None:
        if not self.writer.is_closing():
            self.writer.write(data)

    def send(self, data: bytes) -> None:
        self.delay.call(self._write, data)

    def close(self) -> None:
        self.delay.call(self.writer.close)


class FixVenueServer:
    """The asyncio acceptor: routes a connection to its session by the Logon's
    SenderCompID / TargetCompID (anything else, or a session already connected, is
    closed without an answer) and drives the session's timers."""

    def __init__(self, venue: FixVenue, tick_s: float = 0.1) -> None:
        self.venue = venue
        self.config = venue.config
        self.tick_s = tick_s
        self.port = self.config.port
        self._server: asyncio.base_events.Server | None = None
        self._tasks: set[asyncio.Task] = set()
        self._closing = False

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._serve, self.config.host, self.config.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def close(self) -> None:
        """Log every session out (no answer awaited) and stop listening."""
        self._closing = True
        now = time.monotonic()
        for link in self.venue.links.values():
            if link.conn is not None:
                link.session.logout("venue closing", now)
        self.flush(now)
        for link in self.venue.links.values():
            if link.conn is not None:
                link.conn.close()
        if self._server is not None:
            self._server.close()
        for t in list(self._tasks):
            t.cancel()
        if self._server is not None:
            await self._server.wait_closed()

    def deliver(self, out: dict[str, list[bytes]]) -> None:
        """Engine outputs from outside a session (the background agent)."""
        now = time.monotonic()
        self.venue.deliver(out, now)
        self.flush(now)

    def flush(self, now: float) -> None:
        """Write every connected session's pending bytes; act on disconnect requests."""
        for link in self.venue.links.values():
            conn = link.conn
            if conn is None:
                continue
            data = link.session.take_outgoing()
            if data:
                conn.send(data)
            for ev in link.session.take_events():
                log.info("FIX %s: %s %s", link.comp_id, ev.kind, ev.reason)
                if ev.kind == DISCONNECT:
                    conn.close()

    def _attach(self, msg: FixMessage, conn: _Conn, now: float) -> Link | None:
        link = self.venue.links.get(msg.get_str(49, ""))
        if msg.msg_type != "A" or link is None or msg.get_str(56) != self.config.sender_comp_id:
            log.warning("FIX venue: connection refused, first message %r", msg)
            return None
        if link.conn is not None:
            log.warning("FIX venue: %s is already connected", link.comp_id)
            return None
        link.conn = conn
        link.session.connected(now)
        return link

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        self._tasks.add(task)
        conn = _Conn(writer, self.config.latency_us / 1e6)
        framer = FixFramer()
        link: Link | None = None
        start = time.monotonic()
        try:
            while not writer.is_closing():
                try:
                    data = await asyncio.wait_for(reader.read(65536), self.tick_s)
                except asyncio.TimeoutError:
                    data = None
                now = time.monotonic()
                if data == b"":
                    break
                for msg in framer.feed(data or b""):
                    if link is None:
                        link = self._attach(msg, conn, now)
                        if link is None:
                            return
                    link.session.on_message(msg, now)
                    for app in link.session.take_app():
                        self.venue.on_app(link, app, now)
                if link is None:
                    if now - start > self.config.logon_timeout_s:
                        return
                    continue
                link.session.tick(now)
                self.flush(now)
        except (ConnectionError, OSError) as e:
            log.warning("FIX venue: connection of %s lost: %s", link.comp_id if link else "?", e)
        finally:
            self._tasks.discard(task)
            if link is not None and link.conn is conn:
                self.venue.session_down(link, time.monotonic(), cancel=not self._closing)
                self.flush(time.monotonic())
            conn.close()
