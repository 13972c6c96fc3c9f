"""Numba kernels: the business logic's entry point and the order state machine.

The stages live one per module and are inlined here: ``risk`` (pre-trade checks, kill
switch), ``positions`` (fills, P&L, what open orders hold), ``router`` (SOR child
orders), ``algos`` (TWAP/VWAP on Timer ticks), ``orders`` (parent/child roll-up) and
``book`` (L3 market-data books); ``kernel_base`` has the views and event writers.

``process_batch`` applies inputs ``[start, end)`` of a command batch to the state
arrays and writes the resulting events; it is a pure function of (state, inputs).
Money is int64 with 8 implied decimals; the only clock is each input's ``ts``.

Order life (FIX OrdStatus): PENDING_NEW 'A' -> NEW '0' -> PARTIAL '1' -> FILLED '2'
/ CANCELED '4' / REJECTED '8'; a cancel or replace request parks the order in
PENDING_CANCEL '6' / PENDING_REPLACE 'E' until the venue answers (``pending`` holds
which request, ``prev_status`` the status to go back to). Decisions worth knowing:

- Cancel/replace of a PENDING_NEW order is refused (REASON_PENDING): the venue has not
  acknowledged it yet, so there is nothing to cancel there.
- Fills are taken in every live status, including PENDING_NEW (an implicit ack) and
  while a cancel/replace is pending (the status stays pending, ``prev_status`` becomes
  PARTIAL; a fill that completes the order makes it FILLED at once).
- Replace: VenueOrder(REPLACE).qty is the new total order qty (FIX OrderQty); on the
  venue's ack qty = max(new qty, cum) (fills may land while it is pending) and
  leaves = qty - cum. Replace cannot change side, type, tif or symbol; those fields
  of the Replace record are ignored.
- The ClOrdID of every accepted order, cancel and replace request is registered, so
  it can be named as OrigClOrdID later and is never reused by that client that day.
  The ClOrdIDs of rejected new orders are not registered (there is no order to find).
- Market orders are stored with price 0 and valued at the symbol's mark (book mid, else
  reference price) for the notional, exposure and buying-power checks.
- Routed and algo orders (NewOrder.strategy) are parents: PENDING_NEW until their first
  child is acknowledged (an algo is NEW at once), fills reported on the parent, and a
  cancel fans out to the live children. Replace of a parent is refused
  (REASON_ROUTED_REPLACE): cancel and re-enter.
- Operator actions: ADMIN_KILL switches (global, new orders, symbol, client, venue) and
  ADMIN_CANCEL_ALL for a scope; a cancel-all writes a PENDING_CANCEL report per order and
  the venue cancels (an alert sums it up).
- Timer ticks (TIMER_TICK, injected by the sequencer) work the algos and sweep margin:
  a client whose equity falls below maintenance gets one MARGIN_CALL alert per breach.
- A pending replace holds its old quantity for the risk checks until the venue
  confirms it.
- avg_px = fill notional / cum, rounded half up.
- A CancelReject for NOT_OWNER carries no order id or status (not the asker's order).
- A venue message that does not fit (unknown order, finished order, overfill, wrong
  ack) raises an Alert and changes nothing.
- Successful admin commands emit no event; a bad one raises an Alert.

Compilation: every helper is ``inline="always"`` into ``process_batch`` and everything
is compiled with ``_nrt=False`` (no Numba reference counting). The kernels only index
preallocated arrays, and the refcount updates on each array handed between helpers
cost about half the run time; without NRT any allocation inside a kernel fails to
compile, which enforces "allocate nothing". The Numba cache directory is keyed by the
source of the whole package (``sequencer/__init__.py``), so an edit to any stage module
rebuilds the cached machine code.

Bulk inputs: a Timer tick or a cancel-all can write many events. ``process_batch``
stops before an input whose worst case does not fit the event buffer and returns how
far it got; ``logic.py`` drains the buffer and calls again.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from . import records as R
from .algos import on_tick, start_algo, tick_events_needed
from .book import ASK, BID, BK_HEADS, MD_OK, MD_QTY_CLIPPED, book_best, md_apply
from .kernel_base import (  # noqa: F401  (command_views, event_views, MAX_EVENTS_PER_INPUT: API)
    ACCOUNT_LEN, ACT_CANCEL, ACT_NEW, ACT_REPLACE, ADMIN, ADMIN_ADD_CLIENT, ADMIN_ADD_SYMBOL,
    ADMIN_DIGEST, ADMIN_EPOCH, ADMIN_REPLICATION, ADMIN_SET_LIMITS, ADMIN_SNAPSHOT,
    ADMIN_STANDBY_DIVERGED, CANCEL, C_ACK, C_ADMIN, C_CANCEL, C_CANCELLED, C_FILL, C_MD, C_NEW,
    C_REPLACE, C_SESSION, C_TIMER, C_VREJECT, CLORD_LEN, E_ER, E_TRADE, EX_CANCELED, EX_NEW, EX_PENDING_NEW,
    EX_PENDING_REPLACE, EX_REJECTED, EX_REPLACED, EX_TRADE, I_ALGOS, I_BOOK_INDEX, I_BOOKS, I_CLIENTS,
    I_CLORD, I_EPOCHS, I_ORDERS, I_SCALARS, I_SYMBOLS, I_SYMTAB, I_VENUES, INT64_MAX, KIND_CHILD,
    KIND_DIRECT, KIND_PARENT, MARKET_DATA, MAX_EPOCHS, MAX_EVENTS_PER_INPUT, MAX_LIVE_CHILDREN,
    MAX_VENUES, NEW_ORDER, ORD_LIMIT, POLICY_REJECT_NEW, REPLACE, RESP_CANCEL, RESP_REPLACE,
    SESSION_EVENT, SEV_ERROR, SEV_INFO, SEV_WARNING, ST_CANCELED, ST_FILLED, ST_NEW,
    ST_PARTIAL, ST_PENDING_CANCEL, ST_PENDING_NEW, ST_PENDING_REPLACE, ST_REJECTED, STRATEGY_DIRECT,
    STRATEGY_TWAP, STRATEGY_VWAP, SYMBOL_LEN, TIMER, TRADE, VENUE_ACK, VENUE_CANCELLED, VENUE_FILL,
    VENUE_REJECT, _add_overflows, _alert, _bps, _clord_slot, _copy, _is_done, _is_empty,
    _order_report, _reject_new, _reject_pending, _reject_request, _side_sign, _stamp, _symbol_slot,
    _venue_cancel, _venue_order, command_views, event_views,
)
from .orders import child_acked, child_ended, end_order, order_closed, order_done, start_cancel
from .positions import _book_fill, _client_marks, _hold, _mark, _position_row, _unhold
from .risk import _count_rate, new_order_checks, replace_checks
from .router import has_venue, route
from .state import (
    FILL_RATIO_ONE, S_ALGOS, S_BOOKS, S_CLORD_USED, S_EPOCH, S_EVENTS, S_EXEC_ID, S_INPUTS, S_KILL_GLOBAL,
    S_KILL_NEW, S_LAST_SEQ, S_LAST_TS, S_MD_REJECTED, S_ORDERS, S_REPL_DOWN, S_REPL_DOWN_SEQ,
    S_REPL_POLICY, S_TRADES,
)


# ------------------------------------------------------------------ client commands
@njit(cache=True, inline="always", _nrt=False)
def _on_new_order(st, c, hd, evs, k):
    scalars, orders, clients, clord = st[I_SCALARS], st[I_ORDERS], st[I_CLIENTS], st[I_CLORD]
    reason, sid, venue, price, value_px, slot = new_order_checks(st, c, hd[3])
    strategy = c.strategy if c.version >= 2 else STRATEGY_DIRECT
    algo = strategy == STRATEGY_TWAP or strategy == STRATEGY_VWAP
    if reason == R.REASON_NONE and strategy != STRATEGY_DIRECT:
        if not has_venue(st, sid):
            reason = R.REASON_NO_VENUE
        elif (algo and scalars[S_ALGOS] >= len(st[I_ALGOS])) \
                or scalars[S_ORDERS] + 1 + MAX_LIVE_CHILDREN > len(orders):
            reason = R.REASON_CAPACITY
    if reason != R.REASON_NONE:
        return _reject_new(st, evs, k, hd, c, sid, reason)
    cid = c.client_id
    oi = scalars[S_ORDERS]
    scalars[S_ORDERS] = oi + 1
    o = orders[oi]
    o.client_id = cid
    o.symbol_id = sid
    o.venue_id = venue
    o.side = c.side
    o.ord_type = c.ord_type
    o.tif = c.tif
    o.status = ST_PENDING_NEW
    o.price = price
    o.qty = c.qty
    o.leaves = c.qty
    o.value_px = value_px
    o.strategy = strategy
    o.kind = KIND_DIRECT if strategy == STRATEGY_DIRECT else KIND_PARENT
    o.created_ts = hd[3]
    o.updated_ts = hd[3]
    _copy(o.cl_ord_id, c.cl_ord_id, CLORD_LEN)
    e = clord[slot]
    e.order_id = oi + 1
    e.client_id = cid
    _copy(e.cl_ord_id, c.cl_ord_id, CLORD_LEN)
    scalars[S_CLORD_USED] += 1
    cl = clients[cid]
    cl.open_orders += 1
    if cl.max_rate > 0:
        _count_rate(cl)
    o.pos_row = _position_row(st, cid, sid, True)
    _hold(st, oi, value_px)
    if strategy == STRATEGY_DIRECT:
        k = _order_report(st, evs, k, hd, oi, EX_PENDING_NEW, R.REASON_NONE, 0, 0, False)
        return _venue_order(st, evs, k, hd, oi, ACT_NEW, price, c.qty)
    if algo:  # accepted by the broker: slices go out on the timer ticks
        o.status = ST_NEW
        start_algo(st, oi, c, hd[3])
        return _order_report(st, evs, k, hd, oi, EX_NEW, R.REASON_NONE, 0, 0, False)
    # route first so the report shows what went out (working_qty); it still comes first
    end = route(st, evs, k + 1, hd, oi, strategy, c.qty)
    _order_report(st, evs, k, hd, oi, EX_PENDING_NEW, R.REASON_NONE, 0, 0, False)
    return end


@njit(cache=True, inline="always", _nrt=False)
def _find_order(st, c):
    """Row of the order a Cancel/Replace names (by order_id, else by OrigClOrdID), or -1."""
    scalars, clord = st[I_SCALARS], st[I_CLORD]
    if c.order_id != 0:
        oid = np.int64(c.order_id)  # u8 ids above 2**63 turn negative: unknown
        # a child order is the broker's, not a client's: unknown to clients
        if 0 < oid <= scalars[S_ORDERS] and st[I_ORDERS][oid - 1].kind != KIND_CHILD:
            return oid - 1
        return np.int64(-1)
    if _is_empty(c.orig_cl_ord_id, CLORD_LEN):
        return np.int64(-1)
    return np.int64(clord[_clord_slot(clord, c.client_id, c.orig_cl_ord_id)].order_id) - 1


@njit(cache=True, inline="always", _nrt=False)
def _check_request(st, c, oi):
    """Reason to refuse a cancel/replace of row oi (lookup, ownership, state, new ClOrdID), or 0."""
    orders = st[I_ORDERS]
    if oi < 0 or orders[oi].kind == KIND_CHILD:  # children are the broker's, not the client's
        return R.REASON_UNKNOWN_ORDER
    o = orders[oi]
    if o.client_id != c.client_id:
        return R.REASON_NOT_OWNER
    if _is_done(o.status):
        return R.REASON_TOO_LATE
    if o.pending != 0 or o.status == ST_PENDING_NEW:
        return R.REASON_PENDING
    if _is_empty(c.cl_ord_id, CLORD_LEN):
        return R.REASON_INVALID_FIELD
    return R.REASON_NONE


@njit(cache=True, inline="always", _nrt=False)
def _register_request(st, c, oi):
    """Register the request's new ClOrdID for row oi; a reason if it cannot be, else 0."""
    scalars, orders, clord = st[I_SCALARS], st[I_ORDERS], st[I_CLORD]
    slot = _clord_slot(clord, c.client_id, c.cl_ord_id)
    if clord[slot].order_id != 0:
        return R.REASON_DUPLICATE_CLORDID
    if scalars[S_CLORD_USED] >= len(clord) - len(clord) // 4:
        return R.REASON_CAPACITY
    e = clord[slot]
    e.order_id = oi + 1
    e.client_id = c.client_id
    _copy(e.cl_ord_id, c.cl_ord_id, CLORD_LEN)
    scalars[S_CLORD_USED] += 1
    _copy(orders[oi].pend_cl_ord_id, c.cl_ord_id, CLORD_LEN)
    return R.REASON_NONE


