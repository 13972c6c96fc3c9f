"""Order life-cycle steps shared by the client, venue, algo and kill-switch paths.

A client order is DIRECT (it is its own venue order) or a PARENT (routed or algo) whose
CHILD orders are at venues. Clients see only their own orders' ExecReports; children
report nothing themselves: their fills and endings roll up to the parent here.
A parent ends when it is filled, or when it has no live child left and nothing more
will be sent (not an algo still inside its window): CANCELED (cancel requested, or
the venues cancelled), EXPIRED (algo window over), REJECTED (every child refused
before anything was acknowledged).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from . import records as R
from .kernel_base import (
    ACT_CANCEL, CLORD_LEN, EX_CANCELED, EX_EXPIRED, EX_PENDING_CANCEL, EX_REJECTED, I_ALGOS, I_CLIENTS,
    I_ORDERS, I_SCALARS, KIND_CHILD, KIND_DIRECT, ST_CANCELED, ST_EXPIRED, ST_NEW, ST_PENDING_CANCEL,
    ST_PENDING_NEW, ST_REJECTED, _copy, _is_done, _is_empty, _order_report, _venue_cancel,
)
from .positions import _unhold
from .router import child_finished
from .state import S_ALGOS_LIVE

ALGO_WORKING = 1
ALGO_ENDING = 2  # window over: children being cancelled, then the parent expires


@njit(cache=True, inline="always", _nrt=False)
def order_closed(st, oi):
    """A client order reached a final status with nothing held any more."""
    o = st[I_ORDERS][oi]
    st[I_CLIENTS][o.client_id].open_orders -= 1
    if o.algo != 0:
        a = st[I_ALGOS][o.algo - 1]
        if a.active != 0:
            a.active = 0
            st[I_SCALARS][S_ALGOS_LIVE] -= 1


@njit(cache=True, _nrt=False)
def order_done(st, oi):
    """Release what a client order held once it reaches a final status (leaves still set)."""
    _unhold(st, oi, st[I_ORDERS][oi].value_px)
    order_closed(st, oi)


@njit(cache=True, _nrt=False)
def cancel_children(st, evs, k, hd, pi, venue):
    """VenueCancel for each live child of parent row pi (venue 0: at every venue) that
    is not already being cancelled."""
    orders = st[I_ORDERS]
    ci = np.int64(orders[pi].first_child) - 1
    while ci >= 0:
        c = orders[ci]
        if not _is_done(c.status) and c.pending != ACT_CANCEL and (venue == 0 or c.venue_id == venue):
            c.pending = ACT_CANCEL
            k = _venue_cancel(st, evs, k, hd, ci)
        ci = np.int64(c.next_sibling) - 1
    return k


@njit(cache=True, _nrt=False)
def end_order(st, evs, k, hd, pi, status, exec_type, reason):
    """Client order row pi (direct or parent) reaches a final status: a pending cancel's
    ClOrdID becomes current, what it held is released, and the client is told."""
    o = st[I_ORDERS][pi]
    if o.pending == ACT_CANCEL and not _is_empty(o.pend_cl_ord_id, CLORD_LEN):
        # the client's cancel request's ClOrdID becomes current
        _copy(o.orig_cl_ord_id, o.cl_ord_id, CLORD_LEN)
        _copy(o.cl_ord_id, o.pend_cl_ord_id, CLORD_LEN)
    o.pending = 0
    o.status = status
    order_done(st, pi)
    o.leaves = 0
    o.working = 0
    o.updated_ts = hd[3]
    return _order_report(st, evs, k, hd, pi, exec_type, reason, 0, 0, False)


@njit(cache=True, inline="always", _nrt=False)
def _all_children_refused(st, pi):
    """Every child of parent row pi was rejected by its venue (none cancelled)."""
    orders = st[I_ORDERS]
    ci = np.int64(orders[pi].first_child) - 1
    while ci >= 0:
        if orders[ci].status != ST_REJECTED:
            return False
        ci = np.int64(orders[ci].next_sibling) - 1
    return True


@njit(cache=True, _nrt=False)
def settle_parent(st, evs, k, hd, pi):
    """End parent row pi if nothing is working and nothing more will be sent."""
    o = st[I_ORDERS][pi]
    if _is_done(o.status) or o.children != 0:
        return k
    algo_state = st[I_ALGOS][o.algo - 1].active if o.algo != 0 else 0
    if o.pending == ACT_CANCEL:
        return end_order(st, evs, k, hd, pi, ST_CANCELED, EX_CANCELED, R.REASON_NONE)
    if algo_state == ALGO_WORKING:
        return k  # the next slice sends more
    if algo_state == ALGO_ENDING:
        return end_order(st, evs, k, hd, pi, ST_EXPIRED, EX_EXPIRED, R.REASON_NONE)
    if o.status == ST_PENDING_NEW and _all_children_refused(st, pi):
        return end_order(st, evs, k, hd, pi, ST_REJECTED, EX_REJECTED, R.REASON_VENUE_REJECT)
    # (children a venue cancelled unacknowledged, e.g. an unfilled IOC / FOK: CANCELED,
    # as a direct order would be)
    return end_order(st, evs, k, hd, pi, ST_CANCELED, EX_CANCELED, R.REASON_NONE)


@njit(cache=True, _nrt=False)
def child_ended(st, evs, k, hd, ci):
    """A child reached a final status: take it off its parent and settle the parent."""
    orders = st[I_ORDERS]
    c = orders[ci]
    pi = np.int64(c.parent) - 1
    p = orders[pi]
    p.children -= 1
    p.working -= c.leaves
    c.leaves = 0
    child_finished(st, ci)
    return settle_parent(st, evs, k, hd, pi)


@njit(cache=True, _nrt=False)
def start_cancel(st, evs, k, hd, oi):
    """Cancel client order row oi: PENDING_CANCEL and the venue cancels (the caller set
    pend_cl_ord_id for a client's request; empty for the operator's cancel-all)."""
    o = st[I_ORDERS][oi]
    o.prev_status = o.status
    o.status = ST_PENDING_CANCEL
    o.updated_ts = hd[3]
    o.pending = ACT_CANCEL
    # a client's request: ClOrdID = the request's, OrigClOrdID = the order's; the
    # operator's cancel-all has no request, so the report names the order by its own
    request = not _is_empty(o.pend_cl_ord_id, CLORD_LEN)
    if o.kind == KIND_DIRECT:
        k = _order_report(st, evs, k, hd, oi, EX_PENDING_CANCEL, R.REASON_NONE, 0, 0, request)
        return _venue_cancel(st, evs, k, hd, oi)
    if o.children == 0:  # an algo between slices: nothing at any venue
        return settle_parent(st, evs, k, hd, oi)
    k = _order_report(st, evs, k, hd, oi, EX_PENDING_CANCEL, R.REASON_NONE, 0, 0, request)
    return cancel_children(st, evs, k, hd, oi, 0)


@njit(cache=True, _nrt=False)
def child_acked(st, evs, k, hd, ci):
    """A child's venue ack: the parent is NEW once its first child is acknowledged."""
    orders = st[I_ORDERS]
    pi = np.int64(orders[ci].parent) - 1
    p = orders[pi]
    if p.status == ST_PENDING_NEW:
        p.status = ST_NEW
        p.updated_ts = hd[3]
        return _order_report(st, evs, k, hd, pi, R.EXEC_NEW, R.REASON_NONE, 0, 0, False)
    if p.prev_status == ST_PENDING_NEW and p.pending != 0:
        p.prev_status = ST_NEW  # acknowledged while a cancel-all was pending
    return k


@njit(cache=True, inline="always", _nrt=False)
def is_child(st, oi):
    return st[I_ORDERS][oi].kind == KIND_CHILD
