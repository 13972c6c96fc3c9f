"""Shared pieces of the business-logic kernels: record views, constants, id tables and
the event writers. Every function is ``inline="always"`` and compiled without NRT (see
``kernels.py``), so it costs nothing to call from the stage modules (positions, risk,
router, algos, kernels).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from . import records as R
from .state import (  # the stage modules take these names from here
    I_ALGOS, I_BOOK_INDEX, I_BOOKS, I_CLIENTS, I_CLORD, I_EPOCHS, I_ORDERS, I_POSITIONS, I_POSTAB,
    I_SCALARS, I_SCRATCH, I_SYMBOLS, I_SYMTAB, I_VENUES, KIND_CHILD, KIND_DIRECT, KIND_PARENT,
    MAX_EPOCHS, MAX_VENUES, S_ALERTS, S_CANCEL_REJECTS, S_CLORD_USED, S_EVENTS, S_EXEC_ID,
    S_ORDER_REJECTS, S_ORDERS,
)

# A parent order has at most MAX_LIVE_CHILDREN children at venues at once (the router
# splits across at most that many venues; an algo waits for room), so one client
# command writes at most MAX_EVENTS_PER_INPUT events: a report, a venue message per
# child and spare. Bulk inputs (timer ticks, cancel-all) say how many they need first.
MAX_LIVE_CHILDREN = 8
MAX_EVENTS_PER_INPUT = MAX_LIVE_CHILDREN + 4

COMMAND_VIEW_DTYPES = (
    R.NewOrder, R.Cancel, R.Replace, R.VenueAck, R.VenueFill, R.VenueCancelled,
    R.VenueReject, R.MarketData, R.Timer, R.Admin, R.SessionEvent,
)
EVENT_VIEW_DTYPES = (R.ExecReport, R.CancelReject, R.VenueOrder, R.VenueCancel, R.Trade, R.Alert)

# Tuple positions of the views (the first command view doubles as the header view).
C_NEW, C_CANCEL, C_REPLACE, C_ACK, C_FILL, C_CANCELLED, C_VREJECT, C_MD, C_TIMER, C_ADMIN, C_SESSION = range(11)
E_WORDS, E_ER, E_CR, E_VO, E_VC, E_TRADE, E_ALERT = range(7)


def command_views(raw: np.ndarray) -> tuple:
    """Per-type views of a ``RAW_COMMAND`` buffer, as ``process_batch`` takes them."""
    return tuple(raw.view(d) for d in COMMAND_VIEW_DTYPES)


def event_views(raw: np.ndarray) -> tuple:
    """Views of a ``RAW_EVENT`` buffer: u8 words (to zero a slot) then per-type views."""
    words = raw.view(np.uint64).reshape(len(raw), R.EVENT_SIZE // 8)
    return (words,) + tuple(raw.view(d) for d in EVENT_VIEW_DTYPES)


# Module constants as plain names: Numba freezes them at compile time.
INT64_MAX = np.iinfo(np.int64).max
INT64_MIN = np.iinfo(np.int64).min
CLORD_LEN = R.CLORD_LEN
SYMBOL_LEN = R.SYMBOL_LEN
ACCOUNT_LEN = R.ACCOUNT_LEN

NEW_ORDER, CANCEL, REPLACE = R.NEW_ORDER, R.CANCEL, R.REPLACE
VENUE_ACK, VENUE_FILL, VENUE_CANCELLED, VENUE_REJECT = R.VENUE_ACK, R.VENUE_FILL, R.VENUE_CANCELLED, R.VENUE_REJECT
MARKET_DATA, TIMER, ADMIN, SESSION_EVENT = R.MARKET_DATA, R.TIMER, R.ADMIN, R.SESSION_EVENT
EXEC_REPORT_VERSION = R.RECORD_VERSIONS[R.EXEC_REPORT]
EXEC_REPORT, CANCEL_REJECT, VENUE_ORDER, VENUE_CANCEL, TRADE, ALERT = (
    R.EXEC_REPORT, R.CANCEL_REJECT, R.VENUE_ORDER, R.VENUE_CANCEL, R.TRADE, R.ALERT)

SIDE_BUY, SIDE_SELL, SIDE_SELL_SHORT = R.SIDE_BUY, R.SIDE_SELL, R.SIDE_SELL_SHORT
ORD_MARKET, ORD_LIMIT = R.ORD_MARKET, R.ORD_LIMIT
TIF_DAY, TIF_IOC, TIF_FOK = R.TIF_DAY, R.TIF_IOC, R.TIF_FOK
ACT_NEW, ACT_REPLACE, ACT_CANCEL = R.VENUE_ACTION_NEW, R.VENUE_ACTION_REPLACE, R.VENUE_ACTION_CANCEL

ST_NEW, ST_PARTIAL, ST_FILLED, ST_CANCELED = R.STATUS_NEW, R.STATUS_PARTIAL, R.STATUS_FILLED, R.STATUS_CANCELED
ST_PENDING_CANCEL, ST_REJECTED, ST_PENDING_NEW, ST_PENDING_REPLACE = (
    R.STATUS_PENDING_CANCEL, R.STATUS_REJECTED, R.STATUS_PENDING_NEW, R.STATUS_PENDING_REPLACE)
EX_NEW, EX_CANCELED, EX_REPLACED, EX_PENDING_CANCEL = R.EXEC_NEW, R.EXEC_CANCELED, R.EXEC_REPLACED, R.EXEC_PENDING_CANCEL
EX_REJECTED, EX_PENDING_NEW, EX_PENDING_REPLACE, EX_TRADE = (
    R.EXEC_REJECTED, R.EXEC_PENDING_NEW, R.EXEC_PENDING_REPLACE, R.EXEC_TRADE)

EX_EXPIRED, ST_EXPIRED = R.EXEC_EXPIRED, R.STATUS_EXPIRED
STRATEGY_DIRECT, STRATEGY_BEST_PRICE, STRATEGY_SWEEP, STRATEGY_COST = (
    R.STRATEGY_DIRECT, R.STRATEGY_BEST_PRICE, R.STRATEGY_SWEEP, R.STRATEGY_COST)
STRATEGY_TWAP, STRATEGY_VWAP = R.STRATEGY_TWAP, R.STRATEGY_VWAP

RESP_CANCEL, RESP_REPLACE = R.RESPONSE_TO_CANCEL, R.RESPONSE_TO_REPLACE
SEV_INFO, SEV_WARNING, SEV_ERROR = R.SEVERITY_INFO, R.SEVERITY_WARNING, R.SEVERITY_ERROR

ADMIN_ADD_CLIENT, ADMIN_ADD_SYMBOL, ADMIN_SET_LIMITS, ADMIN_DIGEST, ADMIN_SNAPSHOT = (
    R.ADMIN_ADD_CLIENT, R.ADMIN_ADD_SYMBOL, R.ADMIN_SET_LIMITS, R.ADMIN_DIGEST, R.ADMIN_SNAPSHOT)
ADMIN_EPOCH, ADMIN_REPLICATION, ADMIN_STANDBY_DIVERGED = (
    R.ADMIN_EPOCH, R.ADMIN_REPLICATION, R.ADMIN_STANDBY_DIVERGED)
POLICY_REJECT_NEW = R.POLICY_REJECT_NEW

# ITCH 5.0 messages that carry a trade price.
MD_TRADE = ord("P")
MD_EXECUTED_WITH_PRICE = ord("C")
MD_CROSS = ord("Q")


# ------------------------------------------------------------------ small helpers
@njit(cache=True, inline="always", _nrt=False)
def _copy(dst, src, n):
    for j in range(n):
        dst[j] = src[j]


@njit(cache=True, inline="always", _nrt=False)
def _is_empty(a, n):
    for j in range(n):
        if a[j] != 0:
            return False
    return True


@njit(cache=True, inline="always", _nrt=False)
def _same(a, b, n):
    for j in range(n):
        if a[j] != b[j]:
            return False
    return True


@njit(cache=True, inline="always", _nrt=False)
def _add_overflows(a, b):
    return (b > 0 and a > INT64_MAX - b) or (b < 0 and a < INT64_MIN - b)


@njit(cache=True, inline="always", _nrt=False)
def _is_done(status):
    return status == ST_FILLED or status == ST_CANCELED or status == ST_REJECTED or status == ST_EXPIRED


@njit(cache=True, inline="always", _nrt=False)
def _side_sign(side):
    return 1 if side == SIDE_BUY else -1


@njit(cache=True, inline="always", _nrt=False)
def _avg_px(notional, cum):
    if cum <= 0:
        return 0
    q = notional // cum
    if 2 * (notional - q * cum) >= cum:  # remainder < cum, so 2*remainder cannot overflow
        q += 1
    return q


@njit(cache=True, inline="always", _nrt=False)
def _word(a, start, n):
    """Bytes a[start:start+n] (n <= 8) as a little-endian u8."""
    w = np.uint64(0)
    for j in range(n):
        w |= np.uint64(a[start + j]) << np.uint64(8 * j)
    return w


@njit(cache=True, inline="always", _nrt=False)
def _mix(h, w):
    # One multiply-xorshift round per 8-byte word (a fixed function: no per-process
    # salt, unlike Python's hash()); the final shift folds high bits into the low
    # ones that the table mask keeps.
    h = (h ^ w) * np.uint64(0x9E3779B97F4A7C15)
    return h ^ (h >> np.uint64(29))


@njit(cache=True, inline="always", _nrt=False)
def _clord_slot(table, client_id, key):
    """Slot holding (client_id, key), or the empty slot where it would be inserted."""
    h = _mix(np.uint64(client_id), _word(key, 0, 8))
    h = _mix(h, _word(key, 8, 8))
    h = _mix(h, _word(key, 16, CLORD_LEN - 16))
    mask = len(table) - 1
    s = np.int64(h & np.uint64(mask))
    while True:  # the load limit guarantees an empty slot
        e = table[s]
        if e.order_id == 0:
            return s
        if e.client_id == client_id and _same(e.cl_ord_id, key, CLORD_LEN):
            return s
        s = (s + 1) & mask


@njit(cache=True, inline="always", _nrt=False)
def _symbol_slot(table, symbols, name):
    """Slot holding the symbol called ``name`` (first SYMBOL_LEN bytes), or the empty slot for it."""
    h = _mix(np.uint64(0), _word(name, 0, SYMBOL_LEN))
    mask = len(table) - 1
    s = np.int64(h & np.uint64(mask))
    while True:  # fewer symbols than slots, so an empty slot exists
        sid = table[s]
        if sid == 0:
            return s
        if _same(symbols[sid].name, name, SYMBOL_LEN):
            return s
        s = (s + 1) & mask


@njit(cache=True, inline="always", _nrt=False)
def _clord_full(scalars, clord):
    # 3/4 full at most (as state.clord_load_limit) keeps linear probes short.
    return scalars[S_CLORD_USED] >= len(clord) - len(clord) // 4


@njit(cache=True, inline="always", _nrt=False)
def _next_exec_id(scalars):
    scalars[S_EXEC_ID] += 1
    return scalars[S_EXEC_ID]


@njit(cache=True, inline="always", _nrt=False)
def _stamp(evs, k, etype, hd):
    """Zero event slot k and write its header; hd = (source_id, source_seq, seq, ts) of the input."""
    w = evs[E_WORDS]
    for j in range(w.shape[1]):
        w[k, j] = 0
    e = evs[E_ER][k]  # every event type shares the header layout
    e.type = etype
    e.version = EXEC_REPORT_VERSION if etype == EXEC_REPORT else 1
    e.source_id = hd[0]
    e.source_seq = hd[1]
    e.seq = hd[2]
    e.ts = hd[3]


# ------------------------------------------------------------------ event writers
@njit(cache=True, inline="always", _nrt=False)
def _alert(st, evs, k, hd, code, severity, a, b):
    _stamp(evs, k, ALERT, hd)
    e = evs[E_ALERT][k]
    e.code = code
    e.severity = severity
    e.a = a
    e.b = b
    st[I_SCALARS][S_ALERTS] += 1
    return k + 1


@njit(cache=True, inline="always", _nrt=False)
def _order_report(st, evs, k, hd, oi, exec_type, reason, last_px, last_qty, pending_ids):
    """ExecReport for order row oi. pending_ids: ClOrdID = the pending request's,
    OrigClOrdID = the order's current (a PENDING_CANCEL / PENDING_REPLACE report)."""
    scalars, orders, symbols = st[I_SCALARS], st[I_ORDERS], st[I_SYMBOLS]
    o = orders[oi]
    _stamp(evs, k, EXEC_REPORT, hd)
    e = evs[E_ER][k]
    e.order_id = oi + 1
    e.exec_id = _next_exec_id(scalars)
    e.client_id = o.client_id
    e.symbol_id = o.symbol_id
    e.side = o.side
    e.exec_type = exec_type
    e.ord_status = o.status
    e.ord_type = o.ord_type
    e.reason = reason
    e.venue_id = o.venue_id
    e.price = o.price
    e.qty = o.qty
    e.last_px = last_px
    e.last_qty = last_qty
    e.leaves_qty = o.leaves
    e.cum_qty = o.cum
    e.avg_px = _avg_px(o.notional, o.cum)
    e.working_qty = o.working
    e.strategy = o.strategy
    if pending_ids:
        _copy(e.cl_ord_id, o.pend_cl_ord_id, CLORD_LEN)
        _copy(e.orig_cl_ord_id, o.cl_ord_id, CLORD_LEN)
    else:
        _copy(e.cl_ord_id, o.cl_ord_id, CLORD_LEN)
        _copy(e.orig_cl_ord_id, o.orig_cl_ord_id, CLORD_LEN)
    _copy(e.symbol, symbols[o.symbol_id].name, SYMBOL_LEN)
    return k + 1


