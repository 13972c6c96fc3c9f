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
