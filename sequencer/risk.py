"""Pre-trade risk and the kill switch: is this new order or replace allowed?

Checks run in a fixed order and the first failure names the reject reason (gateways
map the code to FIX Text). The kill switch comes first, as operators expect:

 1. kill switch: global, new orders only, then (once the ids resolve) client, symbol,
    venue; a refused replication (no standby) right after the global switches;
 2. reference data: client and symbol known, fields valid (side, type, tif, qty, price,
    strategy, algo window);
 3. restricted symbol; short sale (a SELL_SHORT needs an easy-to-borrow symbol, a plain
    SELL may not take the client below flat counting open sells: mark it short);
 4. order size: max order qty, reference price for a market order, max notional;
 5. price collar against the reference price (the symbol's mark): both the bps and the
    absolute band, where set;
 6. order rate: new orders and replaces per rolling second (ten 100 ms buckets of the
    input ts);
 7. client exposure: max open orders, max position per symbol counting open orders on
    the order's side, max gross (positions at cost + open notional + this order);
 8. buying power: buys and short sales need notional x initial margin (100% in a cash
    account) out of cash less reservations (margin: equity less the positions' initial
    requirement less reservations);
 9. duplicate ClOrdID and table capacity.

A replace runs the same steps on what it changes (its side, type and symbol are the
order's): the kill switches, the fields, restricted (only if it grows), a short sale that grows (plain
sells against the long position, short sales need an easy-to-borrow symbol), the new
quantity and value against the order-size limits and the collar, the rate; then the
exposure checks only if it adds shares, value or buying power, and then for what it
adds (the delta over the order's current leaves and value).

Limits set by ADMIN_SET_RISK and left at 0 are not enforced; the order-size limits of
ADMIN_ADD_CLIENT / ADMIN_SET_LIMITS are always enforced (0 refuses every order: a client
must be given limits to trade). All arithmetic is integer and checked against overflow
by comparing against quotients instead of forming large products.

Known simplifications (conservative, documented rather than modelled): a pending replace
holds its old quantity until the venue confirms it; the gross limit counts open sells
even where they would close a long; the rate window counts orders only while a rate
limit is set.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from . import records as R
from .kernel_base import (
    CLORD_LEN, I_CLIENTS, I_CLORD, I_ORDERS, I_POSITIONS, I_SCALARS, I_SYMBOLS, I_SYMTAB, I_VENUES,
    MAX_VENUES, ORD_LIMIT, ORD_MARKET, POLICY_REJECT_NEW, SIDE_BUY, SIDE_SELL, SIDE_SELL_SHORT,
    STRATEGY_BEST_PRICE, STRATEGY_COST, STRATEGY_DIRECT, STRATEGY_SWEEP, STRATEGY_TWAP, STRATEGY_VWAP,
    SYMBOL_LEN, TIF_DAY, TIF_FOK, TIF_IOC, _bps, _clord_full, _clord_slot, _is_empty, _symbol_slot,
)
from .positions import _buying_power, _mark, _order_requirement, _position_row
from .state import S_KILL_GLOBAL, S_KILL_NEW, S_ORDERS, S_POSITIONS, S_REPL_DOWN, S_REPL_POLICY

RATE_BUCKET_NS = 100_000_000  # ten buckets make the rolling second
RATE_BUCKETS = 10


@njit(cache=True, inline="always", _nrt=False)
def _new_risk_refused(scalars):
    """No standby holds the journal and the policy is to refuse new risk meanwhile."""
    return scalars[S_REPL_DOWN] != 0 and scalars[S_REPL_POLICY] == POLICY_REJECT_NEW


@njit(cache=True, inline="always", _nrt=False)
def _global_kill(scalars):
    """Reason the global switches refuse new risk, or 0."""
    if scalars[S_KILL_GLOBAL] != 0:
        return R.REASON_KILL_GLOBAL
    if scalars[S_KILL_NEW] != 0:
        return R.REASON_KILL_NEW_ORDERS
    if _new_risk_refused(scalars):
        return R.REASON_NOT_REPLICATED
    return R.REASON_NONE


@njit(cache=True, inline="always", _nrt=False)
def _scoped_kill(st, client_id, symbol_id, venue_id):
    """Reason a client / symbol / venue switch refuses new risk, or 0 (venue 0: routed)."""
    if st[I_CLIENTS][client_id].killed != 0:
        return R.REASON_KILL_CLIENT
    if st[I_SYMBOLS][symbol_id].killed != 0:
        return R.REASON_KILL_SYMBOL
    if venue_id != 0 and st[I_VENUES][venue_id].killed != 0:
        return R.REASON_KILL_VENUE
    return R.REASON_NONE


@njit(cache=True, inline="always", _nrt=False)
def _collar_breached(sym, price, ref):
    if ref <= 0 or price <= 0:
        return False
    dev = price - ref if price > ref else ref - price
    if sym.collar_abs > 0 and dev > sym.collar_abs:
        return True
    # dev / ref > bps / 10000, compared without a product that could overflow
    return sym.collar_bps > 0 and dev > _bps(ref, sym.collar_bps)


@njit(cache=True, inline="always", _nrt=False)
def _rate_count(cl, ts):
    """Orders the client sent in the rolling second ending at ts (moves the window on)."""
    bucket = ts // RATE_BUCKET_NS
    gap = bucket - cl.rate_bucket
    if gap >= RATE_BUCKETS or gap < 0:  # gap < 0 cannot happen: ts never goes back
        for j in range(RATE_BUCKETS):
            cl.rate_counts[j] = 0
    else:
        for j in range(1, gap + 1):
            cl.rate_counts[(cl.rate_bucket + j) % RATE_BUCKETS] = 0
    cl.rate_bucket = bucket
    n = 0
    for j in range(RATE_BUCKETS):
        n += cl.rate_counts[j]
    return n


@njit(cache=True, inline="always", _nrt=False)
def _count_rate(cl):
    cl.rate_counts[cl.rate_bucket % RATE_BUCKETS] += 1


@njit(cache=True, inline="always", _nrt=False)
def _exposure_reason(st, cid, r, side, add_qty, add_value, need):
    """Steps 7 and 8 for adding ``add_qty`` shares worth ``add_value`` on ``side`` that
    need ``need`` more buying power (a replace passes the changes); r is the client's
    position row in the symbol (-1: none yet)."""
    cl = st[I_CLIENTS][cid]
    pos, open_buy, open_sell = np.int64(0), np.int64(0), np.int64(0)
    if r >= 0:
        p = st[I_POSITIONS][r]
        pos, open_buy, open_sell = p.qty, p.open_buy, p.open_sell
    if cl.max_position > 0:
        worst = pos + open_buy + add_qty if side == SIDE_BUY else open_sell + add_qty - pos
        if worst > cl.max_position:
            return R.REASON_MAX_POSITION
    if cl.max_gross > 0 and cl.gross + cl.open_notional + add_value > cl.max_gross:
        return R.REASON_MAX_GROSS
    if need > 0 and need > _buying_power(st, cid):
        return R.REASON_BUYING_POWER
    return R.REASON_NONE


@njit(cache=True, inline="always", _nrt=False)
def _valid_strategy(c, ts):
    """0, or the reason the strategy / algo fields of a NewOrder are refused."""
    strategy = c.strategy if c.version >= 2 else 0
    if (strategy == STRATEGY_DIRECT or strategy == STRATEGY_BEST_PRICE or strategy == STRATEGY_SWEEP
            or strategy == STRATEGY_COST):
        return R.REASON_NONE
    if strategy == STRATEGY_TWAP or strategy == STRATEGY_VWAP:
        start = c.start_ts if c.start_ts > ts else ts
        if c.end_ts <= start or c.max_pct > 10_000 or c.tif != TIF_DAY:
            return R.REASON_ALGO_WINDOW
        return R.REASON_NONE
    return R.REASON_INVALID_FIELD


@njit(cache=True, inline="always", _nrt=False)
def new_order_checks(st, c, ts):
    """Every check of a NewOrder, in the module's order.

    Returns (reason or 0, symbol_id, venue_id, price, value_px, clord slot); venue_id is
    0 for routed and algo orders (the router picks venues)."""
    scalars, orders, clients, symbols, clord, symtab = (
        st[I_SCALARS], st[I_ORDERS], st[I_CLIENTS], st[I_SYMBOLS], st[I_CLORD], st[I_SYMTAB])
    none = np.int64(0)
    reason = _global_kill(scalars)
    if reason != R.REASON_NONE:
        return reason, none, none, none, none, none
    cid = c.client_id
    if cid == 0 or cid >= len(clients) or clients[cid].active == 0:
        return R.REASON_UNKNOWN_CLIENT, none, none, none, none, none
    sid = np.int64(c.symbol_id)
    if sid == 0:
        if not _is_empty(c.symbol, SYMBOL_LEN):
            sid = np.int64(symtab[_symbol_slot(symtab, symbols, c.symbol)])
    elif sid >= len(symbols) or symbols[sid].active == 0:
        sid = 0
    if sid == 0:
        return R.REASON_UNKNOWN_SYMBOL, none, none, none, none, none
    sym = symbols[sid]
    strategy = c.strategy if c.version >= 2 else 0
    venue = np.int64(0)
    if strategy == STRATEGY_DIRECT:
        venue = np.int64(c.venue_id if c.venue_id != 0 else sym.default_venue)
    # the kill switch first (step 1): as soon as client, symbol and venue are known
    reason = _scoped_kill(st, cid, sid, venue if 0 < venue < MAX_VENUES else 0)
    if reason != R.REASON_NONE:
        return reason, sid, none, none, none, none
    side, ord_type, tif = c.side, c.ord_type, c.tif
    if ((side != SIDE_BUY and side != SIDE_SELL and side != SIDE_SELL_SHORT)
            or (ord_type != ORD_LIMIT and ord_type != ORD_MARKET)
            or (tif != TIF_DAY and tif != TIF_IOC and tif != TIF_FOK)
            or c.qty <= 0 or (ord_type == ORD_LIMIT and c.price <= 0)
            or (strategy == STRATEGY_DIRECT and (venue == 0 or venue >= MAX_VENUES))
            or _is_empty(c.cl_ord_id, CLORD_LEN)):
        return R.REASON_INVALID_FIELD, sid, none, none, none, none
    reason = _valid_strategy(c, ts)
    if reason != R.REASON_NONE:
        return reason, sid, none, none, none, none
    cl = clients[cid]
    if sym.restricted != 0:
        return R.REASON_RESTRICTED, sid, none, none, none, none
    if side == SIDE_SELL_SHORT and sym.shortable == 0:
        return R.REASON_NOT_SHORTABLE, sid, none, none, none, none
    r = _position_row(st, cid, sid, False)
    if side == SIDE_SELL:
        long_qty = st[I_POSITIONS][r].qty - st[I_POSITIONS][r].open_sell if r >= 0 else np.int64(0)
        if c.qty > long_qty:
            return R.REASON_SELL_EXCEEDS_POSITION, sid, none, none, none, none
    if c.qty > cl.max_qty:
        return R.REASON_MAX_QTY, sid, none, none, none, none
    price = c.price if ord_type == ORD_LIMIT else none
    ref = _mark(st, sid)
    value_px = price if ord_type == ORD_LIMIT else ref
    if value_px <= 0:
        return R.REASON_NO_REFERENCE_PRICE, sid, none, none, none, none
    if c.qty > cl.max_notional // value_px:  # qty*px > limit, without the product overflowing
        return R.REASON_MAX_NOTIONAL, sid, none, none, none, none
    if ord_type == ORD_LIMIT and _collar_breached(sym, price, ref):
        return R.REASON_PRICE_COLLAR, sid, none, none, none, none
    if cl.max_rate > 0 and _rate_count(cl, ts) >= cl.max_rate:
        return R.REASON_ORDER_RATE, sid, none, none, none, none
    if cl.max_open > 0 and cl.open_orders >= cl.max_open:
        return R.REASON_MAX_OPEN_ORDERS, sid, none, none, none, none
    value = c.qty * value_px
    reason = _exposure_reason(st, cid, r, side, c.qty, value, _order_requirement(cl, side, value))
    if reason != R.REASON_NONE:
        return reason, sid, none, none, none, none
    slot = _clord_slot(clord, cid, c.cl_ord_id)
    if clord[slot].order_id != 0:
        return R.REASON_DUPLICATE_CLORDID, sid, none, none, none, none
    if (scalars[S_ORDERS] >= len(orders) or _clord_full(scalars, clord)
            or (r < 0 and scalars[S_POSITIONS] >= len(st[I_POSITIONS]))):
        return R.REASON_CAPACITY, sid, none, none, none, none
    return R.REASON_NONE, sid, venue, price, value_px, slot


@njit(cache=True, _nrt=False)
def replace_checks(st, c, oi, ts):
    """Risk checks of a Replace of live order row oi (lookup and state already checked):
    (reason or 0, new price, new value price). Replace cannot change side, type or
    symbol; the change in quantity and value is checked like a new order's."""
    scalars, orders, clients, symbols = st[I_SCALARS], st[I_ORDERS], st[I_CLIENTS], st[I_SYMBOLS]
    none = np.int64(0)
    reason = _global_kill(scalars)
    o = orders[oi]
    if reason == R.REASON_NONE:
        reason = _scoped_kill(st, o.client_id, o.symbol_id, o.venue_id)
    if reason != R.REASON_NONE:
        return reason, none, none
    cl = clients[o.client_id]
    sym = symbols[o.symbol_id]
    limit = o.ord_type == ORD_LIMIT
    price = c.price if limit else none
    ref = _mark(st, o.symbol_id)
    value_px = price if limit else ref
    if c.qty <= 0 or (limit and c.price <= 0) or c.qty <= o.cum:
        return R.REASON_INVALID_FIELD, none, none
    add_qty = c.qty - o.qty
    if sym.restricted != 0 and add_qty > 0:  # reducing an order on a restricted symbol is allowed
        return R.REASON_RESTRICTED, none, none
    if o.side == SIDE_SELL_SHORT and add_qty > 0 and sym.shortable == 0:
        return R.REASON_NOT_SHORTABLE, none, none
    if o.side == SIDE_SELL and add_qty > 0:
        r = o.pos_row
        if add_qty > st[I_POSITIONS][r].qty - st[I_POSITIONS][r].open_sell:
            return R.REASON_SELL_EXCEEDS_POSITION, none, none
    if c.qty > cl.max_qty:
        return R.REASON_MAX_QTY, none, none
    if value_px <= 0:
        return R.REASON_NO_REFERENCE_PRICE, none, none
    if c.qty > cl.max_notional // value_px:
        return R.REASON_MAX_NOTIONAL, none, none
    if limit and _collar_breached(sym, price, ref):
        return R.REASON_PRICE_COLLAR, none, none
    if cl.max_rate > 0 and _rate_count(cl, ts) >= cl.max_rate:
        return R.REASON_ORDER_RATE, none, none
    new_leaves = c.qty - o.cum
    add_value = new_leaves * value_px - o.leaves * o.value_px
    need = _order_requirement(cl, o.side, new_leaves * value_px) - o.reserved
    # a replace that adds nothing (no shares, no value, no buying power) is never refused
    # for exposure; one that adds any of them is checked for what it adds
    if add_qty > 0 or add_value > 0 or need > 0:
        reason = _exposure_reason(st, o.client_id, np.int64(o.pos_row), o.side, add_qty if add_qty > 0 else 0,
                                  add_value if add_value > 0 else 0, need)
    return reason, price, value_px