@njit(cache=True, inline="always", _nrt=False)
def _on_cancel(st, c, hd, evs, k):
    oi = _find_order(st, c)
    reason = R.REASON_KILL_GLOBAL if st[I_SCALARS][S_KILL_GLOBAL] != 0 else R.REASON_NONE
    if reason == R.REASON_NONE:
        reason = _check_request(st, c, oi)
    if reason == R.REASON_NONE:
        reason = _register_request(st, c, oi)
    if reason != R.REASON_NONE:
        return _reject_request(st, evs, k, hd, c, oi, reason, RESP_CANCEL)
    return start_cancel(st, evs, k, hd, oi)


@njit(cache=True, inline="always", _nrt=False)
def _on_replace(st, c, hd, evs, k):
    orders = st[I_ORDERS]
    oi = _find_order(st, c)
    reason = _check_request(st, c, oi)
    if reason == R.REASON_NONE and orders[oi].kind != KIND_DIRECT:
        reason = R.REASON_ROUTED_REPLACE
    price = np.int64(0)
    if reason == R.REASON_NONE:
        reason, price, _ = replace_checks(st, c, oi, hd[3])
    if reason == R.REASON_NONE:
        reason = _register_request(st, c, oi)
    if reason != R.REASON_NONE:
        return _reject_request(st, evs, k, hd, c, oi, reason, RESP_REPLACE)
    o = orders[oi]
    cl = st[I_CLIENTS][o.client_id]
    if cl.max_rate > 0:
        _count_rate(cl)
    o.pending = ACT_REPLACE
    o.prev_status = o.status
    o.status = ST_PENDING_REPLACE
    o.pend_price = price
    o.pend_qty = c.qty
    o.updated_ts = hd[3]
    k = _order_report(st, evs, k, hd, oi, EX_PENDING_REPLACE, R.REASON_NONE, 0, 0, True)
    return _venue_order(st, evs, k, hd, oi, ACT_REPLACE, price, c.qty)


