"""Deterministic venue simulator core: OUCH 4.2 in, OUCH 4.2 + ITCH 5.0 out.

``VenueEngine`` keeps one book per symbol in the arrays of ``sequencer.book`` and runs
every order through ``sequencer.matching.run_ops`` (price-time priority, fills at the
maker's price, the replace rules of that module). It has no I/O and no clock: the
caller passes ``now_ns`` (nanoseconds since midnight, < 2**48: OUCH and ITCH
timestamps). Same config (seed included) and the same calls in the same order give
byte-identical OUCH and ITCH output.

API
- ``on_ouch(session, payload, now_ns) -> dict[str, list[bytes]]``: one inbound OUCH 4.2
  message (Enter 'O', Replace 'U', Cancel 'X', Modify 'M'); returns the outbound OUCH
  messages per session: the caller's own answers, and Executed messages for the owners
  of resting orders it traded against. The caller's key is always present (possibly
  an empty list) and first; other sessions follow in the order they were first hit.
  A payload that is not a valid inbound OUCH 4.2 message raises ``OuchError`` and
  changes nothing (the session layer should end the session).
- ``itch_out``: every ITCH 5.0 message (payloads, no length prefix) in order;
  ``start_of_day(now_ns)`` appends System Event 'O', one Stock Directory per symbol
  (stock locate = symbol index + 1), System Events 'S' and 'Q'.
- ``background_step(now_ns, n)``: n steps of the seeded liquidity agent (session
  ``config.bg_session``); returns the OUCH messages for the *other* sessions whose
  orders it traded against (same shape as ``on_ouch``).
- ``cancel_session(session, now_ns)``: cancel-on-disconnect: every live order of the
  session is cancelled in order reference number order, an OUCH Canceled (reason 'Z',
  "system cancel": the venue, not the user, cancelled it; 'U' stays "user requested")
  for the session and an ITCH Order Delete each; same return shape as ``on_ouch``.
- ``system_event(code, sessions, now_ns)``: OUCH System Event ('S' / 'E') for sessions;
  ``break_trade(match_number, reason, now_ns)``: Broken Trade to both sides of a match.
- ``bbo(symbol)``, ``fees`` (session -> fees charged, 8 decimals, negative = rebate),
  ``executed`` (session -> [Executed messages sent, shares]).

Decisions
- Order reference numbers are venue-wide (all symbols), start at 1 and are the same
  number in OUCH (Accepted / Replaced) and ITCH (Add / Executed / Cancel / Delete /
  Replace), as at NASDAQ. Match numbers are venue-wide too; both sides of a fill and
  the ITCH Order Executed carry the same one. The engine's own per-book refs stay
  internal.
- Enter: side 'B' buys, 'S' / 'T' / 'E' sell. Price 0x7FFFFFFF is a market order (any
  remainder cancelled, reason 'I'). Time in force 0 is IOC; any other value is a day
  order (timed orders do not expire). Display 'P' / 'L' is post-only (rejected 'O'
  if it would trade); 'A' / 'L' orders show in ITCH as Add Order with MPID (the
  order's firm); every other display value is shown as a plain Add Order (no hidden
  or midpoint orders). Minimum quantity not met: Accepted then Canceled ('I' for IOC
  and market orders, 'Z' for a day order that crosses the book).
- Rejected reasons: 'S' unknown stock, 'X' price 0, above the OUCH maximum or not on
  the tick, 'Z' shares 0 or above ``max_shares``, 'N' minimum quantity above shares,
  'O' anything else: duplicate token (OUCH 4.2 itself ignores duplicates; the
  simulator answers so tests and clients see it), bad side, post-only that would
  trade, book full. A token is taken only by an accepted order (a rejected one may be
  sent again). Accepted / Replaced always carry order state 'L'.
- Replace: ``shares`` is the new open quantity. Unknown / dead existing token,
  duplicate replacement token, a market price: Rejected (replacement token). Same
  price and shares <= open: reduced in place, priority kept, same order reference
  number; ITCH Order Cancel for the decrement. Otherwise a new order reference number,
  the order re-enters at the tail (and trades first if it crosses, liquidity 'R'):
  ITCH Order Replace if it did not trade, else Order Delete, the executions, then Add
  Order for what rests. Time in force, display and minimum quantity of a replace are
  not applied (the original's are kept and echoed).
- Cancel: unknown or dead token -> Cancel Reject. shares = 0 cancels all (ITCH Order
  Delete); 0 < shares < open reduces to shares (ITCH Order Cancel); shares >= open
  does nothing and answers nothing. Canceled reason 'U'.
- Modify: only a decrease of shares (0 < shares <= open) and/or a switch among the
  sell sides 'S' / 'T' / 'E'; answered with Order Modified. Anything else, or an
  unknown token, is ignored (no answer).
- Fees: liquidity flag 'A' for the resting side (charged ``make_fee`` per share) and
  'R' for the taker (``take_fee``), summed per session in ``fees``.
- No self-trade prevention (the matching engine has none).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np

from sequencer import book as B
from sequencer import matching as M
from sequencer import records as R
from venues.protocols import itch50 as I
from venues.protocols import ouch42 as O

__all__ = ["VenueConfig", "VenueEngine"]

_RATIO = R.PRICE_SCALE // 10_000          # 8 -> 4 implied decimals
_SELLS = ("S", "T", "E")


@dataclass
class VenueConfig:
    name: str = "SIM"
    venue_id: int = 1
    symbols: list[str] = field(default_factory=lambda: ["AAA"])
    tick: int = 1_000_000                 # 8 decimals: $0.01; a multiple of 10_000 (OUCH has 4)
    take_fee: int = 30_000                # per share, 8 decimals ($0.0003)
    make_fee: int = -20_000               # per share, 8 decimals (negative: a rebate)
    seed: int = 0
    initial_prices: Mapping[str, int] | Sequence[int] = field(default_factory=dict)  # 8 decimals; default 100.00
    firm: str = "SIMV"                    # the background agent's firm
    max_levels: int = 256                 # per book side
    max_orders: int = 1 << 14             # resting orders, all books
    max_shares: int = 1_000_000
    bg_session: str = "__bg__"
    bg_levels: int = 5                    # passive quotes 1..bg_levels ticks from the mid
    bg_max_orders: int = 20               # resting agent orders per symbol
    bg_lot: int = 100

    def initial_price(self, i: int) -> int:
        p = self.initial_prices
        if isinstance(p, Mapping):
            return int(p.get(self.symbols[i], 100 * R.PRICE_SCALE))
        return int(p[i])


@dataclass(slots=True)
class _Order:
    oref: int
    session: str
    token: bytes
    book: int
    eref: int          # the matching engine's ref (per book)
    side: str
    price: int         # 8 decimals
    ouch_price: int
    shares: int
    open: int
    tif: int
    firm: bytes
    display: str
    capacity: bytes
    isw: bytes
    min_qty: int
    cross_type: bytes


def _check_ts(now_ns: int) -> None:
    if not 0 <= now_ns < 1 << 48:  # checked first: ITCH could not carry it after the books changed
        raise ValueError(f"now_ns {now_ns} must be ns since midnight, 0 <= now_ns < 2**48")


def _out(out: dict, session: str) -> list:
    lst = out.get(session)
    if lst is None:
        lst = out[session] = []
    return lst


class VenueEngine:
    def __init__(self, config: VenueConfig) -> None:
        c = self.config = config
        if c.tick <= 0 or c.tick % _RATIO:
            raise ValueError(f"tick {c.tick} must be a positive multiple of {_RATIO} (OUCH has 4 decimals)")
        if not c.symbols or len(set(c.symbols)) != len(c.symbols) or len(c.symbols) >= I.LOCATE_SLOTS:
            raise ValueError("symbols must be distinct and 1..65535 of them")
        for s in c.symbols:
            O._alpha(s, 8, "symbol")
        self.symbols = list(c.symbols)
        self._sym = {s: i for i, s in enumerate(self.symbols)}
        n = len(self.symbols)
        self.bk = B.create_books(n, c.max_levels, c.max_orders)
        self._ops = M.new_ops(1)
        self._res = np.zeros(1, M.RESULT)
        self._fills = np.zeros(c.max_orders + 1, M.FILL)
        self._owners: dict[str, int] = {}
        self._tokens: dict[str, dict[bytes, int]] = {}   # session -> token -> oref
        self._orders: dict[int, _Order] = {}              # live orders by oref
        self._by_eref: dict[tuple[int, int], int] = {}    # (book, engine ref) -> oref
        self._next_oref = 0
        self._match = 0
        self._matches: dict[int, tuple] = {}   # match number -> both sides' (session, token), for breaks
        self.itch_out: list[bytes] = []
        self.fees: dict[str, int] = {}
        self.executed: dict[str, list[int]] = {}   # session -> [Executed messages, shares]: the day's tally
        self.rng = np.random.default_rng(c.seed)
        self._mid = []                                    # in ticks
        for i in range(n):
            p = c.initial_price(i)
            if p <= 0 or p % c.tick:
                raise ValueError(f"initial price {p} of {self.symbols[i]} is not a positive multiple of the tick")
            self._mid.append(p // c.tick)
        self._bg_tokens: list[list[bytes]] = [[] for _ in range(n)]
        self._bg_seq = 0

    # ------------------------------------------------------------ helpers
    def _owner(self, session: str) -> int:
        o = self._owners.get(session)
        if o is None:
            o = self._owners[session] = len(self._owners) + 1
        return o

    def _itch(self, t: str, b: int, ts: int, **f) -> None:
        self.itch_out.append(I.encode(t, stock_locate=b + 1, tracking_number=0, timestamp=ts, **f))

    def _run(self, kind, b, owner, ts, *, side=0, ord_type=0, tif=0, post_only=0, ref=0, price=0, qty=0,
             min_qty=0):
        op = self._ops
        op["kind"], op["side"], op["ord_type"], op["tif"], op["post_only"] = kind, side, ord_type, tif, post_only
        op["book"], op["owner"], op["ref"] = b, owner, ref
        op["price"], op["qty"], op["min_qty"], op["ts"] = price, qty, min_qty, ts
        nf = int(M.run_ops(self.bk, op, self._fills, self._res))
        r = self._res[0]
        return int(r["status"]), int(r["ref"]), int(r["executed"]), int(r["resting"]), nf

    def bbo(self, symbol: str) -> tuple[int, int, int, int]:
        """(bid price, bid qty, ask price, ask qty), 8 decimals; 0s for an empty side."""
        b = self._sym[symbol]
        lv, heads = self.bk[B.BK_LEVELS], self.bk[B.BK_HEADS]
        out = []
        for side in (B.BID, B.ASK):
            k = int(heads[b]["nlevels"][side])
            out += [int(lv[b, side, k - 1]["price"]), int(lv[b, side, k - 1]["qty"])] if k else [0, 0]
        return tuple(out)

    def live_orders(self, session: str) -> dict[str, int]:
        """token (stripped) -> open shares of a session's live orders."""
        return {O.text(o.token): o.open for o in self._orders.values() if o.session == session}

    # ------------------------------------------------------------ start of day
    def start_of_day(self, now_ns: int) -> None:
        _check_ts(now_ns)
        self.itch_out.append(I.encode("S", stock_locate=0, timestamp=now_ns, event_code="O"))
        for i, s in enumerate(self.symbols):
            self._itch("R", i, now_ns, stock=s, market_category="Q", financial_status="N",
                       round_lot_size=100, round_lots_only="N", issue_classification="C",
                       issue_subtype="Z", authenticity="P", short_sale_threshold="N", ipo_flag="N",
                       luld_reference_price_tier="1", etp_flag="N", etp_leverage_factor=0,
                       inverse_indicator="N")
        for e in "SQ":
            self.itch_out.append(I.encode("S", stock_locate=0, timestamp=now_ns, event_code=e))

    def system_event(self, code: str, sessions, now_ns: int) -> dict[str, list[bytes]]:
        """OUCH System Event ('S' start of day, 'E' end of day) for each of ``sessions``."""
        _check_ts(now_ns)
        msg = O.encode_system_event(timestamp=now_ns, event_code=code)
        return {s: [msg] for s in sessions}

    def break_trade(self, match_number: int, reason: str, now_ns: int) -> dict[str, list[bytes]]:
        """The venue's operator breaks a trade: Broken Trade to the session of each side
        (an unknown match number answers nothing). Positions are not unwound here: at a
        real venue that is a post-trade correction, and so it is for the core."""
        _check_ts(now_ns)
        out: dict[str, list[bytes]] = {}
        for session, token in self._matches.pop(match_number, ()):
            _out(out, session).append(O.encode_broken_trade(
                timestamp=now_ns, order_token=token, match_number=match_number, reason=reason))
        return out

    # ------------------------------------------------------------ OUCH in
    def on_ouch(self, session_user: str, payload: bytes, now_ns: int) -> dict[str, list[bytes]]:
        _check_ts(now_ns)
        letter, rec = O.decode(payload, O.INBOUND)
        for name in rec.dtype.names:  # tokens etc. must be echoable
            if rec.dtype.fields[name][0].kind == "S":
                v = bytes(rec[name])
                if any(x < 0x20 or x > 0x7E for x in v):
                    raise O.OuchError(f"{name} {v!r} has non-printable characters")
        out: dict[str, list[bytes]] = {session_user: []}
        ts = int(now_ns)
        if letter == "O":
            self._enter(out, session_user, rec, ts)
        elif letter == "U":
            self._replace(out, session_user, rec, ts)
        elif letter == "X":
            self._cancel(out, session_user, rec, ts)
        else:
            self._modify(out, session_user, rec, ts)
        return out

    def _reject(self, out, session, token, ts, reason):
        _out(out, session).append(O.encode_rejected(timestamp=ts, order_token=token, reason=reason))

    def _price8(self, px4: int) -> int | None:
        """8-decimal price of an OUCH limit price, None if not a valid price on the tick."""
        if px4 <= 0 or px4 > O.MAX_PRICE:
            return None
        p = px4 * _RATIO
        return None if p % self.config.tick else p

    def _enter(self, out, session, rec, ts):
        c = self.config
        token = bytes(rec["order_token"])
        toks = self._tokens.setdefault(session, {})
        side = rec["side"].decode()
        b = self._sym.get(O.text(rec["stock"]))
        shares = int(rec["shares"])
        px4 = int(rec["price"])
        market = px4 == O.MARKET_PRICE
        min_qty = int(rec["minimum_quantity"])
        display = rec["display"].decode()
        tif = int(rec["time_in_force"])
        ioc = tif == O.TIF_IMMEDIATE or market
        price = 0 if market else self._price8(px4)
        reason = None
        if token in toks or side not in ("B",) + _SELLS:
            reason = "O"
        elif b is None:
            reason = "S"
        elif price is None:
            reason = "X"
        elif shares <= 0 or shares > c.max_shares:
            reason = "Z"
        elif min_qty > shares:
            reason = "N"
        if reason:
            return self._reject(out, session, token, ts, reason)
        post_only = display in ("P", "L")
        st, eref, executed, resting, nf = self._run(
            M.OP_NEW, b, self._owner(session), ts, side=R.SIDE_BUY if side == "B" else R.SIDE_SELL,
            ord_type=R.ORD_MARKET if market else R.ORD_LIMIT, tif=R.TIF_IOC if ioc else R.TIF_DAY,
            post_only=int(post_only), price=price, qty=shares, min_qty=min_qty)
        if M.is_reject(st):
            return self._reject(out, session, token, ts, "O")
        self._next_oref += 1
        o = _Order(self._next_oref, session, token, b, eref, side, price, px4, shares, shares, tif,
                   bytes(rec["firm"]), display, bytes(rec["capacity"]), bytes(rec["intermarket_sweep"]),
                   min_qty, bytes(rec["cross_type"]))
        toks[token] = o.oref
        _out(out, session).append(O.encode_accepted(
            timestamp=ts, order_token=token, side=side, shares=shares, stock=self.symbols[b], price=px4,
            time_in_force=tif, firm=o.firm, display=display, order_reference_number=o.oref,
            capacity=o.capacity, intermarket_sweep=o.isw, minimum_quantity=min_qty,
            cross_type=o.cross_type, order_state="L", bbo_weight_indicator=" "))
        self._fills_out(out, o, nf, ts)
        o.open = resting
        if resting > 0:
            self._rest(o, ts)
        elif st != M.ACCEPTED:  # IOC / market remainder, min qty not met
            reason = "Z" if st == M.MIN_QTY_NOT_MET and not ioc else "I"
            _out(out, session).append(O.encode_canceled(
                timestamp=ts, order_token=token, decrement_shares=shares - executed, reason=reason))

    def _rest(self, o: _Order, ts: int) -> None:
        self._orders[o.oref] = o
        self._by_eref[(o.book, o.eref)] = o.oref
        f = dict(order_ref=o.oref, side="B" if o.side == "B" else "S", shares=o.open,
                 stock=self.symbols[o.book], price=o.price // _RATIO)
        if o.display in ("A", "L"):
            self._itch("F", o.book, ts, attribution=o.firm, **f)
        else:
            self._itch("A", o.book, ts, **f)

    def _drop(self, o: _Order) -> None:
        self._orders.pop(o.oref, None)
        self._by_eref.pop((o.book, o.eref), None)

    def _fills_out(self, out, taker: _Order, nf: int, ts: int) -> None:
        if nf == 0:
            return
        c = self.config
        f = self._fills[:nf]
        for mref, qty, px, leaves in zip(f["maker_ref"].tolist(), f["qty"].tolist(), f["price"].tolist(),
                                         f["maker_leaves"].tolist()):
            maker = self._orders[self._by_eref[(taker.book, mref)]]
            self._match += 1
            m = self._match
            px4 = px // _RATIO
            self._itch("E", taker.book, ts, order_ref=maker.oref, executed_shares=qty, match_number=m)
            _out(out, taker.session).append(O.encode_executed(
                timestamp=ts, order_token=taker.token, executed_shares=qty, execution_price=px4,
                liquidity_flag="R", match_number=m))
            _out(out, maker.session).append(O.encode_executed(
                timestamp=ts, order_token=maker.token, executed_shares=qty, execution_price=px4,
                liquidity_flag="A", match_number=m))
            self.fees[taker.session] = self.fees.get(taker.session, 0) + qty * c.take_fee
            self.fees[maker.session] = self.fees.get(maker.session, 0) + qty * c.make_fee
            for who in (taker.session, maker.session):
                tally = self.executed.setdefault(who, [0, 0])
                tally[0] += 1
                tally[1] += qty
            self._matches[m] = ((taker.session, taker.token), (maker.session, maker.token))
            maker.open = leaves
            if leaves == 0:
                self._drop(maker)

    def _live(self, session, token) -> _Order | None:
        oref = self._tokens.get(session, {}).get(token)
        o = self._orders.get(oref) if oref else None
        return o if o is not None and o.token == token else None

    def _replace(self, out, session, rec, ts):
        c = self.config
        old_tok = bytes(rec["existing_order_token"])
        new_tok = bytes(rec["replacement_order_token"])
        toks = self._tokens.setdefault(session, {})
        o = self._live(session, old_tok)
        shares = int(rec["shares"])
        px4 = int(rec["price"])
        price = self._price8(px4)
        reason = None
        if o is None or new_tok in toks:
            reason = "O"
        elif price is None:
            reason = "X"
        elif shares <= 0 or shares > c.max_shares:
            reason = "Z"
        if reason:
            return self._reject(out, session, new_tok, ts, reason)
        in_place = price == o.price and shares <= o.open
        st, _, executed, resting, nf = self._run(M.OP_REPLACE, o.book, self._owner(session), ts, ref=o.eref,
                                                 price=price, qty=shares)
        if M.is_reject(st):
            return self._reject(out, session, new_tok, ts, "O")
        old_oref, old_open = o.oref, o.open
        o.token = new_tok
        if in_place:
            if shares < old_open:
                self._itch("X", o.book, ts, order_ref=o.oref, cancelled_shares=old_open - shares)
            o.open = shares
        else:
            self._drop(o)
            self._next_oref += 1
            o.oref = self._next_oref
            o.price, o.ouch_price, o.shares, o.open = price, px4, shares, resting
            if nf == 0:
                self._orders[o.oref] = o
                self._by_eref[(o.book, o.eref)] = o.oref
                self._itch("U", o.book, ts, original_order_ref=old_oref, new_order_ref=o.oref,
                           shares=resting, price=px4)
            else:
                self._itch("D", o.book, ts, order_ref=old_oref)
        toks[new_tok] = o.oref
        _out(out, session).append(O.encode_replaced(
            timestamp=ts, replacement_order_token=new_tok, side=o.side, shares=shares,
            stock=self.symbols[o.book], price=px4, time_in_force=o.tif, firm=o.firm, display=o.display,
            order_reference_number=o.oref, capacity=o.capacity, intermarket_sweep=o.isw,
            minimum_quantity=o.min_qty, cross_type=o.cross_type, order_state="L",
            previous_order_token=old_tok, bbo_weight_indicator=" "))
        if not in_place and nf:
            self._fills_out(out, o, nf, ts)
            if resting > 0:
                self._rest(o, ts)

    def _reduce(self, o: _Order, shares: int, ts: int) -> int:
        """Cut a live order's open qty to shares (0: cancel); the decrement."""
        owner = self._owner(o.session)
        if shares == 0:
            st, *_ = self._run(M.OP_CANCEL, o.book, owner, ts, ref=o.eref)
            assert st == M.CANCELLED, st
            self._itch("D", o.book, ts, order_ref=o.oref)
            dec = o.open
            o.open = 0
            self._drop(o)
        else:
            st, *_ = self._run(M.OP_REPLACE, o.book, owner, ts, ref=o.eref, price=o.price, qty=shares)
            assert st == M.ACCEPTED, st
            dec = o.open - shares
            if dec:
                self._itch("X", o.book, ts, order_ref=o.oref, cancelled_shares=dec)
            o.open = shares
        return dec

    def _cancel(self, out, session, rec, ts):
        token = bytes(rec["order_token"])
        o = self._live(session, token)
        if o is None:
            _out(out, session).append(O.encode_cancel_reject(timestamp=ts, order_token=token))
            return
        shares = int(rec["shares"])
        if shares >= o.open:
            return
        dec = self._reduce(o, shares, ts)
        _out(out, session).append(O.encode_canceled(timestamp=ts, order_token=token, decrement_shares=dec,
                                                    reason="U"))

    def _modify(self, out, session, rec, ts):
        token = bytes(rec["order_token"])
        o = self._live(session, token)
        side = rec["side"].decode()
        shares = int(rec["shares"])
        if (o is None or not 0 < shares <= o.open
                or (side != o.side and not (side in _SELLS and o.side in _SELLS))):
            return
        if shares < o.open:
            self._reduce(o, shares, ts)
        o.side = side
        _out(out, session).append(O.encode_order_modified(timestamp=ts, order_token=token, side=side,
                                                          shares=shares))

    def cancel_session(self, session_user: str, now_ns: int) -> dict[str, list[bytes]]:
        """Cancel every live order of a session (cancel on disconnect), by order reference number."""
        _check_ts(now_ns)
        out: dict[str, list[bytes]] = {session_user: []}
        for oref in sorted(k for k, o in self._orders.items() if o.session == session_user):
            o = self._orders[oref]
            dec = self._reduce(o, 0, now_ns)
            out[session_user].append(O.encode_canceled(timestamp=now_ns, order_token=o.token,
                                                       decrement_shares=dec, reason="Z"))
        return out

    # ------------------------------------------------------------ background liquidity
    def _bg_send(self, merged, payload, ts):
        for s, msgs in self.on_ouch(self.config.bg_session, payload, ts).items():
            if s != self.config.bg_session and msgs:
                _out(merged, s).extend(msgs)

    def background_step(self, now_ns: int, n: int = 1) -> dict[str, list[bytes]]:
        """n steps of the seeded agent: per step one symbol's mid takes a random-walk
        step, then the agent posts a passive quote 1..bg_levels ticks from the mid
        (never crossing the book), cancels one of its quotes, or (10%) sends an IOC
        that takes the best opposite level and up to two ticks beyond. Returns the
        OUCH messages for other sessions whose orders traded."""
        _check_ts(now_ns)
        c = self.config
        rng = self.rng
        merged: dict[str, list[bytes]] = {}
        tick = c.tick
        bg = c.bg_session
        for _ in range(n):
            b = int(rng.integers(len(self.symbols)))
            self._mid[b] = max(self._mid[b] + int(rng.integers(-1, 2)), c.bg_levels + 2)
            mid = self._mid[b]
            bid, _, ask, _ = self.bbo(self.symbols[b])
            live = [t for t in self._bg_tokens[b] if self._live(bg, t) is not None]
            self._bg_tokens[b] = live
            u = float(rng.random())
            buy = bool(rng.integers(2))
            qty = c.bg_lot * int(rng.integers(1, 6))
            if u < 0.10:  # aggressive IOC
                opp = ask if buy else bid
                if opp == 0:
                    continue
                px = opp // tick + (1 if buy else -1) * int(rng.integers(0, 3))
                if px <= 0:
                    continue
                self._bg_order(merged, b, buy, px * tick, qty, 0, now_ns)
            elif live and (u < 0.35 or len(live) >= c.bg_max_orders):  # cancel
                k = 0 if len(live) >= c.bg_max_orders else int(rng.integers(len(live)))
                self._bg_send(merged, O.encode_cancel_order(order_token=live[k], shares=0), now_ns)
            else:  # passive quote
                off = int(rng.integers(1, c.bg_levels + 1))
                if buy:
                    px = mid - off
                    if ask:
                        px = min(px, ask // tick - 1)
                else:
                    px = mid + off
                    if bid:
                        px = max(px, bid // tick + 1)
                if px <= 0:
                    continue
                tok = self._bg_order(merged, b, buy, px * tick, qty, O.TIF_MARKET_HOURS, now_ns)
                if self._live(bg, tok) is not None:
                    self._bg_tokens[b].append(tok)
        return merged

    def _bg_order(self, merged, b, buy, price, qty, tif, ts) -> bytes:
        self._bg_seq += 1
        tok = f"BG{self._bg_seq:012d}".encode()
        self._bg_send(merged, O.encode_enter_order(
            order_token=tok, side="B" if buy else "S", shares=qty, stock=self.symbols[b],
            price=price // _RATIO, time_in_force=tif, firm=self.config.firm, display="Y", capacity="P",
            intermarket_sweep="N", minimum_quantity=0, cross_type="N", customer_type=" "), ts)
        return tok
