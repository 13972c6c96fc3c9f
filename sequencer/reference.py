"""Plain-Python references of the kernels: slow, simple, obviously right.

They are the oracles of the differential tests and the baselines of ``make bench``.
They use no compiled code; the status codes and limits are imported from the kernel
modules because they are definitions, not logic.
"""

from __future__ import annotations

# ==================================================================== order books and matching
# Reference of sequencer/book.py (RefBook, RefBooks: ITCH 5.0 market-data books) and
# sequencer/matching.py (RefMatcher). Orders live in a dict by ref, each side in a dict
# price -> list of refs in time priority; sorting happens on every query.

from dataclasses import dataclass

from . import book as B
from . import matching as M
from . import records as R

BID, ASK = B.BID, B.ASK


@dataclass
class RefOrder:
    ref: int
    side: int          # BID / ASK
    price: int
    qty: int           # remaining
    owner: int
    ts: int
    post_only: bool = False


class RefPool:
    """The order capacity several books share (book.py's one pool of slots)."""

    def __init__(self, capacity: int):
        self.capacity = capacity
        self.live = 0


class RefBook:
    def __init__(self, max_levels: int = 1 << 30, pool: RefPool | None = None):
        self.max_levels = max_levels
        self.pool = pool if pool is not None else RefPool(1 << 62)
        self.orders: dict[int, RefOrder] = {}
        self.levels: tuple[dict[int, list[int]], dict[int, list[int]]] = ({}, {})
        self.last_trade_px = self.last_trade_qty = self.last_trade_ts = 0
        self.volume = self.trades = self.dropped = self.last_ref = 0

    # ------------------------------------------------------------ queries
    def prices(self, side: int) -> list[int]:
        """Prices of a side, best first."""
        return sorted(self.levels[side], reverse=(side == BID))

    def depth(self, side: int) -> list[tuple[int, int, int]]:
        """[(price, qty, count)], best first."""
        out = []
        for p in self.prices(side):
            refs = self.levels[side][p]
            out.append((p, sum(self.orders[r].qty for r in refs), len(refs)))
        return out

    def best(self, side: int) -> tuple[int, int]:
        d = self.depth(side)
        return (d[0][0], d[0][1]) if d else (0, 0)

    def mid(self) -> int:
        bid, ask = self.best(BID)[0], self.best(ASK)[0]
        return (bid + ask) // 2 if bid and ask else 0

    def head(self) -> dict:
        return {"orders": len(self.orders), "dropped": self.dropped, "last_trade_px": self.last_trade_px,
                "last_trade_qty": self.last_trade_qty, "last_trade_ts": self.last_trade_ts,
                "volume": self.volume, "trades": self.trades, "last_ref": self.last_ref}

    # ------------------------------------------------------------ changes
    def add(self, ref, side, price, qty, owner, ts) -> int:
        """0, or the book_add error code."""
        if side not in (BID, ASK) or not 0 < price <= B.PRICE_LIMIT or not 0 < qty <= B.QTY_LIMIT:
            return B.ADD_BAD_VALUE
        if ref in self.orders:
            return B.ADD_DUPLICATE
        if self.pool.live >= self.pool.capacity:
            self.dropped += 1
            return B.ADD_POOL_FULL
        if price not in self.levels[side] and len(self.levels[side]) >= self.max_levels:
            self.dropped += 1
            return B.ADD_SIDE_FULL
        self.orders[ref] = RefOrder(ref, side, price, qty, owner, ts)
        self.levels[side].setdefault(price, []).append(ref)
        self.pool.live += 1
        return 0

    def reduce(self, ref, qty) -> int:
        """Take up to qty off an order (removed at 0); the qty taken."""
        o = self.orders[ref]
        q = min(qty, o.qty)
        o.qty -= q
        if o.qty == 0:
            del self.orders[ref]
            level = self.levels[o.side][o.price]
            level.remove(ref)
            if not level:
                del self.levels[o.side][o.price]
            self.pool.live -= 1
        return q

    def trade(self, px, qty, ts):
        self.last_trade_px, self.last_trade_qty, self.last_trade_ts = px, qty, ts
        self.volume += qty
        self.trades += 1

    def md_apply(self, action, side, ref, new_ref, price, qty, ts) -> int:
        """One ITCH 5.0 message, with book.md_apply's codes and checks in its order."""
        a = chr(action)
        if a not in "AFECXDUPQ":
            return B.MD_UNKNOWN_ACTION
        if a != "D" and not 0 < qty <= B.QTY_LIMIT:
            return B.MD_BAD_VALUE
        if a in "AFCUPQ" and not 0 < price <= B.PRICE_LIMIT:
            return B.MD_BAD_VALUE
        if a in "PQ":
            self.trade(price, qty, ts)
            return B.MD_OK
        if a in "AF":
            if side not in (R.SIDE_BUY, R.SIDE_SELL):
                return B.MD_BAD_VALUE
            return self._add_code(self.add(ref, BID if side == R.SIDE_BUY else ASK, price, qty, 0, ts))
        if ref not in self.orders:
            return B.MD_UNKNOWN_REF
        o = self.orders[ref]
        if a in "ECX":
            done = self.reduce(ref, qty)
            if a != "X":
                self.trade(o.price if a == "E" else price, done, ts)
            return B.MD_QTY_CLIPPED if done < qty else B.MD_OK
        if a == "D":
            self.reduce(ref, o.qty)
            return B.MD_OK
        # U: the old order goes, a new one (same side and owner) joins its level's tail.
        if new_ref != ref and new_ref in self.orders:
            return B.MD_DUPLICATE_REF
        self.reduce(ref, o.qty)
        return self._add_code(self.add(new_ref, o.side, price, qty, o.owner, ts))

    @staticmethod
    def _add_code(err):
        return {0: B.MD_OK, B.ADD_DUPLICATE: B.MD_DUPLICATE_REF, B.ADD_BAD_VALUE: B.MD_BAD_VALUE}.get(
            err, B.MD_BOOK_FULL)