# ------------------------------------------------------------------ venue messages
@njit(cache=True, inline="always", _nrt=False)
def _venue_row(st, order_id):
    """Row of the venue order a venue message names (a direct order or a child), or -1."""
    oid = np.int64(order_id)  # u8 ids above 2**63 turn negative: unknown
    if 0 < oid <= st[I_SCALARS][S_ORDERS] and st[I_ORDERS][oid - 1].kind != KIND_PARENT:
        return oid - 1
    return np.int64(-1)


@njit(cache=True, inline="always", _nrt=False)
def _on_venue_ack(st, c, hd, evs, k):
    orders = st[I_ORDERS]
    oi = _venue_row(st, c.order_id)
    if oi < 0:
        return _alert(st, evs, k, hd, R.REASON_UNKNOWN_ORDER, SEV_WARNING, c.order_id, VENUE_ACK)
    o = orders[oi]
    child = o.kind == KIND_CHILD
    # (an order filled while a cancel-all was pending keeps pending and prev_status: it is done)
    if c.ack_of == ACT_NEW and (o.status == ST_PENDING_NEW or (
            o.pending == ACT_CANCEL and o.prev_status == ST_PENDING_NEW and not _is_done(o.status))):
        if o.status == ST_PENDING_NEW:
            o.status = ST_NEW
        else:
            o.prev_status = ST_NEW  # acknowledged while a cancel-all was pending
        o.venue_order_id = c.venue_order_id
        o.updated_ts = hd[3]
        if child:
            return child_acked(st, evs, k, hd, oi)
        if o.status != ST_NEW:
            return k
        return _order_report(st, evs, k, hd, oi, EX_NEW, R.REASON_NONE, 0, 0, False)
    if c.ack_of == ACT_REPLACE and not child and o.pending == ACT_REPLACE and not _is_done(o.status):
        _unhold(st, oi, o.value_px)
        _copy(o.orig_cl_ord_id, o.cl_ord_id, CLORD_LEN)
        _copy(o.cl_ord_id, o.pend_cl_ord_id, CLORD_LEN)
        o.price = o.pend_price
        # Fills may have landed while the replace was pending: never below what is filled.
        o.qty = max(o.pend_qty, o.cum)
        o.leaves = o.qty - o.cum
        o.pending = 0
        o.value_px = o.price if o.ord_type == ORD_LIMIT else _mark(st, o.symbol_id)
        if o.leaves == 0:
            o.status = ST_FILLED
            order_closed(st, oi)
        else:
            o.status = ST_PARTIAL if o.cum > 0 else ST_NEW
            _hold(st, oi, o.value_px)
        o.updated_ts = hd[3]
        return _order_report(st, evs, k, hd, oi, EX_REPLACED, R.REASON_NONE, 0, 0, False)
    return _alert(st, evs, k, hd, R.REASON_UNEXPECTED_VENUE_MSG, SEV_WARNING, c.order_id, VENUE_ACK)