@njit(cache=True, _nrt=False)
def _reject_new(st, evs, k, hd, c, symbol_id, reason):
    """ExecReport REJECTED for a NewOrder that never became an order row."""
    scalars, symbols = st[I_SCALARS], st[I_SYMBOLS]
    _stamp(evs, k, EXEC_REPORT, hd)
    e = evs[E_ER][k]
    e.exec_id = _next_exec_id(scalars)
    e.client_id = c.client_id
    e.symbol_id = symbol_id
    e.side = c.side
    e.exec_type = EX_REJECTED
    e.ord_status = ST_REJECTED
    e.ord_type = c.ord_type
    e.reason = reason
    e.venue_id = c.venue_id
    e.price = c.price
    e.qty = c.qty
    _copy(e.cl_ord_id, c.cl_ord_id, CLORD_LEN)
    if symbol_id != 0:
        _copy(e.symbol, symbols[symbol_id].name, SYMBOL_LEN)
    else:
        _copy(e.symbol, c.symbol, SYMBOL_LEN)
    scalars[S_ORDER_REJECTS] += 1
    return k + 1


@njit(cache=True, _nrt=False)
def _reject_request(st, evs, k, hd, c, oi, reason, response_to):
    """CancelReject answering a client's Cancel or Replace record c (oi = -1: no order)."""
    scalars, orders = st[I_SCALARS], st[I_ORDERS]
    _stamp(evs, k, CANCEL_REJECT, hd)
    e = evs[E_CR][k]
    e.exec_id = _next_exec_id(scalars)
    e.client_id = c.client_id
    e.reason = reason
    e.response_to = response_to
    _copy(e.cl_ord_id, c.cl_ord_id, CLORD_LEN)
    _copy(e.orig_cl_ord_id, c.orig_cl_ord_id, CLORD_LEN)
    if oi >= 0 and reason != R.REASON_NOT_OWNER:  # tell nothing about another client's order
        o = orders[oi]
        e.order_id = oi + 1
        e.ord_status = o.status
        if _is_empty(c.orig_cl_ord_id, CLORD_LEN):  # cancel by order id: name the order's ClOrdID
            _copy(e.orig_cl_ord_id, o.cl_ord_id, CLORD_LEN)
    scalars[S_CANCEL_REJECTS] += 1
    return k + 1