class RefBooks:
    """n books sharing one pool of max_orders, as ``book.create_books``."""

    def __init__(self, n_books: int, max_levels: int, max_orders: int):
        self.pool = RefPool(max_orders)
        self.books = [RefBook(max_levels, self.pool) for _ in range(n_books)]

    def md_apply(self, b, action, side, ref, new_ref, price, qty, ts) -> int:
        if not 0 <= b < len(self.books):
            return B.MD_BAD_BOOK
        return self.books[b].md_apply(action, side, ref, new_ref, price, qty, ts)


class RefMatcher(RefBooks):
    """matching.py's rules, written the plain way. Fills are tuples in ``FILL`` order."""

    def __init__(self, n_books: int, max_levels: int, max_orders: int, fills_capacity: int = 1 << 62):
        super().__init__(n_books, max_levels, max_orders)
        self.fills_capacity = fills_capacity
        self.fills: list[tuple] = []

    def order(self, b, owner, side, ord_type, tif, post_only, min_qty, price, qty, ts):
        """(status, ref, executed, resting)."""
        is_market = ord_type == R.ORD_MARKET
        s = {R.SIDE_BUY: BID, R.SIDE_SELL: ASK, R.SIDE_SELL_SHORT: ASK}.get(side)
        if (not 0 <= b < len(self.books) or s is None or ord_type not in (R.ORD_LIMIT, R.ORD_MARKET)
                or tif not in (R.TIF_DAY, R.TIF_IOC, R.TIF_FOK) or not 0 < qty <= B.QTY_LIMIT
                or not 0 <= min_qty <= qty or (not is_market and not 0 < price <= B.PRICE_LIMIT)
                or (post_only and (is_market or tif != R.TIF_DAY))):
            return M.REJECT_BAD_VALUE, 0, 0, 0
        return self._submit(b, owner, s, is_market, tif, bool(post_only), min_qty,
                            0 if is_market else price, qty, ts, None)

    def cancel(self, b, ref, owner) -> int:
        if not 0 <= b < len(self.books):
            return 0
        book = self.books[b]
        o = book.orders.get(ref)
        if o is None or o.owner != owner:
            return 0
        return book.reduce(ref, o.qty)

    def replace(self, b, ref, owner, new_price, new_qty, ts):
        """(status, executed, resting, cancelled)."""
        book = self.books[b] if 0 <= b < len(self.books) else RefBook()
        o = book.orders.get(ref)
        if o is None or o.owner != owner:
            return M.REJECT_UNKNOWN_REF, 0, 0, 0
        if new_qty <= 0:
            return M.CANCELLED, 0, 0, book.reduce(ref, o.qty)
        if not 0 < new_price <= B.PRICE_LIMIT or new_qty > B.QTY_LIMIT:
            return M.REJECT_BAD_VALUE, 0, o.qty, 0
        if new_price == o.price and new_qty <= o.qty:  # size-down in place: priority kept
            if new_qty < o.qty:
                book.reduce(ref, o.qty - new_qty)
            return M.ACCEPTED, 0, new_qty, 0
        st, _, executed, resting = self._submit(b, owner, o.side, False, R.TIF_DAY, o.post_only, 0,
                                                new_price, new_qty, ts, o)
        if M.is_reject(st):
            return st, 0, o.qty, 0
        return st, executed, resting, 0

    def _submit(self, b, owner, side, is_market, tif, post_only, min_qty, price, qty, ts, old):
        book = self.books[b]
        opp = 1 - side
        makers = []  # resting orders it could trade with, in priority order
        for p in book.prices(opp):
            if not is_market and (p > price if opp == ASK else p < price):
                break
            makers.extend(book.levels[opp][p])
        avail = touch = 0
        for r in makers:
            if avail >= qty:
                break
            avail += book.orders[r].qty
            touch += 1
        avail = min(avail, qty)
        if post_only and avail > 0:
            return M.REJECT_POST_ONLY, 0, 0, 0
        if tif == R.TIF_FOK and avail < qty:
            return M.FOK_NOT_FILLED, 0, 0, 0
        if avail < min_qty and (avail > 0 or is_market or tif != R.TIF_DAY):
            return M.MIN_QTY_NOT_MET, 0, 0, 0
        if len(self.fills) + touch > self.fills_capacity:
            return M.REJECT_FILLS_FULL, 0, 0, 0
        rests = not is_market and tif == R.TIF_DAY and avail < qty
        if rests:
            # Room once the makers it takes (all of them, since it rests) and the
            # replaced order are gone.
            live_after = self.pool.live - touch - (old is not None)
            prices = set(book.levels[side])
            if old is not None and len(book.levels[side][old.price]) == 1:
                prices.discard(old.price)
            if live_after >= self.pool.capacity or (price not in prices and len(prices) >= book.max_levels):
                return M.REJECT_BOOK_FULL, 0, 0, 0
        if old is not None:
            ref = old.ref
            book.reduce(ref, old.qty)
        else:
            book.last_ref += 1
            ref = book.last_ref
        rem = qty
        taker_side = R.SIDE_BUY if side == BID else R.SIDE_SELL
        for r in makers:
            if rem == 0:
                break
            m = book.orders[r]
            q = min(rem, m.qty)
            rem -= q
            book.trade(m.price, q, ts)
            self.fills.append((book.trades, ref, r, m.price, q, m.qty - q, rem, ts, b, m.owner, owner, taker_side))
            book.reduce(r, q)
        if rests:
            book.add(ref, side, price, rem, owner, ts)
            book.orders[ref].post_only = post_only
            return M.ACCEPTED, ref, qty - rem, rem
        if rem > 0:
            return M.CANCELLED_REMAINDER, ref, qty - rem, 0
        return M.ACCEPTED, ref, qty, 0

    def run(self, op: dict) -> tuple:
        """One op (a dict of ``OPS`` fields) -> the ``RESULT`` fields as a tuple:
        (ref, executed, resting, cancelled, fill_start, nfills, status)."""
        start = len(self.fills)
        kind = op["kind"]
        ref, executed, resting, cancelled = op["ref"], 0, 0, 0
        if kind == M.OP_NEW:
            st, ref, executed, resting = self.order(op["book"], op["owner"], op["side"], op["ord_type"], op["tif"],
                                                    op["post_only"], op["min_qty"], op["price"], op["qty"], op["ts"])
            if st == M.CANCELLED_REMAINDER:
                cancelled = op["qty"] - executed
        elif kind == M.OP_CANCEL:
            cancelled = self.cancel(op["book"], op["ref"], op["owner"])
            st = M.CANCELLED if cancelled > 0 else M.REJECT_UNKNOWN_REF
        elif kind == M.OP_REPLACE:
            st, executed, resting, cancelled = self.replace(op["book"], op["ref"], op["owner"], op["price"],
                                                            op["qty"], op["ts"])
        else:
            st = M.REJECT_BAD_VALUE
        return ref, executed, resting, cancelled, start, len(self.fills) - start, st