@njit(cache=True, _nrt=False)
def _fill_problem(st, c, oi):
    """Why a VenueFill cannot be applied to row oi (an alert code), or 0. Checks every
    overflow before anything changes: fill value, order notional, cash, fees."""
    orders, clients = st[I_ORDERS], st[I_CLIENTS]
    if oi < 0:
        return R.REASON_UNKNOWN_ORDER
    o = orders[oi]
    if _is_done(o.status):
        return R.REASON_TOO_LATE
    if c.qty <= 0 or c.price <= 0:
        return R.REASON_INVALID_FIELD
    if c.qty > o.leaves:
        return R.REASON_OVERFILL
    if c.qty > INT64_MAX // c.price:
        return R.REASON_OVERFLOW
    value = c.qty * c.price
    cl = clients[o.client_id]
    cash_move = -_side_sign(o.side) * value
    t = orders[o.parent - 1] if o.kind == KIND_CHILD else o
    if (_add_overflows(o.notional, value) or _add_overflows(t.notional, value)
            or _add_overflows(cl.fees, c.fee) or _add_overflows(cash_move, -c.fee)
            or _add_overflows(cl.cash, cash_move - c.fee)):
        return R.REASON_OVERFLOW
    return R.REASON_NONE


@njit(cache=True, _nrt=False)
def _margin_check(st, evs, k, hd, cid):
    """One alert when the client's equity falls below maintenance, one when it recovers."""
    cl = st[I_CLIENTS][cid]
    if cl.mm_bps <= 0 or cl.first_position < 0:
        return k
    equity, gross = _client_marks(st, cid)
    need = _bps(gross, cl.mm_bps)
    if equity < need and cl.margin_call == 0:
        cl.margin_call = 1
        return _alert(st, evs, k, hd, R.REASON_MARGIN_CALL, SEV_ERROR, cid, need - equity)
    if equity >= need and cl.margin_call != 0:
        cl.margin_call = 0
        return _alert(st, evs, k, hd, R.REASON_MARGIN_RESTORED, SEV_INFO, cid, equity - need)
    return k


@njit(cache=True, inline="always", _nrt=False)
def _on_venue_fill(st, c, hd, evs, k):
    scalars, orders = st[I_SCALARS], st[I_ORDERS]
    oi = _venue_row(st, c.order_id)
    code = _fill_problem(st, c, oi)
    if code != R.REASON_NONE:
        return _alert(st, evs, k, hd, code, SEV_ERROR, c.order_id, c.qty)
    v = orders[oi]  # the venue's order: a direct order or a child
    child = v.kind == KIND_CHILD
    ti = np.int64(v.parent) - 1 if child else oi  # the client's order
    t = orders[ti]
    value = c.qty * c.price
    _unhold(st, ti, t.value_px)
    if child:
        v.leaves -= c.qty
        v.cum += c.qty
        v.notional += value
        v.status = ST_FILLED if v.leaves == 0 else ST_PARTIAL
        v.updated_ts = hd[3]
        t.working -= c.qty
    t.leaves -= c.qty
    t.cum += c.qty
    t.notional += value
    t.updated_ts = hd[3]
    if t.leaves == 0:
        t.status = ST_FILLED  # final even if a cancel/replace is still pending at the venue
        order_closed(st, ti)
    else:
        if t.status == ST_PENDING_CANCEL or t.status == ST_PENDING_REPLACE:
            t.prev_status = ST_PARTIAL
        else:
            t.status = ST_PARTIAL
        _hold(st, ti, t.value_px)
    _book_fill(st, t.pos_row, t.side, c.qty, c.price, c.fee)
    scalars[S_TRADES] += 1
    k = _order_report(st, evs, k, hd, ti, EX_TRADE, R.REASON_NONE, c.price, c.qty, False)
    _stamp(evs, k, TRADE, hd)
    tr = evs[E_TRADE][k]
    tr.exec_id = scalars[S_EXEC_ID]  # the ExecReport's exec id, so the two tie up
    tr.order_id = ti + 1
    tr.venue_exec_id = c.venue_exec_id
    tr.client_id = t.client_id
    tr.symbol_id = t.symbol_id
    tr.price = c.price
    tr.qty = c.qty
    tr.fee = c.fee
    tr.venue_id = v.venue_id
    tr.side = t.side
    tr.liquidity = c.liquidity
    k += 1
    if child and v.leaves == 0:
        k = child_ended(st, evs, k, hd, oi)
    if st[I_CLIENTS][t.client_id].im_bps > 0:  # margin accounts are watched on every fill
        k = _margin_check(st, evs, k, hd, t.client_id)
    return k


