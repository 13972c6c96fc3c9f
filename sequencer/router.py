"""Smart order router: which venues get a parent order's child orders.

The router reads the market-data books (one per venue x symbol, ``book_index``) and
the venue table (fees, kill state, fill history) and writes child orders: rows of
``orders`` with kind CHILD and a VenueOrder event each. Children carry no ClOrdID of
their own; venues know them by order id, and their fills roll up to the parent.

Venues a symbol can go to: every venue not killed that has a book for the symbol or is
its default venue (a venue must be added with ADMIN_ADD_VENUE to have fees and fill
history; the default venue works without). Ranking for taking liquidity, best first:

- BEST_PRICE: best opposite price, then lower take fee, then higher fill ratio, then
  lower venue id. The whole order goes to the first venue that shows liquidity at or
  better than the limit (any price for a market order); if none does, it rests at the
  posting venue.
- SWEEP: same ranking; each venue in turn gets what it displays at or better than the
  limit, one child per venue, and what is left goes to the posting venue (a market or
  IOC remainder too: the venue applies the time in force). At most MAX_LIVE_CHILDREN
  venues get a child; if they leave no slot for the posting venue, what is left joins
  the last of them.
- COST: like SWEEP, ranked by all-in price: price + take fee + a miss penalty of
  MISS_BPS of the price scaled by (1 - fill ratio), so a venue that often fails to fill
  must be cheaper to be chosen.
- FOK orders always go whole to one venue (splitting would break fill-or-kill): the
  best-ranked one that shows the whole quantity, else the best-ranked one.

The posting venue is the open venue with the lowest make fee (highest rebate), then the
higher fill ratio, then the lower id. Fill ratio per venue is a moving average (1/8
weight) of filled/sent qty over finished children, 1/65536 units, starting at 1.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .book import ASK, BID, BK_HEADS, BK_LEVELS, book_best
from .kernel_base import (
    ACT_NEW, I_BOOK_INDEX, I_BOOKS, I_ORDERS, I_SCALARS, I_SCRATCH, I_SYMBOLS, I_VENUES,
    KIND_CHILD, MAX_LIVE_CHILDREN, MAX_VENUES, ORD_MARKET, SIDE_BUY, ST_PENDING_NEW, STRATEGY_COST,
    STRATEGY_SWEEP, TIF_FOK, _bps, _venue_order,
)
from .state import FILL_RATIO_ONE, S_CHILDREN, S_ORDERS

MISS_BPS = 10
# scratch layout: ranked candidate i at [4i, 4i+4) = venue, key, take fee, -fill ratio
# (compared in the order key, fee, -fill ratio, venue); allocations from _ALLOC on.
_W = 4
_ALLOC = 4 * MAX_VENUES


@njit(cache=True, inline="always", _nrt=False)
def _venue_open(st, v, sid):
    """Venue v can take orders for symbol sid (not killed, and trades it)."""
    venue = st[I_VENUES][v]
    if venue.killed != 0:
        return False
    return st[I_BOOK_INDEX][v, sid] > 0 or v == st[I_SYMBOLS][sid].default_venue


@njit(cache=True, _nrt=False)
def has_venue(st, sid):
    for v in range(1, MAX_VENUES):
        if _venue_open(st, v, sid):
            return True
    return False


@njit(cache=True, _nrt=False)
def _posting_venue(st, sid):
    venues = st[I_VENUES]
    best = np.int64(0)
    for v in range(1, MAX_VENUES):
        if not _venue_open(st, v, sid):
            continue
        if best == 0:
            best = v
            continue
        a, b = venues[v], venues[best]
        if a.make_fee < b.make_fee or (a.make_fee == b.make_fee and a.fill_ratio > b.fill_ratio):
            best = v
    return best


@njit(cache=True, inline="always", _nrt=False)
def _displayed(st, b, side, limit):
    """Qty a book shows on ``side`` at or better than ``limit`` (0: any price)."""
    bk = st[I_BOOKS]
    n = bk[BK_HEADS][b].nlevels[side]
    lv = bk[BK_LEVELS][b, side]
    total = np.int64(0)
    for j in range(n - 1, -1, -1):
        px = lv[j].price
        if limit > 0 and ((side == ASK and px > limit) or (side == BID and px < limit)):
            break
        total += lv[j].qty
    return total


@njit(cache=True, inline="always", _nrt=False)
def _rank(st, sid, buy, limit, cost_model):
    """Fill scratch with the venues showing liquidity at or better than the limit, best
    first; returns how many."""
    venues, scratch, index = st[I_VENUES], st[I_SCRATCH], st[I_BOOK_INDEX]
    side = ASK if buy else BID
    n = 0
    for v in range(1, MAX_VENUES):
        if not _venue_open(st, v, sid) or index[v, sid] == 0:
            continue
        px, qty = book_best(st[I_BOOKS], np.int64(index[v, sid] - 1), side)
        if qty <= 0 or (limit > 0 and ((buy and px > limit) or (not buy and px < limit))):
            continue
        fr = venues[v].fill_ratio
        key = px if buy else -px  # lower is better
        if cost_model:
            miss = _bps(px, MISS_BPS) * (FILL_RATIO_ONE - fr) // FILL_RATIO_ONE
            key += venues[v].take_fee + miss
        scratch[_W * n] = v
        scratch[_W * n + 1] = key
        scratch[_W * n + 2] = venues[v].take_fee
        scratch[_W * n + 3] = -fr
        n += 1
    # selection sort: at most MAX_VENUES - 1 candidates, ties broken by fee, fill ratio, id
    for i in range(n):
        best = i
        for j in range(i + 1, n):
            for f in range(1, _W + 1):  # fields 1, 2, 3 then 0 (venue id)
                a = scratch[_W * j + f % _W]
                c = scratch[_W * best + f % _W]
                if a != c:
                    if a < c:
                        best = j
                    break
        if best != i:
            for f in range(_W):
                t = scratch[_W * i + f]
                scratch[_W * i + f] = scratch[_W * best + f]
                scratch[_W * best + f] = t
    return n


@njit(cache=True, _nrt=False)
def _new_child(st, evs, k, hd, pi, venue, qty, price, tif):
    """Child order row for parent row pi at ``venue``; writes its VenueOrder."""
    scalars, orders = st[I_SCALARS], st[I_ORDERS]
    p = orders[pi]
    ci = scalars[S_ORDERS]
    scalars[S_ORDERS] = ci + 1
    c = orders[ci]
    c.kind = KIND_CHILD
    c.parent = pi + 1
    c.client_id = p.client_id
    c.symbol_id = p.symbol_id
    c.venue_id = venue
    c.side = p.side
    c.ord_type = p.ord_type
    c.tif = tif
    c.strategy = p.strategy
    c.status = ST_PENDING_NEW
    c.price = price
    c.qty = qty
    c.leaves = qty
    c.value_px = p.value_px
    c.created_ts = hd[3]
    c.updated_ts = hd[3]
    c.next_sibling = p.first_child
    p.first_child = ci + 1
    p.children += 1
    p.working += qty
    st[I_VENUES][venue].children += 1
    scalars[S_CHILDREN] += 1
    return _venue_order(st, evs, k, hd, ci, ACT_NEW, price, qty)


@njit(cache=True, _nrt=False)
def route(st, evs, k, hd, pi, strategy, qty):
    """Send ``qty`` of parent row pi to venues as child orders; returns the new k.
    Writes nothing if no venue is open (the caller checked ``has_venue``) or the parent
    already has MAX_LIVE_CHILDREN children."""
    orders, scalars = st[I_ORDERS], st[I_SCALARS]
    p = orders[pi]
    sid = np.int64(p.symbol_id)
    slots = MAX_LIVE_CHILDREN - np.int64(p.children)
    if slots <= 0 or qty <= 0 or scalars[S_ORDERS] + slots > len(orders):
        return k
    buy = p.side == SIDE_BUY
    limit = np.int64(0) if p.ord_type == ORD_MARKET else p.price
    split = (strategy == STRATEGY_SWEEP or strategy == STRATEGY_COST) and p.tif != TIF_FOK
    n = _rank(st, sid, buy, limit, strategy == STRATEGY_COST)
    scratch, index = st[I_SCRATCH], st[I_BOOK_INDEX]
    if not split:
        v = scratch[0] if n > 0 else _posting_venue(st, sid)
        if p.tif == TIF_FOK:  # the best-ranked venue that shows the whole quantity, if any does
            side = ASK if buy else BID
            for i in range(n):
                if _displayed(st, np.int64(index[scratch[_W * i], sid] - 1), side, limit) >= qty:
                    v = scratch[_W * i]
                    break
        if v == 0:
            return k
        return _new_child(st, evs, k, hd, pi, v, qty, p.price, p.tif)
    side = ASK if buy else BID
    post = _posting_venue(st, sid)
    # allocations (venue, qty) after the ranking in scratch
    m = 0
    left = qty
    for i in range(n):
        if left == 0 or m == slots:
            break
        v = scratch[_W * i]
        take = min(left, _displayed(st, np.int64(index[v, sid] - 1), side, limit))
        scratch[_ALLOC + 2 * m] = v
        scratch[_ALLOC + 2 * m + 1] = take
        left -= take
        m += 1
    if left > 0:  # the rest rests at the posting venue (or the last venue if no slot is left)
        j = 0
        while j < m and scratch[_ALLOC + 2 * j] != post:
            j += 1
        if j == m and m < slots and post != 0:
            scratch[_ALLOC + 2 * m] = post
            scratch[_ALLOC + 2 * m + 1] = 0
            m += 1
        elif j == m:
            j = m - 1
        if j >= 0:
            scratch[_ALLOC + 2 * j + 1] += left
    for j in range(m):
        if scratch[_ALLOC + 2 * j + 1] > 0:
            k = _new_child(st, evs, k, hd, pi, scratch[_ALLOC + 2 * j], scratch[_ALLOC + 2 * j + 1],
                           p.price, p.tif)
    return k


@njit(cache=True, inline="always", _nrt=False)
def child_finished(st, ci):
    """Fold a finished child's fill ratio into its venue's moving average."""
    c = st[I_ORDERS][ci]
    venue = st[I_VENUES][c.venue_id]
    sample = c.cum * FILL_RATIO_ONE // c.qty if c.qty > 0 else 0
    venue.fill_ratio += (sample - venue.fill_ratio) // 8