# ==================================================================== pre-trade risk, kill switch, positions
# Reference of sequencer/risk.py (the checks, in its docstring's order), positions.py (the
# accounting) and the direct-order paths of kernels.py / orders.py that change what orders
# hold: venue acks, fills, cancels and rejects, replaces, the kill switch and cancel-all,
# margin sweeps on timer ticks. Routed and algo orders are not modelled (direct strategy
# only). Plain ints, dicts and lists; a symbol's mark is computed from RefBooks when asked.
#
# RefRisk.run(commands) -> one outcome per input: (reason, alerts). ``reason`` is the
# reject reason of a refused NewOrder (ExecReport REJECTED), of a refused Cancel/Replace or
# a venue's refusal answered to the client (CancelReject), of a venue-rejected order, else
# 0; ``alerts`` the (code, a, b) of every Alert the input raised, in order.

import time
from types import SimpleNamespace

from .state import MAX_VENUES, Capacity, clord_load_limit

INT64_MAX, INT64_MIN = (1 << 63) - 1, -(1 << 63)
CASH_ACCOUNT_BPS = 10_000
RATE_BUCKET_NS, RATE_BUCKETS = 100_000_000, 10
DONE_STATUSES = (R.STATUS_FILLED, R.STATUS_CANCELED, R.STATUS_REJECTED, R.STATUS_EXPIRED)
VALID_SIDES = (R.SIDE_BUY, R.SIDE_SELL, R.SIDE_SELL_SHORT)
VALID_TIFS = (R.TIF_DAY, R.TIF_IOC, R.TIF_FOK)
ACT_NEW, ACT_REPLACE, ACT_CANCEL = R.VENUE_ACTION_NEW, R.VENUE_ACTION_REPLACE, R.VENUE_ACTION_CANCEL


@dataclass
class RiskClient:
    active: bool = False
    killed: bool = False
    margin_call: bool = False
    max_qty: int = 0
    max_notional: int = 0
    cash: int = 0
    fees: int = 0
    max_open: int = 0
    max_position: int = 0
    max_gross: int = 0
    max_rate: int = 0
    im_bps: int = 0
    mm_bps: int = 0
    open_orders: int = 0
    reserved: int = 0
    open_notional: int = 0
    gross: int = 0          # sum of |qty| x average cost
    realized: int = 0
    rate_log: list = None   # 100 ms bucket of each counted order / replace

    def __post_init__(self):
        self.rate_log = []


@dataclass
class RiskSymbol:
    active: bool = False
    restricted: bool = False
    shortable: bool = False
    killed: bool = False
    default_venue: int = 0
    ref_price: int = 0
    collar_bps: int = 0
    collar_abs: int = 0


@dataclass
class RiskPosition:
    qty: int = 0
    avg_px: int = 0
    realized: int = 0
    fees: int = 0
    bought: int = 0
    sold: int = 0
    buy_value: int = 0
    sell_value: int = 0
    open_buy: int = 0
    open_sell: int = 0


@dataclass(eq=False)
class RiskOrder:
    order_id: int
    client_id: int
    symbol_id: int
    venue_id: int
    side: int
    ord_type: int
    price: int
    qty: int
    value_px: int            # the limit, else the mark when it was last valued
    status: int = R.STATUS_PENDING_NEW
    prev_status: int = 0
    pending: int = 0         # 0 or ACT_CANCEL / ACT_REPLACE awaiting the venue
    request: bool = False    # the pending cancel/replace is a client's (else the operator's)
    leaves: int = 0
    cum: int = 0
    notional: int = 0
    reserved: int = 0
    pend_price: int = 0
    pend_qty: int = 0

    @property
    def done(self) -> bool:
        return self.status in DONE_STATUSES


def _decode(rec) -> SimpleNamespace:
    """A record's fields as Python ints (and bytes for identifier fields)."""
    out = {}
    for name in rec.dtype.names:
        v = rec[name]
        out[name] = bytes(v) if getattr(v, "ndim", 0) else int(v)
    return SimpleNamespace(**out)


def _i64(x: int) -> int:
    """An unsigned 64-bit value as the signed int64 the kernels store it as."""
    return x - (1 << 64) if x >= 1 << 63 else x


def _overflows(a: int, b: int) -> bool:
    return not INT64_MIN <= a + b <= INT64_MAX


