"""Price-time priority matching engine over the book arrays of book.py.

The venue simulator's engine: it hands a whole numpy batch of ``OPS`` to ``run_ops``
(one compiled call) and reads one ``RESULT`` per op plus the ``FILL`` records. The
``match_*`` functions are ``inline="always"`` for kernels that drive it themselves.

Rules and decisions:

- Price-time priority: the best opposite level first, FIFO inside a level; every
  fill is at the resting (maker) order's price.
- Refs come from ``heads[b].last_ref + 1``, handed out only to orders that reach the
  book (they execute, rest, or have their IOC / market remainder cancelled); rejected,
  FOK_NOT_FILLED and MIN_QTY_NOT_MET orders get ref 0.
- Market orders (price ignored) never rest: any remainder is cancelled
  (CANCELLED_REMAINDER), as is the remainder of an IOC. DAY limit remainders rest at
  the tail of their level.
- FOK: if less than the whole qty can execute now, nothing happens (FOK_NOT_FILLED).
- Post-only: only limit DAY; if it would execute at all it is rejected untouched.
- min_qty (0 <= min_qty <= qty) is checked once, at entry, against the qty that can
  execute at once. Below it nothing executes (MIN_QTY_NOT_MET) for IOC, FOK and market
  orders, and for a DAY limit that crosses the book: letting it rest untouched would
  leave a crossed book. A DAY limit that does not cross at all rests (status ACCEPTED)
  like any other; min_qty is not stored and not applied to later aggressors.
- Every check happens before any state changes: a rejected op changes nothing. This
  includes room for the fills (REJECT_FILLS_FULL when ``nf`` + makers to be touched >
  ``len(fills)``) and room to rest (REJECT_BOOK_FULL when the remainder needs a new
  level on a full side or an order slot that the execution does not free).
- No self-trade prevention: an owner's orders can match each other.
- SIDE_SELL_SHORT trades as a sell; fills record taker_side as SIDE_BUY / SIDE_SELL.
- Cancel and replace must name the book, the ref and the owner that entered it.
- Replace: new_qty is the new open (remaining) qty. Same price and new_qty <= open
  qty: reduced in place, keeping time priority. Any other change re-enters the order
  with the same ref at the tail of its new level, executing first if it crosses (as a
  DAY limit, post-only if the original was). new_qty <= 0 cancels the order.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from . import records as R
from .book import (
    ASK, BID, BK_HEADS, BK_LEVELS, BK_ORDERS, BK_META, FLAG_POST_ONLY, META_LIVE, PRICE_LIMIT, QTY_LIMIT,
    _locate, _record_trade, _reduce_at, book_add, book_find, book_reduce, book_remove,
)

FILL = np.dtype([
    ("match_id", "<u8"),        # heads[b].trades after this execution: unique per book
    ("taker_ref", "<u8"), ("maker_ref", "<u8"),
    ("price", "<i8"), ("qty", "<i8"),
    ("maker_leaves", "<i8"), ("taker_leaves", "<i8"),  # open qty of each after this fill
    ("ts", "<i8"),
    ("book", "<i4"), ("maker_owner", "<u4"), ("taker_owner", "<u4"),
    ("taker_side", "u1"),       # records.SIDE_BUY / SIDE_SELL
    ("_pad", "u1", (3,)),
])

OPS = np.dtype([
    ("kind", "u1"),             # OP_*
    ("side", "u1"), ("ord_type", "u1"), ("tif", "u1"),  # records.SIDE_* / ORD_* / TIF_*
    ("post_only", "u1"), ("_pad", "u1", (3,)),
    ("book", "<i4"), ("owner", "<u4"),
    ("ref", "<u8"),             # cancel / replace: the order's ref
    ("price", "<i8"), ("qty", "<i8"),  # replace: new price, new open qty
    ("min_qty", "<i8"), ("ts", "<i8"),
])

RESULT = np.dtype([
    ("ref", "<u8"),             # the order's ref (new orders: 0 unless it reached the book)
    ("executed", "<i8"),
    ("resting", "<i8"),         # open qty left in the book
    ("cancelled", "<i8"),       # qty cancelled: cancel op, replace to 0, IOC/market remainder
    ("fill_start", "<i4"), ("nfills", "<i4"),  # its fills: fills[fill_start:fill_start + nfills]
    ("status", "<i4"), ("_pad", "<i4"),
])

OP_NEW, OP_CANCEL, OP_REPLACE = 1, 2, 3

ACCEPTED = 0             # executed and/or rested as asked (cancel op: see CANCELLED)
CANCELLED_REMAINDER = 1  # IOC / market: the part that did not execute is cancelled
FOK_NOT_FILLED = 2
MIN_QTY_NOT_MET = 3
CANCELLED = 4            # cancel op, or replace with new_qty <= 0
REJECT_BAD_VALUE = 5     # from here on: rejected, nothing changed
REJECT_POST_ONLY = 6
REJECT_BOOK_FULL = 7
REJECT_FILLS_FULL = 8
REJECT_UNKNOWN_REF = 9   # cancel / replace: no such ref in that book for that owner
STATUS_NAMES = {ACCEPTED: "accepted", CANCELLED_REMAINDER: "cancelled remainder",
                FOK_NOT_FILLED: "FOK not filled", MIN_QTY_NOT_MET: "min qty not met", CANCELLED: "cancelled",
                REJECT_BAD_VALUE: "bad value", REJECT_POST_ONLY: "post-only would cross",
                REJECT_BOOK_FULL: "book full", REJECT_FILLS_FULL: "fills buffer full",
                REJECT_UNKNOWN_REF: "unknown ref"}

ORD_MARKET, ORD_LIMIT = R.ORD_MARKET, R.ORD_LIMIT
TIF_DAY, TIF_IOC, TIF_FOK = R.TIF_DAY, R.TIF_IOC, R.TIF_FOK
SIDE_BUY, SIDE_SELL, SIDE_SELL_SHORT = R.SIDE_BUY, R.SIDE_SELL, R.SIDE_SELL_SHORT


def is_reject(status: int) -> bool:
    return status >= REJECT_BAD_VALUE


# ---------------------------------------------------------------- internals
@njit(cache=True, inline="always", _nrt=False)
def _crosses(opp, level_px, limit):
    """Does a limit order against side ``opp`` reach a level at ``level_px``?"""
    if opp == ASK:
        return level_px <= limit
    return level_px >= limit


@njit(cache=True, inline="always", _nrt=False)
def _scan(bk, b, opp, is_market, limit, qty):
    """(executable qty capped at qty, resting orders it would touch), changing nothing."""
    orders = bk[BK_ORDERS]
    lv = bk[BK_LEVELS][b, opp]
    i = np.int64(bk[BK_HEADS][b].nlevels[opp]) - 1
    avail = np.int64(0)
    touch = np.int64(0)
    while i >= 0 and avail < qty:
        L = lv[i]
        if not is_market and not _crosses(opp, L.price, limit):
            break
        if avail + L.qty <= qty:  # the whole level
            avail += L.qty
            touch += L.count
        else:                     # part of it: count the orders reached
            s = L.head
            while avail < qty:
                avail += orders[s].qty
                touch += 1
                s = orders[s].next
        i -= 1
    return min(avail, qty), touch


@njit(cache=True, inline="always", _nrt=False)
def _room_to_rest(bk, b, side, price, touch, old):
    """Can a remainder rest at ``price`` once ``touch`` makers are consumed and the
    replaced order ``old`` (-1: none) has left?"""
    heads, levels, orders, meta = bk[BK_HEADS], bk[BK_LEVELS], bk[BK_ORDERS], bk[BK_META]
    freed = touch + (1 if old >= 0 else 0)
    if meta[META_LIVE] - freed >= len(orders):
        return False
    lv = levels[b, side]
    n = np.int64(heads[b].nlevels[side])
    i, found = _locate(lv, n, side, price)
    if old >= 0:
        oi, _ = _locate(lv, n, side, orders[old].price)
        if lv[oi].count == 1:  # its level goes with it
            n -= 1
            if found and oi == i:
                found = False
    return found or n < lv.shape[0]


@njit(cache=True, inline="always", _nrt=False)
def _execute(bk, b, opp, is_market, limit, qty, ref, owner, side_code, ts, fills, nf):
    """Take up to qty from side ``opp`` in priority order; (executed, nf)."""
    orders = bk[BK_ORDERS]
    h = bk[BK_HEADS][b]
    lv = bk[BK_LEVELS][b, opp]
    rem = qty
    while rem > 0:
        n = np.int64(h.nlevels[opp])
        if n == 0:
            break
        px = lv[n - 1].price
        if not is_market and not _crosses(opp, px, limit):
            break
        slot = np.int64(lv[n - 1].head)
        m = orders[slot]
        q = min(rem, m.qty)
        rem -= q
        _record_trade(h, px, q, ts)
        f = fills[nf]
        f.match_id = h.trades
        f.taker_ref = ref
        f.maker_ref = m.ref
        f.price = px
        f.qty = q
        f.maker_leaves = m.qty - q
        f.taker_leaves = rem
        f.ts = ts
        f.book = b
        f.maker_owner = m.owner
        f.taker_owner = owner
        f.taker_side = side_code
        nf += 1
        _reduce_at(bk, b, opp, n - 1, slot, q)
    return qty - rem, nf


@njit(cache=True, _nrt=False)
def _submit(bk, b, owner, side, is_market, tif, post_only, min_qty, price, qty, ts, fills, nf, old):
    """Check, then execute and rest an order already validated; ``old`` >= 0 re-enters
    that resting order (a replace: same ref, same owner). (status, ref, executed, resting, nf).

    The one function here that is not inlined: every entry path calls it, a plain call
    costs nothing next to matching, and each inlined copy would cost seconds of compile."""
    none = np.uint64(0)
    opp = 1 - side
    avail, touch = _scan(bk, b, opp, is_market, price, qty)
    if post_only and avail > 0:
        return REJECT_POST_ONLY, none, 0, 0, nf
    if tif == TIF_FOK and avail < qty:
        return FOK_NOT_FILLED, none, 0, 0, nf
    if avail < min_qty and (avail > 0 or is_market or tif != TIF_DAY):
        return MIN_QTY_NOT_MET, none, 0, 0, nf
    if nf + touch > len(fills):
        return REJECT_FILLS_FULL, none, 0, 0, nf
    rests = not is_market and tif == TIF_DAY and avail < qty
    if rests and not _room_to_rest(bk, b, side, price, touch, old):
        return REJECT_BOOK_FULL, none, 0, 0, nf
    h = bk[BK_HEADS][b]
    if old >= 0:
        ref = bk[BK_ORDERS][old].ref
        book_remove(bk, old)
    else:
        h.last_ref += np.uint64(1)
        ref = h.last_ref
    side_code = SIDE_BUY if side == BID else SIDE_SELL
    executed, nf = _execute(bk, b, opp, is_market, price, qty, ref, owner, side_code, ts, fills, nf)
    rem = qty - executed
    if rests:
        slot = book_add(bk, b, ref, side, price, rem, owner, ts)
        if slot >= 0:  # always: room was checked
            if post_only:
                bk[BK_ORDERS][slot].flags |= FLAG_POST_ONLY
            return ACCEPTED, ref, executed, rem, nf
    if rem > 0:
        return CANCELLED_REMAINDER, ref, executed, 0, nf
    return ACCEPTED, ref, executed, 0, nf


# ---------------------------------------------------------------- API
@njit(cache=True, inline="always", _nrt=False)
def match_order(bk, b, owner, side, ord_type, tif, post_only, min_qty, price, qty, ts, fills, nf):
    """Enter a new order into book b; fills are written from ``fills[nf]``.

    Returns (status, ref, executed_qty, resting_qty, nf after the fills)."""
    is_market = ord_type == ORD_MARKET
    s = np.int64(-1)
    if side == SIDE_BUY:
        s = np.int64(BID)
    elif side == SIDE_SELL or side == SIDE_SELL_SHORT:
        s = np.int64(ASK)
    if (b < 0 or b >= len(bk[BK_HEADS]) or s < 0 or (ord_type != ORD_LIMIT and not is_market)
            or (tif != TIF_DAY and tif != TIF_IOC and tif != TIF_FOK)
            or qty <= 0 or qty > QTY_LIMIT or min_qty < 0 or min_qty > qty
            or (not is_market and (price <= 0 or price > PRICE_LIMIT))
            or (post_only != 0 and (is_market or tif != TIF_DAY))):
        return REJECT_BAD_VALUE, np.uint64(0), np.int64(0), np.int64(0), np.int64(nf)
    px = np.int64(0) if is_market else np.int64(price)
    return _submit(bk, np.int64(b), np.uint32(owner), s, is_market, np.int64(tif), post_only != 0,
                   np.int64(min_qty), px, np.int64(qty), np.int64(ts), fills, np.int64(nf), np.int64(-1))


@njit(cache=True, inline="always", _nrt=False)
def match_cancel(bk, b, ref, owner):
    """Cancel order ``ref`` of ``owner`` in book b; the qty cancelled (0: no such order)."""
    slot = book_find(bk, b, ref)
    if slot < 0 or bk[BK_ORDERS][slot].owner != owner:
        return np.int64(0)
    return book_remove(bk, slot)


@njit(cache=True, inline="always", _nrt=False)
def match_replace(bk, b, ref, owner, new_price, new_qty, ts, fills, nf):
    """Change the price and/or open qty of a resting order (rules in the module doc).

    Returns (status, executed, resting, cancelled, nf after the fills)."""
    orders = bk[BK_ORDERS]
    zero = np.int64(0)
    nf = np.int64(nf)
    slot = book_find(bk, b, ref)
    if slot < 0 or orders[slot].owner != owner:
        return REJECT_UNKNOWN_REF, zero, zero, zero, nf
    o = orders[slot]
    old_qty = o.qty
    if new_qty > 0 and (new_price <= 0 or new_price > PRICE_LIMIT or new_qty > QTY_LIMIT):
        return REJECT_BAD_VALUE, zero, old_qty, zero, nf
    if new_qty <= 0 or (new_price == o.price and new_qty <= old_qty):
        # A cancel, or a size-down in place that keeps time priority (one book_reduce
        # call site for both: each inlined copy costs compile time).
        cancel = new_qty <= 0
        take = old_qty if cancel else old_qty - new_qty
        if take > 0:
            book_reduce(bk, slot, take)
        if cancel:
            return CANCELLED, zero, zero, old_qty, nf
        return ACCEPTED, zero, np.int64(new_qty), zero, nf
    st, _, executed, resting, nf2 = _submit(bk, np.int64(b), np.uint32(owner), np.int64(o.side), False,
                                            np.int64(TIF_DAY), o.flags & FLAG_POST_ONLY != 0, zero,
                                            np.int64(new_price), np.int64(new_qty), np.int64(ts), fills, nf,
                                            np.int64(slot))
    if st >= REJECT_BAD_VALUE:  # nothing changed: the order rests as it was
        return st, zero, old_qty, zero, nf
    return st, executed, resting, zero, nf2


# ---------------------------------------------------------------- batch driver
@njit(cache=True, _nrt=False)
def run_ops(bk, ops, fills, results):
    """Apply ``OPS`` in order, one ``RESULT`` each; fills from ``fills[0]``. Returns the
    number of fills written. Size ``fills`` for one fill per resting order crossed."""
    nf = np.int64(0)
    for i in range(len(ops)):
        op = ops[i]
        b = np.int64(op.book)
        start = nf
        ref = op.ref
        executed = np.int64(0)
        resting = np.int64(0)
        cancelled = np.int64(0)
        if op.kind == OP_NEW:
            st, ref, executed, resting, nf = match_order(bk, b, op.owner, op.side, op.ord_type, op.tif,
                                                        op.post_only, op.min_qty, op.price, op.qty, op.ts,
                                                        fills, nf)
            if st == CANCELLED_REMAINDER:
                cancelled = op.qty - executed
        elif op.kind == OP_CANCEL or op.kind == OP_REPLACE:
            # A cancel is a replace to qty 0 (same statuses as match_cancel would give).
            qty = op.qty if op.kind == OP_REPLACE else np.int64(0)
            st, executed, resting, cancelled, nf = match_replace(bk, b, op.ref, op.owner, op.price, qty,
                                                                 op.ts, fills, nf)
        else:
            st = REJECT_BAD_VALUE
        r = results[i]
        r.ref = ref
        r.executed = executed
        r.resting = resting
        r.cancelled = cancelled
        r.fill_start = start
        r.nfills = nf - start
        r.status = st
        r._pad = 0
    return nf


def new_ops(n: int) -> np.ndarray:
    return np.zeros(n, OPS)