@njit(cache=True, inline="always", _nrt=False)
def _on_venue_cancelled(st, c, hd, evs, k):
    orders = st[I_ORDERS]
    oi = _venue_row(st, c.order_id)
    code = R.REASON_UNKNOWN_ORDER if oi < 0 else (R.REASON_TOO_LATE if _is_done(orders[oi].status) else 0)
    if code != R.REASON_NONE:
        return _alert(st, evs, k, hd, code, SEV_WARNING, c.order_id, VENUE_CANCELLED)
    o = orders[oi]
    o.updated_ts = hd[3]
    if o.kind == KIND_CHILD:
        o.pending = 0
        o.status = ST_CANCELED
        return child_ended(st, evs, k, hd, oi)
    # a client's cancel, or unsolicited (venue expiry, IOC remainder...), or the operator's
    # cancel-all; a pending replace dies with the order
    return end_order(st, evs, k, hd, oi, ST_CANCELED, EX_CANCELED, R.REASON_NONE)


@njit(cache=True, inline="always", _nrt=False)
def _on_venue_reject(st, c, hd, evs, k):
    orders = st[I_ORDERS]
    oi = _venue_row(st, c.order_id)
    of = c.reject_of
    if oi >= 0:
        o = orders[oi]
        child = o.kind == KIND_CHILD
        unacked = o.status == ST_PENDING_NEW or (o.pending == ACT_CANCEL and o.prev_status == ST_PENDING_NEW
                                                 and not _is_done(o.status))  # (not one filled meanwhile)
        if of == ACT_NEW and unacked:
            o.pending = 0
            o.status = ST_REJECTED
            o.updated_ts = hd[3]
            if child:
                return child_ended(st, evs, k, hd, oi)
            order_done(st, oi)
            o.leaves = 0
            return _order_report(st, evs, k, hd, oi, EX_REJECTED, R.REASON_VENUE_REJECT, 0, 0, False)
        if (of == ACT_CANCEL or of == ACT_REPLACE) and o.pending == of:
            o.pending = 0
            o.updated_ts = hd[3]
            if child:  # a child's cancel refused: the parent's cancel request fails
                pi = np.int64(o.parent) - 1
                p = orders[pi]
                if p.pending != ACT_CANCEL:
                    return k  # the algo's or operator's own cancel: nothing to tell the client
                if _is_done(o.status) and not _is_done(p.status):
                    return k  # that child filled first; the other children's cancels decide
                p.pending = 0
                if p.status == ST_PENDING_CANCEL:  # (not a parent that filled meanwhile)
                    p.status = p.prev_status
                p.updated_ts = hd[3]
                oi = pi
                o = p
            elif o.status == ST_PENDING_CANCEL or o.status == ST_PENDING_REPLACE:
                o.status = o.prev_status
            if _is_empty(o.pend_cl_ord_id, CLORD_LEN):
                return k  # the operator's cancel-all: no client request to answer
            reason = R.REASON_TOO_LATE if _is_done(o.status) else R.REASON_VENUE_REJECT
            return _reject_pending(st, evs, k, hd, oi, reason, RESP_CANCEL if of == ACT_CANCEL else RESP_REPLACE)
    code = R.REASON_UNKNOWN_ORDER if oi < 0 else R.REASON_UNEXPECTED_VENUE_MSG
    return _alert(st, evs, k, hd, code, SEV_WARNING, c.order_id, VENUE_REJECT)


# ------------------------------------------------------------------ market data
@njit(cache=True, inline="always", _nrt=False)
def _consolidate(st, sid):
    """Best bid and offer of symbol sid over every venue's book."""
    bk, index, s = st[I_BOOKS], st[I_BOOK_INDEX], st[I_SYMBOLS][sid]
    bid = np.int64(0)
    ask = np.int64(0)
    for v in range(1, MAX_VENUES):
        b = np.int64(index[v, sid]) - 1
        if b < 0:
            continue
        px, _ = book_best(bk, b, BID)
        if px > bid:
            bid = px
        px, _ = book_best(bk, b, ASK)
        if px > 0 and (ask == 0 or px < ask):
            ask = px
    s.bid = bid
    s.ask = ask