class RefRisk:
    """The kernels' accept / reject decisions and accounting for direct orders, plainly."""

    def __init__(self, capacity: Capacity | None = None):
        self.cap = cap = capacity or Capacity()
        self.clients = [RiskClient() for _ in range(cap.clients)]
        self.symbols = [RiskSymbol() for _ in range(cap.symbols)]
        self.symbol_names: dict[bytes, int] = {}
        self.venue_killed = [False] * MAX_VENUES
        self.venues_added: set[int] = set()
        self.orders: list[RiskOrder] = []                  # order id = index + 1
        self.clord: dict[tuple[int, bytes], int] = {}      # (client, ClOrdID) -> order id
        self.positions: dict[tuple[int, int], RiskPosition] = {}
        self.kill_global = self.kill_new = False
        self.repl_down, self.repl_policy = False, 0
        self.books = RefBooks(cap.books, cap.book_levels, cap.book_orders)
        self.book_of: dict[tuple[int, int], int] = {}      # (venue, symbol) -> book
        self.seq = self.ts = 0
        self._alerts: list[tuple[int, int, int]] = []
        self._reason = 0

    # ------------------------------------------------------------ running
    def run(self, commands) -> list[tuple[int, tuple]]:
        """Apply a RAW_COMMAND array in order; one (reason, alerts) per input."""
        raw = commands.view(R.RAW_COMMAND)
        views = {t: raw.view(d) for t, d in R.COMMAND_DTYPES.items()}
        types = R.header(raw)["type"]
        return [self.apply(_decode(views[int(t)][i]) if int(t) in views else None, int(t), raw[i:i + 1])
                for i, t in enumerate(types)]

    def apply(self, c, t: int, raw=None) -> tuple[int, tuple]:
        self._alerts, self._reason = [], 0
        if c is None:
            h = R.header(raw)[0]
            self._alert(R.REASON_UNKNOWN_RECORD, int(h["type"]), int(h["version"]))
            return self._reason, tuple(self._alerts)
        self.seq, self.ts = c.seq, c.ts
        handler = {
            R.NEW_ORDER: self._new_order, R.CANCEL: self._cancel, R.REPLACE: self._replace,
            R.VENUE_ACK: self._venue_ack, R.VENUE_FILL: self._venue_fill,
            R.VENUE_CANCELLED: self._venue_cancelled, R.VENUE_REJECT: self._venue_reject,
            R.MARKET_DATA: self._market_data, R.TIMER: self._timer, R.ADMIN: self._admin,
            R.SESSION_EVENT: lambda c: None,
        }[t]
        handler(c)
        return self._reason, tuple(self._alerts)

    def _alert(self, code, a, b):
        self._alerts.append((code, a, b))

    # ------------------------------------------------------------ marks and money
    def mark(self, sid: int) -> int:
        """Mid of the best bid and offer over every venue's book, else the reference price."""
        bids, asks = [], []
        for (v, s), b in self.book_of.items():
            if s == sid:
                bids.append(self.books.books[b].best(BID)[0])
                asks.append(self.books.books[b].best(ASK)[0])
        bid = max(bids, default=0)
        ask = min([a for a in asks if a > 0], default=0)
        if bid > 0 and ask > 0:
            return (bid + ask) // 2
        return self.symbols[sid].ref_price

    def client_positions(self, cid: int):
        return [(sid, p) for (c, sid), p in self.positions.items() if c == cid]

    def equity_and_gross(self, cid: int) -> tuple[int, int]:
        """(cash + sum of qty x mark, sum of |qty x mark|)."""
        values = [p.qty * self.mark(sid) for sid, p in self.client_positions(cid)]
        return self.clients[cid].cash + sum(values), sum(abs(v) for v in values)

    @staticmethod
    def initial_bps(cl: RiskClient) -> int:
        return cl.im_bps if cl.im_bps > 0 else CASH_ACCOUNT_BPS

    def buying_power(self, cid: int) -> int:
        cl = self.clients[cid]
        im = self.initial_bps(cl)
        if im >= CASH_ACCOUNT_BPS:
            return cl.cash - cl.reserved
        equity, gross = self.equity_and_gross(cid)
        return equity - gross * im // 10_000 - cl.reserved

    def requirement(self, cl: RiskClient, side: int, value: int) -> int:
        """Buying power an order of this value needs: buys and short sales only."""
        return 0 if side == R.SIDE_SELL else value * self.initial_bps(cl) // 10_000

    def summary(self, cid: int) -> tuple[int, int, int, int]:
        """positions.client_summary: equity, gross at marks, buying power, unrealised."""
        equity, gross = self.equity_and_gross(cid)
        unreal = sum(p.qty * (self.mark(sid) - p.avg_px) for sid, p in self.client_positions(cid))
        return equity, gross, self.buying_power(cid), unreal

    # ------------------------------------------------------------ what live orders hold
    def _hold(self, o: RiskOrder):
        cl, p = self.clients[o.client_id], self.positions[o.client_id, o.symbol_id]
        if o.side == R.SIDE_BUY:
            p.open_buy += o.leaves
        else:
            p.open_sell += o.leaves
        value = o.leaves * o.value_px
        cl.open_notional += value
        o.reserved = self.requirement(cl, o.side, value)
        cl.reserved += o.reserved

    def _unhold(self, o: RiskOrder):
        cl, p = self.clients[o.client_id], self.positions[o.client_id, o.symbol_id]
        if o.side == R.SIDE_BUY:
            p.open_buy -= o.leaves
        else:
            p.open_sell -= o.leaves
        cl.open_notional -= o.leaves * o.value_px
        cl.reserved -= o.reserved
        o.reserved = 0

    def _finish(self, o: RiskOrder, status: int):
        """A final status: nothing held any more, one live order fewer."""
        self._unhold(o)
        o.status, o.pending, o.leaves = status, 0, 0
        self.clients[o.client_id].open_orders -= 1

    # ------------------------------------------------------------ the checks
    def _global_kill(self) -> int:
        if self.kill_global:
            return R.REASON_KILL_GLOBAL
        if self.kill_new:
            return R.REASON_KILL_NEW_ORDERS
        if self.repl_down and self.repl_policy == R.POLICY_REJECT_NEW:
            return R.REASON_NOT_REPLICATED
        return 0

    def _scoped_kill(self, cid, sid, venue) -> int:
        if self.clients[cid].killed:
            return R.REASON_KILL_CLIENT
        if self.symbols[sid].killed:
            return R.REASON_KILL_SYMBOL
        if 0 < venue < MAX_VENUES and self.venue_killed[venue]:
            return R.REASON_KILL_VENUE
        return 0

    def _collar_breached(self, sid, price, mark) -> bool:
        s = self.symbols[sid]
        if mark <= 0 or price <= 0:
            return False
        dev = abs(price - mark)
        return (s.collar_abs > 0 and dev > s.collar_abs) or (s.collar_bps > 0 and dev > mark * s.collar_bps // 10_000)

    def _rate_count(self, cl: RiskClient) -> int:
        now = self.ts // RATE_BUCKET_NS
        return sum(1 for b in cl.rate_log if b > now - RATE_BUCKETS)

    def _count_rate(self, cl: RiskClient):
        if cl.max_rate > 0:  # orders are counted only while a rate limit is set
            cl.rate_log.append(self.ts // RATE_BUCKET_NS)

    def _exposure(self, cid, sid, side, add_qty, add_value, need) -> int:
        cl = self.clients[cid]
        p = self.positions.get((cid, sid), RiskPosition())
        if cl.max_position > 0:
            worst = p.qty + p.open_buy + add_qty if side == R.SIDE_BUY else p.open_sell + add_qty - p.qty
            if worst > cl.max_position:
                return R.REASON_MAX_POSITION
        if cl.max_gross > 0 and cl.gross + cl.open_notional + add_value > cl.max_gross:
            return R.REASON_MAX_GROSS
        if need > 0 and need > self.buying_power(cid):
            return R.REASON_BUYING_POWER
        return 0

    def _short_sale(self, side, sid, cid, add_qty) -> int:
        if side == R.SIDE_SELL_SHORT and not self.symbols[sid].shortable:
            return R.REASON_NOT_SHORTABLE
        if side == R.SIDE_SELL:
            p = self.positions.get((cid, sid), RiskPosition())
            if add_qty > p.qty - p.open_sell:
                return R.REASON_SELL_EXCEEDS_POSITION
        return 0

    def _size_collar_rate(self, cl, sid, ord_type, qty, price) -> tuple[int, int]:
        """Steps 4-6: max qty, a value for the order, max notional, collar, rate: (reason, value price)."""
        if qty > cl.max_qty:
            return R.REASON_MAX_QTY, 0
        value_px = price if ord_type == R.ORD_LIMIT else self.mark(sid)
        if value_px <= 0:
            return R.REASON_NO_REFERENCE_PRICE, 0
        if qty * value_px > cl.max_notional:
            return R.REASON_MAX_NOTIONAL, 0
        if ord_type == R.ORD_LIMIT and self._collar_breached(sid, price, self.mark(sid)):
            return R.REASON_PRICE_COLLAR, 0
        if cl.max_rate > 0 and self._rate_count(cl) >= cl.max_rate:
            return R.REASON_ORDER_RATE, 0
        return 0, value_px

    def _resolve_symbol(self, c) -> int:
        if c.symbol_id == 0:
            return self.symbol_names.get(c.symbol, 0) if any(c.symbol) else 0
        if c.symbol_id >= len(self.symbols) or not self.symbols[c.symbol_id].active:
            return 0
        return c.symbol_id

    def new_order_reason(self, c) -> tuple[int, int, int]:
        """(reason, symbol, venue) of a NewOrder, every check in risk.py's order."""
        reason = self._global_kill()
        if reason:
            return reason, 0, 0
        cid = c.client_id
        if not (0 < cid < len(self.clients)) or not self.clients[cid].active:
            return R.REASON_UNKNOWN_CLIENT, 0, 0
        sid = self._resolve_symbol(c)
        if sid == 0:
            return R.REASON_UNKNOWN_SYMBOL, 0, 0
        strategy = c.strategy if c.version >= 2 else R.STRATEGY_DIRECT
        if strategy != R.STRATEGY_DIRECT:
            raise NotImplementedError("RefRisk models direct orders only")
        venue = c.venue_id or self.symbols[sid].default_venue
        reason = self._scoped_kill(cid, sid, venue)
        if reason:
            return reason, sid, 0
        if (c.side not in VALID_SIDES or c.ord_type not in (R.ORD_LIMIT, R.ORD_MARKET) or c.tif not in VALID_TIFS
                or c.qty <= 0 or (c.ord_type == R.ORD_LIMIT and c.price <= 0) or not 0 < venue < MAX_VENUES
                or not any(c.cl_ord_id)):
            return R.REASON_INVALID_FIELD, sid, 0
        cl = self.clients[cid]
        if self.symbols[sid].restricted:
            return R.REASON_RESTRICTED, sid, 0
        reason = self._short_sale(c.side, sid, cid, c.qty)
        if reason:
            return reason, sid, 0
        reason, value_px = self._size_collar_rate(cl, sid, c.ord_type, c.qty, c.price)
        if reason:
            return reason, sid, 0
        if cl.max_open > 0 and cl.open_orders >= cl.max_open:
            return R.REASON_MAX_OPEN_ORDERS, sid, 0
        value = c.qty * value_px
        reason = self._exposure(cid, sid, c.side, c.qty, value, self.requirement(cl, c.side, value))
        if reason:
            return reason, sid, 0
        if (cid, c.cl_ord_id) in self.clord:
            return R.REASON_DUPLICATE_CLORDID, sid, 0
        if (len(self.orders) >= self.cap.orders or len(self.clord) >= clord_load_limit(self.cap.clord_slots)
                or ((cid, sid) not in self.positions and len(self.positions) >= self.cap.positions)):
            return R.REASON_CAPACITY, sid, 0
        return 0, sid, venue

    def _find(self, c) -> RiskOrder | None:
        if c.order_id != 0:
            return self.orders[c.order_id - 1] if 0 < c.order_id <= len(self.orders) else None
        if not any(c.orig_cl_ord_id):
            return None
        oid = self.clord.get((c.client_id, c.orig_cl_ord_id))
        return self.orders[oid - 1] if oid else None

    def _request_reason(self, c, o: RiskOrder | None) -> int:
        if o is None:
            return R.REASON_UNKNOWN_ORDER
        if o.client_id != c.client_id:
            return R.REASON_NOT_OWNER
        if o.done:
            return R.REASON_TOO_LATE
        if o.pending or o.status == R.STATUS_PENDING_NEW:
            return R.REASON_PENDING
        if not any(c.cl_ord_id):
            return R.REASON_INVALID_FIELD
        return 0

    def _register(self, c, o: RiskOrder) -> int:
        if (c.client_id, c.cl_ord_id) in self.clord:
            return R.REASON_DUPLICATE_CLORDID
        if len(self.clord) >= clord_load_limit(self.cap.clord_slots):
            return R.REASON_CAPACITY
        self.clord[c.client_id, c.cl_ord_id] = o.order_id
        return 0

    def replace_reason(self, c, o: RiskOrder) -> tuple[int, int]:
        """(reason, value price) of a Replace of live order o, in risk.py's order."""
        reason = self._global_kill() or self._scoped_kill(o.client_id, o.symbol_id, o.venue_id)
        if reason:
            return reason, 0
        cl = self.clients[o.client_id]
        limit = o.ord_type == R.ORD_LIMIT
        if c.qty <= 0 or (limit and c.price <= 0) or c.qty <= o.cum:
            return R.REASON_INVALID_FIELD, 0
        add_qty = c.qty - o.qty
        if self.symbols[o.symbol_id].restricted and add_qty > 0:  # reducing is allowed
            return R.REASON_RESTRICTED, 0
        if add_qty > 0:  # only a short sale that grows is checked again
            reason = self._short_sale(o.side, o.symbol_id, o.client_id, add_qty)
            if reason:
                return reason, 0
        reason, value_px = self._size_collar_rate(cl, o.symbol_id, o.ord_type, c.qty, c.price if limit else 0)
        if reason:
            return reason, 0
        new_value = (c.qty - o.cum) * value_px
        add_value = new_value - o.leaves * o.value_px
        need = self.requirement(cl, o.side, new_value) - o.reserved
        if add_qty > 0 or add_value > 0 or need > 0:
            reason = self._exposure(o.client_id, o.symbol_id, o.side, max(add_qty, 0), max(add_value, 0), need)
        return reason, value_px

    # ------------------------------------------------------------ client commands
    def _new_order(self, c):
        reason, sid, venue = self.new_order_reason(c)
        if reason:
            self._reason = reason
            return
        cl = self.clients[c.client_id]
        price = c.price if c.ord_type == R.ORD_LIMIT else 0
        o = RiskOrder(len(self.orders) + 1, c.client_id, sid, venue, c.side, c.ord_type, price, c.qty,
                      value_px=price if price else self.mark(sid), leaves=c.qty)
        self.orders.append(o)
        self.clord[c.client_id, c.cl_ord_id] = o.order_id
        cl.open_orders += 1
        self._count_rate(cl)
        self.positions.setdefault((c.client_id, sid), RiskPosition())
        self._hold(o)

    def _cancel(self, c):
        o = self._find(c)
        reason = (R.REASON_KILL_GLOBAL if self.kill_global else 0) or self._request_reason(c, o) \
            or self._register(c, o)
        if reason:
            self._reason = reason
            return
        o.request = True
        self._start_cancel(o)

    def _start_cancel(self, o: RiskOrder):
        o.prev_status, o.status, o.pending = o.status, R.STATUS_PENDING_CANCEL, ACT_CANCEL

    def _replace(self, c):
        o = self._find(c)
        reason = self._request_reason(c, o)
        value_px = 0
        if not reason:
            reason, value_px = self.replace_reason(c, o)
        if not reason:
            reason = self._register(c, o)
        if reason:
            self._reason = reason
            return
        self._count_rate(self.clients[o.client_id])
        o.request = True
        o.pending, o.prev_status, o.status = ACT_REPLACE, o.status, R.STATUS_PENDING_REPLACE
        o.pend_price = c.price if o.ord_type == R.ORD_LIMIT else 0
        o.pend_qty = c.qty

    # ------------------------------------------------------------ venue messages
    def _venue_order(self, order_id: int) -> RiskOrder | None:
        return self.orders[order_id - 1] if 0 < order_id <= len(self.orders) else None

    def _venue_ack(self, c):
        o = self._venue_order(c.order_id)
        if o is None:
            return self._alert(R.REASON_UNKNOWN_ORDER, _i64(c.order_id), R.VENUE_ACK)
        # (an order filled while its cancel was pending is done: a late ack is unexpected)
        unacked_cancel = o.pending == ACT_CANCEL and o.prev_status == R.STATUS_PENDING_NEW and not o.done
        if c.ack_of == ACT_NEW and (o.status == R.STATUS_PENDING_NEW or unacked_cancel):
            if o.status == R.STATUS_PENDING_NEW:
                o.status = R.STATUS_NEW
            else:
                o.prev_status = R.STATUS_NEW
            return None
        if c.ack_of == ACT_REPLACE and o.pending == ACT_REPLACE and not o.done:
            self._unhold(o)
            o.price = o.pend_price
            o.qty = max(o.pend_qty, o.cum)  # fills may have landed while it was pending
            o.leaves = o.qty - o.cum
            o.pending = 0
            o.value_px = o.price if o.ord_type == R.ORD_LIMIT else self.mark(o.symbol_id)
            if o.leaves == 0:
                o.status = R.STATUS_FILLED
                self.clients[o.client_id].open_orders -= 1
            else:
                o.status = R.STATUS_PARTIAL if o.cum > 0 else R.STATUS_NEW
                self._hold(o)
            return None
        return self._alert(R.REASON_UNEXPECTED_VENUE_MSG, _i64(c.order_id), R.VENUE_ACK)

    def _fill_problem(self, c, o: RiskOrder | None) -> int:
        if o is None:
            return R.REASON_UNKNOWN_ORDER
        if o.done:
            return R.REASON_TOO_LATE
        if c.qty <= 0 or c.price <= 0:
            return R.REASON_INVALID_FIELD
        if c.qty > o.leaves:
            return R.REASON_OVERFILL
        value = c.qty * c.price
        cl = self.clients[o.client_id]
        cash_move = -value if o.side == R.SIDE_BUY else value
        if (value > INT64_MAX or _overflows(o.notional, value) or _overflows(cl.fees, c.fee)
                or _overflows(cash_move, -c.fee) or _overflows(cl.cash, cash_move - c.fee)):
            return R.REASON_OVERFLOW
        return 0

    def _venue_fill(self, c):
        o = self._venue_order(c.order_id)
        problem = self._fill_problem(c, o)
        if problem:
            return self._alert(problem, _i64(c.order_id), c.qty)
        self._unhold(o)
        o.leaves -= c.qty
        o.cum += c.qty
        o.notional += c.qty * c.price
        if o.leaves == 0:
            o.status = R.STATUS_FILLED  # final even with a cancel / replace pending at the venue
            self.clients[o.client_id].open_orders -= 1
        else:
            if o.status in (R.STATUS_PENDING_CANCEL, R.STATUS_PENDING_REPLACE):
                o.prev_status = R.STATUS_PARTIAL
            else:
                o.status = R.STATUS_PARTIAL
            self._hold(o)
        self.book_fill(o.client_id, o.symbol_id, o.side, c.qty, c.price, c.fee)
        if self.clients[o.client_id].im_bps > 0:
            self._margin_check(o.client_id)

    def book_fill(self, cid, sid, side, qty, price, fee):
        """positions.py's accounting: average cost (half up), realised P&L on reduce, flips."""
        cl, p = self.clients[cid], self.positions[cid, sid]
        sign = 1 if side == R.SIDE_BUY else -1
        cl.gross -= abs(p.qty) * p.avg_px
        if p.qty == 0 or (p.qty > 0) == (sign > 0):        # opening or adding
            total = abs(p.qty) + qty
            cost = abs(p.qty) * p.avg_px + qty * price
            p.avg_px = (2 * cost + total) // (2 * total)  # cost / total, half up
            p.qty += sign * qty
        else:                                              # reducing, maybe through zero
            closing = min(qty, abs(p.qty))
            pnl = closing * (price - p.avg_px) * (1 if p.qty > 0 else -1)
            p.realized += pnl
            cl.realized += pnl
            p.qty += sign * qty
            if p.qty == 0:
                p.avg_px = 0
            elif qty > closing:
                p.avg_px = price
        cl.gross += abs(p.qty) * p.avg_px
        if sign > 0:
            p.bought += qty
            p.buy_value += qty * price
        else:
            p.sold += qty
            p.sell_value += qty * price
        p.fees += fee
        cl.fees += fee
        cl.cash += -sign * qty * price - fee

    def _venue_cancelled(self, c):
        o = self._venue_order(c.order_id)
        if o is None or o.done:
            code = R.REASON_UNKNOWN_ORDER if o is None else R.REASON_TOO_LATE
            return self._alert(code, _i64(c.order_id), R.VENUE_CANCELLED)
        self._finish(o, R.STATUS_CANCELED)  # unsolicited, the client's or the operator's cancel

    def _venue_reject(self, c):
        o = self._venue_order(c.order_id)
        if o is not None:
            unacked = o.status == R.STATUS_PENDING_NEW or (o.pending == ACT_CANCEL
                                                           and o.prev_status == R.STATUS_PENDING_NEW)
            if c.reject_of == ACT_NEW and unacked:
                self._finish(o, R.STATUS_REJECTED)
                self._reason = R.REASON_VENUE_REJECT
                return None
            if c.reject_of in (ACT_CANCEL, ACT_REPLACE) and o.pending == c.reject_of:
                o.pending = 0
                if o.status in (R.STATUS_PENDING_CANCEL, R.STATUS_PENDING_REPLACE):
                    o.status = o.prev_status
                if o.request:  # the client's request is answered; the operator's is not
                    self._reason = R.REASON_TOO_LATE if o.done else R.REASON_VENUE_REJECT
                return None
        code = R.REASON_UNKNOWN_ORDER if o is None else R.REASON_UNEXPECTED_VENUE_MSG
        return self._alert(code, _i64(c.order_id), R.VENUE_REJECT)

    # ------------------------------------------------------------ market data, timer
    def _market_data(self, c):
        sid, v = c.symbol_id, c.venue_id
        if not (0 < sid < len(self.symbols)) or not self.symbols[sid].active or not 0 < v < MAX_VENUES:
            return
        if (v, sid) not in self.book_of:
            if len(self.book_of) >= len(self.books.books):
                return
            self.book_of[v, sid] = len(self.book_of)
        book = self.books.books[self.book_of[v, sid]]
        volume = book.volume
        code = book.md_apply(c.action, c.side, c.ref, c.new_ref, c.price, c.qty, c.ts)
        if code in (B.MD_OK, B.MD_QTY_CLIPPED) and book.volume != volume:
            self.symbols[sid].ref_price = book.last_trade_px  # a trade moves the reference

    def _margin_check(self, cid):
        cl = self.clients[cid]
        if cl.mm_bps <= 0 or not self.client_positions(cid):
            return
        equity, gross = self.equity_and_gross(cid)
        need = gross * cl.mm_bps // 10_000
        if equity < need and not cl.margin_call:
            cl.margin_call = True
            self._alert(R.REASON_MARGIN_CALL, cid, need - equity)
        elif equity >= need and cl.margin_call:
            cl.margin_call = False
            self._alert(R.REASON_MARGIN_RESTORED, cid, equity - need)

    def _timer(self, c):
        if c.kind == R.TIMER_TICK:
            for cid in range(1, len(self.clients)):
                if self.clients[cid].active:
                    self._margin_check(cid)

    # ------------------------------------------------------------ operator commands
    def _cancel_all(self, scope, target) -> int:
        n = 0
        for o in self.orders:
            if o.done or o.pending == ACT_CANCEL:
                continue
            if ((scope == R.KILL_SYMBOL and o.symbol_id != target) or (scope == R.KILL_CLIENT and o.client_id != target)
                    or (scope == R.KILL_VENUE and o.venue_id != target)):
                continue
            o.request = False  # no client request: the order keeps its ClOrdID
            self._start_cancel(o)
            n += 1
        return n

    def _admin(self, c):
        if self._admin_ok(c) is False:
            self._alert(R.REASON_INVALID_ADMIN, c.action, c.target_id)

    def _admin_ok(self, c):
        """True done silently, False refused (alerted by the caller), None: alerted here."""
        a, tid, v0, v1 = c.action, c.target_id, c.v0, c.v1
        clients, symbols = self.clients, self.symbols
        client_ok = 0 < tid < len(clients) and clients[tid].active
        symbol_ok = 0 < tid < len(symbols) and symbols[tid].active
        if a == R.ADMIN_ADD_CLIENT:
            if not (0 < tid < len(clients)) or clients[tid].active or v0 < 0 or v1 < 0:
                return False
            clients[tid].active, clients[tid].max_qty, clients[tid].max_notional = True, v0, v1
            clients[tid].cash = c.v2
            return True
        if a == R.ADMIN_ADD_SYMBOL:
            name = c.name[:R.SYMBOL_LEN]
            if (not (0 < tid < len(symbols)) or symbols[tid].active or v0 < 0 or not 0 <= v1 < MAX_VENUES
                    or not any(name) or any(c.name[R.SYMBOL_LEN:]) or name in self.symbol_names):
                return False
            s = symbols[tid]
            s.active, s.shortable, s.ref_price, s.default_venue = True, True, v0, v1
            self.symbol_names[name] = tid
            return True
        if a == R.ADMIN_SET_LIMITS:
            if not client_ok or v0 < 0 or v1 < 0:
                return False
            clients[tid].max_qty, clients[tid].max_notional = v0, v1
            return True
        if a == R.ADMIN_SET_RISK:
            if not client_ok or v0 < 0:
                return False
            cl, scope = clients[tid], c.scope
            if scope == R.RISK_MARGIN:
                if v0 > 10_000 or not 0 <= v1 <= 10_000:
                    return False
                cl.im_bps, cl.mm_bps = v0, v1
                return True
            name = {R.RISK_MAX_OPEN_ORDERS: "max_open", R.RISK_MAX_POSITION: "max_position",
                    R.RISK_MAX_GROSS: "max_gross", R.RISK_ORDER_RATE: "max_rate"}.get(scope)
            if name is None:
                return False
            setattr(cl, name, v0)
            return True
        if a == R.ADMIN_SET_SYMBOL:
            if not symbol_ok or v0 < 0:
                return False
            s, scope = symbols[tid], c.scope
            if scope == R.SYM_COLLAR and v1 >= 0:
                s.collar_bps, s.collar_abs = v0, v1
            elif scope == R.SYM_RESTRICTED and v0 <= 1:
                s.restricted = bool(v0)
            elif scope == R.SYM_SHORTABLE and v0 <= 1:
                s.shortable = bool(v0)
            elif scope == R.SYM_REFERENCE_PRICE and v0 > 0:
                s.ref_price = v0
            else:
                return False
            return True
        if a == R.ADMIN_KILL:
            scope, on = c.scope, v0
            if on not in (0, 1):
                return False
            codes = {R.KILL_GLOBAL: R.REASON_KILL_GLOBAL, R.KILL_NEW_ORDERS: R.REASON_KILL_NEW_ORDERS,
                     R.KILL_SYMBOL: R.REASON_KILL_SYMBOL, R.KILL_CLIENT: R.REASON_KILL_CLIENT,
                     R.KILL_VENUE: R.REASON_KILL_VENUE}
            if scope == R.KILL_GLOBAL:
                self.kill_global = bool(on)
            elif scope == R.KILL_NEW_ORDERS:
                self.kill_new = bool(on)
            elif scope == R.KILL_SYMBOL and symbol_ok:
                symbols[tid].killed = bool(on)
            elif scope == R.KILL_CLIENT and client_ok:
                clients[tid].killed = bool(on)
            elif scope == R.KILL_VENUE and 0 < tid < MAX_VENUES:
                self.venue_killed[tid] = bool(on)
            else:
                return False
            self._alert(codes[scope], tid, on)
            if on == 1 and v1 == 1:
                n = self._cancel_all(R.KILL_GLOBAL if scope == R.KILL_NEW_ORDERS else scope, tid)
                self._alert(R.REASON_KILL_CANCEL, n, scope)
            return None
        if a == R.ADMIN_CANCEL_ALL:
            if not R.KILL_GLOBAL <= c.scope <= R.KILL_VENUE:
                return False
            self._alert(R.REASON_KILL_CANCEL, self._cancel_all(c.scope, tid), c.scope)
            return None
        if a == R.ADMIN_ADD_VENUE:
            if not 0 < tid < MAX_VENUES or tid in self.venues_added:
                return False
            self.venues_added.add(tid)
            return True
        if a in (R.ADMIN_DIGEST, R.ADMIN_SNAPSHOT):
            return True
        if a == R.ADMIN_REPLICATION:
            if v0 == R.REPLICATION_DOWN and v1 in (R.POLICY_REJECT_NEW, R.POLICY_DEGRADE):
                self.repl_down, self.repl_policy = True, v1
                self._alert(R.REASON_REPLICATION_DOWN, c.v2, v1)
                return None
            if v0 == R.REPLICATION_UP:
                self.repl_down, self.repl_policy = False, 0
                self._alert(R.REASON_REPLICATION_UP, self.seq, 0)
                return None
            return False
        if a in (R.ADMIN_EPOCH, R.ADMIN_STANDBY_DIVERGED):
            raise NotImplementedError("RefRisk does not model epochs")
        return False


def ref_risk_ns_per_input(commands, capacity: Capacity | None = None) -> float:
    """Wall time of RefRisk.run over a RAW_COMMAND stream, ns per input (for ``make bench``)."""
    ref = RefRisk(capacity)
    t0 = time.perf_counter_ns()
    ref.run(commands)
    return (time.perf_counter_ns() - t0) / max(1, len(commands))