@njit(cache=True, _nrt=False)
def _reject_pending(st, evs, k, hd, oi, reason, response_to):
    """CancelReject for the order's pending request, refused by the venue."""
    scalars, orders = st[I_SCALARS], st[I_ORDERS]
    o = orders[oi]
    _stamp(evs, k, CANCEL_REJECT, hd)
    e = evs[E_CR][k]
    e.order_id = oi + 1
    e.exec_id = _next_exec_id(scalars)
    e.client_id = o.client_id
    e.reason = reason
    e.response_to = response_to
    e.ord_status = o.status
    _copy(e.cl_ord_id, o.pend_cl_ord_id, CLORD_LEN)
    _copy(e.orig_cl_ord_id, o.cl_ord_id, CLORD_LEN)
    scalars[S_CANCEL_REJECTS] += 1
    return k + 1


@njit(cache=True, inline="always", _nrt=False)
def _venue_order(st, evs, k, hd, oi, action, price, qty):
    orders, symbols = st[I_ORDERS], st[I_SYMBOLS]
    o = orders[oi]
    _stamp(evs, k, VENUE_ORDER, hd)
    e = evs[E_VO][k]
    e.order_id = oi + 1
    e.client_id = o.client_id
    e.symbol_id = o.symbol_id
    e.price = price
    e.qty = qty
    e.venue_id = o.venue_id
    e.action = action
    e.side = o.side
    e.ord_type = o.ord_type
    e.tif = o.tif
    _copy(e.symbol, symbols[o.symbol_id].name, SYMBOL_LEN)
    return k + 1



@njit(cache=True, _nrt=False)
def _venue_cancel(st, evs, k, hd, oi):
    o = st[I_ORDERS][oi]
    _stamp(evs, k, VENUE_CANCEL, hd)
    e = evs[E_VC][k]
    e.order_id = oi + 1
    e.client_id = o.client_id
    e.symbol_id = o.symbol_id
    e.venue_id = o.venue_id
    return k + 1


@njit(cache=True, inline="always", _nrt=False)
def _bps(x, bps):
    """x * bps / 10000 for x >= 0, without the product overflowing (rounded down)."""
    return (x // 10000) * bps + (x % 10000) * bps // 10000