@njit(cache=True, inline="always", _nrt=False)
def _on_market_data(st, c, hd):
    """Apply an ITCH message to the (venue, symbol) book; trades move the symbol's
    reference price and volume. Messages the books cannot use are counted, not alerted
    (a feed can carry many)."""
    scalars, symbols, index, bk = st[I_SCALARS], st[I_SYMBOLS], st[I_BOOK_INDEX], st[I_BOOKS]
    sid = np.int64(c.symbol_id)
    v = np.int64(c.venue_id)
    if sid == 0 or sid >= len(symbols) or symbols[sid].active == 0 or v == 0 or v >= MAX_VENUES:
        scalars[S_MD_REJECTED] += 1
        return
    heads = bk[BK_HEADS]
    b = np.int64(index[v, sid]) - 1
    if b < 0:
        if scalars[S_BOOKS] >= len(heads):
            scalars[S_MD_REJECTED] += 1
            return
        b = scalars[S_BOOKS]
        scalars[S_BOOKS] = b + 1
        index[v, sid] = b + 1
    volume = heads[b].volume
    code = md_apply(bk, b, c.action, c.side, c.ref, c.new_ref, c.price, c.qty, hd[3])
    if code != MD_OK and code != MD_QTY_CLIPPED:
        scalars[S_MD_REJECTED] += 1
        return
    s = symbols[sid]
    if heads[b].volume != volume:
        s.volume += heads[b].volume - volume
        s.ref_price = heads[b].last_trade_px
        s.ref_ts = hd[3]
    _consolidate(st, sid)


# ------------------------------------------------------------------ operator commands
@njit(cache=True, inline="always", _nrt=False)
def _in_scope(o, scope, target):
    if scope == R.KILL_GLOBAL or scope == R.KILL_NEW_ORDERS:
        return True
    if scope == R.KILL_SYMBOL:
        return o.symbol_id == target
    if scope == R.KILL_CLIENT:
        return o.client_id == target
    return scope == R.KILL_VENUE and o.kind == KIND_DIRECT and o.venue_id == target


@njit(cache=True, _nrt=False)
def _cancel_all(st, evs, k, hd, scope, target, count_only):
    """Cancel every live order in scope (a venue scope cancels the children there too).
    Returns (k, orders cancelled); with ``count_only`` nothing changes and the first
    value is the most events it would write."""
    scalars, orders = st[I_SCALARS], st[I_ORDERS]
    n = 0
    events = 0
    for oi in range(scalars[S_ORDERS]):
        o = orders[oi]
        if _is_done(o.status) or o.pending == ACT_CANCEL:
            continue
        if o.kind == KIND_CHILD:
            if scope == R.KILL_VENUE and o.venue_id == target:
                n += 1
                events += 1
                if not count_only:
                    o.pending = ACT_CANCEL
                    k = _venue_cancel(st, evs, k, hd, oi)
            continue
        if not _in_scope(o, scope, target):
            continue
        n += 1
        events += 2 + o.children
        if not count_only:
            for j in range(CLORD_LEN):  # no client request: the order keeps its ClOrdID
                o.pend_cl_ord_id[j] = 0
            k = start_cancel(st, evs, k, hd, oi)
    return (events if count_only else k), n


@njit(cache=True, _nrt=False)
def _bulk_events_needed(st, a, hd, evs):
    """Events an admin command may write beyond the usual per-input bound."""
    if a.action == R.ADMIN_CANCEL_ALL or (a.action == R.ADMIN_KILL and a.v0 == 1 and a.v1 == 1):
        scope = a.scope if a.scope != R.KILL_NEW_ORDERS else R.KILL_GLOBAL
        need, _ = _cancel_all(st, evs, 0, hd, scope, a.target_id, True)
        return need + 2
    return 0


@njit(cache=True, _nrt=False)
def _kill(st, c, hd, evs, k):
    """ADMIN_KILL: set or clear a switch (alerted), then the cancel-all if asked."""
    scalars, clients, symbols, venues = st[I_SCALARS], st[I_CLIENTS], st[I_SYMBOLS], st[I_VENUES]
    scope, tid, on = c.scope, c.target_id, c.v0
    if on != 0 and on != 1:
        return _alert(st, evs, k, hd, R.REASON_INVALID_ADMIN, SEV_WARNING, c.action, tid)
    if scope == R.KILL_GLOBAL:
        scalars[S_KILL_GLOBAL] = on
        code = R.REASON_KILL_GLOBAL
    elif scope == R.KILL_NEW_ORDERS:
        scalars[S_KILL_NEW] = on
        code = R.REASON_KILL_NEW_ORDERS
    elif scope == R.KILL_SYMBOL and 0 < tid < len(symbols) and symbols[tid].active != 0:
        symbols[tid].killed = on
        code = R.REASON_KILL_SYMBOL
    elif scope == R.KILL_CLIENT and 0 < tid < len(clients) and clients[tid].active != 0:
        clients[tid].killed = on
        code = R.REASON_KILL_CLIENT
    elif scope == R.KILL_VENUE and 0 < tid < MAX_VENUES:
        venues[tid].killed = on
        code = R.REASON_KILL_VENUE
    else:
        return _alert(st, evs, k, hd, R.REASON_INVALID_ADMIN, SEV_WARNING, c.action, tid)
    k = _alert(st, evs, k, hd, code, SEV_WARNING if on else SEV_INFO, tid, on)
    if on == 1 and c.v1 == 1:
        k, n = _cancel_all(st, evs, k, hd, scope if scope != R.KILL_NEW_ORDERS else R.KILL_GLOBAL, tid, False)
        k = _alert(st, evs, k, hd, R.REASON_KILL_CANCEL, SEV_WARNING, n, scope)
    return k


@njit(cache=True, _nrt=False)
def _set_risk(st, c):
    """ADMIN_SET_RISK; False if the target or value is bad."""
    clients = st[I_CLIENTS]
    tid = c.target_id
    if not (0 < tid < len(clients)) or clients[tid].active == 0 or c.v0 < 0:
        return False
    cl = clients[tid]
    if c.scope == R.RISK_MAX_OPEN_ORDERS:
        cl.max_open = c.v0
    elif c.scope == R.RISK_MAX_POSITION:
        cl.max_position = c.v0
    elif c.scope == R.RISK_MAX_GROSS:
        cl.max_gross = c.v0
    elif c.scope == R.RISK_ORDER_RATE:
        cl.max_rate = c.v0
    elif c.scope == R.RISK_MARGIN and c.v0 <= 10_000 and 0 <= c.v1 <= 10_000:
        cl.im_bps = c.v0
        cl.mm_bps = c.v1
    else:
        return False
    return True


@njit(cache=True, _nrt=False)
def _set_symbol(st, c):
    """ADMIN_SET_SYMBOL; False if the target or value is bad."""
    symbols = st[I_SYMBOLS]
    tid = c.target_id
    if not (0 < tid < len(symbols)) or symbols[tid].active == 0 or c.v0 < 0:
        return False
    s = symbols[tid]
    if c.scope == R.SYM_COLLAR and c.v1 >= 0:
        s.collar_bps = c.v0
        s.collar_abs = c.v1
    elif c.scope == R.SYM_RESTRICTED and c.v0 <= 1:
        s.restricted = c.v0
    elif c.scope == R.SYM_SHORTABLE and c.v0 <= 1:
        s.shortable = c.v0
    elif c.scope == R.SYM_REFERENCE_PRICE and c.v0 > 0:
        s.ref_price = c.v0
    else:
        return False
    return True


@njit(cache=True, _nrt=False)
def _on_admin(st, c, hd, evs, k):
    clients, symbols, symtab, venues = st[I_CLIENTS], st[I_SYMBOLS], st[I_SYMTAB], st[I_VENUES]
    a, tid = c.action, c.target_id
    if a == ADMIN_ADD_CLIENT:
        if 0 < tid < len(clients) and clients[tid].active == 0 and c.v0 >= 0 and c.v1 >= 0:
            cl = clients[tid]
            cl.active = 1
            cl.max_qty = c.v0
            cl.max_notional = c.v1
            cl.cash = c.v2
            _copy(cl.account, c.name, ACCOUNT_LEN)
            return k
    elif a == ADMIN_ADD_SYMBOL:
        ok = (0 < tid < len(symbols) and symbols[tid].active == 0 and c.v0 >= 0
              and 0 <= c.v1 < MAX_VENUES and not _is_empty(c.name, SYMBOL_LEN))
        for j in range(SYMBOL_LEN, ACCOUNT_LEN):  # the name must fit a symbol field
            ok = ok and c.name[j] == 0
        if ok:
            slot = _symbol_slot(symtab, symbols, c.name)
            if symtab[slot] == 0:  # else the name belongs to another symbol
                s = symbols[tid]
                s.active = 1
                s.shortable = 1  # easy to borrow unless the operator says otherwise
                s.ref_price = c.v0
                s.ref_ts = hd[3]
                s.default_venue = c.v1
                _copy(s.name, c.name, SYMBOL_LEN)
                symtab[slot] = tid
                return k
    elif a == ADMIN_SET_LIMITS:
        if 0 < tid < len(clients) and clients[tid].active != 0 and c.v0 >= 0 and c.v1 >= 0:
            clients[tid].max_qty = c.v0
            clients[tid].max_notional = c.v1
            return k
    elif a == R.ADMIN_SET_RISK:
        if _set_risk(st, c):
            return k
    elif a == R.ADMIN_SET_SYMBOL:
        if _set_symbol(st, c):
            return k
    elif a == R.ADMIN_KILL:
        return _kill(st, c, hd, evs, k)
    elif a == R.ADMIN_CANCEL_ALL:
        if R.KILL_GLOBAL <= c.scope <= R.KILL_VENUE:
            k, n = _cancel_all(st, evs, k, hd, c.scope, tid, False)
            return _alert(st, evs, k, hd, R.REASON_KILL_CANCEL, SEV_WARNING, n, c.scope)
    elif a == R.ADMIN_ADD_VENUE:
        if 0 < tid < MAX_VENUES and venues[tid].active == 0:
            v = venues[tid]
            v.active = 1
            v.take_fee = c.v0
            v.make_fee = c.v1
            v.fill_ratio = FILL_RATIO_ONE
            _copy(v.name, c.name, SYMBOL_LEN)
            return k
    elif a == ADMIN_DIGEST:
        return k  # logic.py emits the digest right after this input
    elif a == ADMIN_SNAPSHOT:
        return k  # the sequencer takes it (I/O is no business of the kernels)
    elif a == ADMIN_EPOCH:
        scalars, epochs = st[I_SCALARS], st[I_EPOCHS]
        if scalars[S_EPOCH] < c.v0 < MAX_EPOCHS:
            scalars[S_EPOCH] = c.v0
            epochs[c.v0].first_seq = hd[2]
            epochs[c.v0].node_id = tid
            return _alert(st, evs, k, hd, R.REASON_EPOCH, SEV_WARNING, c.v0, tid)
    elif a == ADMIN_REPLICATION:
        scalars = st[I_SCALARS]
        if c.v0 == R.REPLICATION_DOWN and (c.v1 == POLICY_REJECT_NEW or c.v1 == R.POLICY_DEGRADE):
            scalars[S_REPL_DOWN] = 1
            scalars[S_REPL_POLICY] = c.v1
            scalars[S_REPL_DOWN_SEQ] = c.v2
            return _alert(st, evs, k, hd, R.REASON_REPLICATION_DOWN, SEV_ERROR, c.v2, c.v1)
        if c.v0 == R.REPLICATION_UP:
            scalars[S_REPL_DOWN] = 0
            scalars[S_REPL_POLICY] = 0
            scalars[S_REPL_DOWN_SEQ] = 0
            return _alert(st, evs, k, hd, R.REASON_REPLICATION_UP, SEV_INFO, hd[2], 0)
    elif a == ADMIN_STANDBY_DIVERGED:
        return _alert(st, evs, k, hd, R.REASON_STANDBY_DIVERGED, SEV_ERROR, c.v0, c.v1)
    return _alert(st, evs, k, hd, R.REASON_INVALID_ADMIN, SEV_WARNING, a, tid)


# ------------------------------------------------------------------ timer ticks
@njit(cache=True, _nrt=False)
def _on_timer(st, c, hd, evs, k):
    if c.kind != R.TIMER_TICK:
        return k
    k = on_tick(st, evs, k, hd, c.param if c.param > 0 else 0)
    clients = st[I_CLIENTS]
    for cid in range(1, len(clients)):
        if clients[cid].active != 0:
            k = _margin_check(st, evs, k, hd, cid)
    return k


@njit(cache=True, _nrt=False)
def _on_session_event(st, c, hd, evs, k):
    """A gateway's session event: cancel-on-disconnect cancels every open order of the
    session's client (all its sessions: orders are the client's, not a connection's)."""
    if c.event != R.SESSION_CANCEL_ON_DISCONNECT:
        return k
    if not 0 < c.client_id < len(st[I_CLIENTS]) or st[I_CLIENTS][c.client_id].active == 0:
        return _alert(st, evs, k, hd, R.REASON_UNKNOWN_CLIENT, SEV_WARNING, c.client_id, c.session_id)
    k, n = _cancel_all(st, evs, k, hd, R.KILL_CLIENT, c.client_id, False)
    return _alert(st, evs, k, hd, R.REASON_SESSION_CANCEL, SEV_WARNING, n, c.session_id)


# ------------------------------------------------------------------ entry point
@njit(cache=True, _nrt=False)
def process_batch(st, cmds, evs, start, end, out_start):
    """Apply inputs [start, end) of ``cmds`` to state ``st``; write events from ``out_start``.

    st: ``State.kernel_args()``; cmds: ``command_views(raw)``; evs: ``event_views(buf)``.
    Stops before an input whose worst case would not fit the event buffer. Returns
    (index of the next input to apply, events written).
    """
    scalars = st[I_SCALARS]
    cap = len(evs[E_ER])
    hdrs = cmds[C_NEW]  # any per-type view reads the common header
    k = out_start
    i = start
    while i < end:
        h = hdrs[i]
        t = h.type
        hd = (h.source_id, h.source_seq, h.seq, h.ts)
        need = MAX_EVENTS_PER_INPUT
        if t == TIMER:
            need += tick_events_needed(st) + len(st[I_CLIENTS])
        elif t == ADMIN:
            need += _bulk_events_needed(st, cmds[C_ADMIN][i], hd, evs)
        elif t == SESSION_EVENT and cmds[C_SESSION][i].event == R.SESSION_CANCEL_ON_DISCONNECT:
            need += _cancel_all(st, evs, 0, hd, R.KILL_CLIENT, cmds[C_SESSION][i].client_id, True)[0] + 1
        if k + need > cap:
            break
        if t == NEW_ORDER:
            k = _on_new_order(st, cmds[C_NEW][i], hd, evs, k)
        elif t == VENUE_FILL:
            k = _on_venue_fill(st, cmds[C_FILL][i], hd, evs, k)
        elif t == VENUE_ACK:
            k = _on_venue_ack(st, cmds[C_ACK][i], hd, evs, k)
        elif t == MARKET_DATA:
            _on_market_data(st, cmds[C_MD][i], hd)
        elif t == CANCEL:
            k = _on_cancel(st, cmds[C_CANCEL][i], hd, evs, k)
        elif t == VENUE_CANCELLED:
            k = _on_venue_cancelled(st, cmds[C_CANCELLED][i], hd, evs, k)
        elif t == REPLACE:
            k = _on_replace(st, cmds[C_REPLACE][i], hd, evs, k)
        elif t == VENUE_REJECT:
            k = _on_venue_reject(st, cmds[C_VREJECT][i], hd, evs, k)
        elif t == ADMIN:
            k = _on_admin(st, cmds[C_ADMIN][i], hd, evs, k)
        elif t == TIMER:
            k = _on_timer(st, cmds[C_TIMER][i], hd, evs, k)
        elif t == SESSION_EVENT:
            k = _on_session_event(st, cmds[C_SESSION][i], hd, evs, k)
        else:
            k = _alert(st, evs, k, hd, R.REASON_UNKNOWN_RECORD, SEV_ERROR, t, h.version)
        scalars[S_LAST_SEQ] = h.seq
        scalars[S_LAST_TS] = h.ts
        scalars[S_INPUTS] += 1
        i += 1
    scalars[S_EVENTS] += k - out_start
    return i, k - out_start
