"""Numba kernels: the order state machine, pre-trade checks, positions and cash.

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
- Market orders are stored with price 0 and valued at the symbol's reference price
  for the notional check.
- avg_px = fill notional / cum, rounded half up.
- A CancelReject for NOT_OWNER carries no order id or status (not the asker's order).
- A venue message that does not fit (unknown order, finished order, overfill, wrong
  ack) raises an Alert and changes nothing.
- Successful admin commands emit no event; a bad one raises an Alert.

Compilation: every helper is ``inline="always"`` into ``process_batch`` and everything
is compiled with ``_nrt=False`` (no Numba reference counting). The kernels only index
preallocated arrays, and the refcount updates on each array handed between helpers
cost about half the run time; without NRT any allocation inside a kernel fails to
compile, which enforces "allocate nothing". ``cache=True`` keys on this file only:
after changing a constant imported from records.py or state.py, touch this file (or
clear ``sequencer/__pycache__``) so the cached machine code is rebuilt.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from . import records as R
from .state import (
    MAX_EPOCHS, S_ALERTS, S_CANCEL_REJECTS, S_CLORD_USED, S_EPOCH, S_EVENTS, S_EXEC_ID, S_INPUTS,
    S_LAST_SEQ, S_LAST_TS, S_ORDER_REJECTS, S_ORDERS, S_REPL_DOWN, S_REPL_DOWN_SEQ, S_REPL_POLICY,
    S_TRADES,
)

# Worst case events per input: NewOrder, Cancel, Replace and VenueFill write 2, the
# rest at most 1. 4 leaves room for later parts (e.g. a fill that also trips a limit).
MAX_EVENTS_PER_INPUT = 4

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
    return status == ST_FILLED or status == ST_CANCELED or status == ST_REJECTED


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
    e.version = 1
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
    st[0][S_ALERTS] += 1
    return k + 1


@njit(cache=True, inline="always", _nrt=False)
def _order_report(st, evs, k, hd, oi, exec_type, reason, last_px, last_qty, pending_ids):
    """ExecReport for order row oi. pending_ids: ClOrdID = the pending request's,
    OrigClOrdID = the order's current (a PENDING_CANCEL / PENDING_REPLACE report)."""
    scalars, orders, symbols = st[0], st[1], st[3]
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
    if pending_ids:
        _copy(e.cl_ord_id, o.pend_cl_ord_id, CLORD_LEN)
        _copy(e.orig_cl_ord_id, o.cl_ord_id, CLORD_LEN)
    else:
        _copy(e.cl_ord_id, o.cl_ord_id, CLORD_LEN)
        _copy(e.orig_cl_ord_id, o.orig_cl_ord_id, CLORD_LEN)
    _copy(e.symbol, symbols[o.symbol_id].name, SYMBOL_LEN)
    return k + 1


@njit(cache=True, inline="always", _nrt=False)
def _reject_new(st, evs, k, hd, c, symbol_id, reason):
    """ExecReport REJECTED for a NewOrder that never became an order row."""
    scalars, symbols = st[0], st[3]
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


@njit(cache=True, inline="always", _nrt=False)
def _reject_request(st, evs, k, hd, c, oi, reason, response_to):
    """CancelReject answering a client's Cancel or Replace record c (oi = -1: no order)."""
    scalars, orders = st[0], st[1]
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


@njit(cache=True, inline="always", _nrt=False)
def _reject_pending(st, evs, k, hd, oi, reason, response_to):
    """CancelReject for the order's pending request, refused by the venue."""
    scalars, orders = st[0], st[1]
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
    orders, symbols = st[1], st[3]
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


# ------------------------------------------------------------------ client commands
@njit(cache=True, inline="always", _nrt=False)
def _new_risk_refused(scalars):
    """No standby holds the journal and the policy is to refuse new risk meanwhile."""
    return scalars[S_REPL_DOWN] != 0 and scalars[S_REPL_POLICY] == POLICY_REJECT_NEW


@njit(cache=True, inline="always", _nrt=False)
def _new_order_checks(st, c):
    """Pre-trade checks of a NewOrder, in order: (reason or 0, symbol_id, venue, price, slot)."""
    scalars, orders, clients, symbols, clord, symtab = st[0], st[1], st[2], st[3], st[5], st[6]
    none = np.int64(0)
    if _new_risk_refused(scalars):
        return R.REASON_NOT_REPLICATED, none, none, none, none
    cid = c.client_id
    if cid == 0 or cid >= len(clients) or clients[cid].active == 0:
        return R.REASON_UNKNOWN_CLIENT, none, none, none, none
    sid = np.int64(c.symbol_id)
    if sid == 0:
        if not _is_empty(c.symbol, SYMBOL_LEN):
            sid = np.int64(symtab[_symbol_slot(symtab, symbols, c.symbol)])
    elif sid >= len(symbols) or symbols[sid].active == 0:
        sid = 0
    if sid == 0:
        return R.REASON_UNKNOWN_SYMBOL, none, none, none, none
    venue = np.int64(c.venue_id if c.venue_id != 0 else symbols[sid].default_venue)
    side, ord_type, tif = c.side, c.ord_type, c.tif
    if ((side != SIDE_BUY and side != SIDE_SELL and side != SIDE_SELL_SHORT)
            or (ord_type != ORD_LIMIT and ord_type != ORD_MARKET)
            or (tif != TIF_DAY and tif != TIF_IOC and tif != TIF_FOK)
            or c.qty <= 0 or (ord_type == ORD_LIMIT and c.price <= 0)
            or venue == 0 or _is_empty(c.cl_ord_id, CLORD_LEN)):
        return R.REASON_INVALID_FIELD, sid, none, none, none
    cl = clients[cid]
    if c.qty > cl.max_qty:
        return R.REASON_MAX_QTY, sid, none, none, none
    price = c.price if ord_type == ORD_LIMIT else none
    value_px = price if ord_type == ORD_LIMIT else symbols[sid].ref_price
    if value_px <= 0:
        return R.REASON_NO_REFERENCE_PRICE, sid, none, none, none
    if c.qty > cl.max_notional // value_px:  # qty*px > limit, without the product overflowing
        return R.REASON_MAX_NOTIONAL, sid, none, none, none
    slot = _clord_slot(clord, cid, c.cl_ord_id)
    if clord[slot].order_id != 0:
        return R.REASON_DUPLICATE_CLORDID, sid, none, none, none
    if scalars[S_ORDERS] >= len(orders) or _clord_full(scalars, clord):
        return R.REASON_CAPACITY, sid, none, none, none
    return R.REASON_NONE, sid, venue, price, slot


@njit(cache=True, inline="always", _nrt=False)
def _on_new_order(st, c, hd, evs, k):
    scalars, orders, clord = st[0], st[1], st[5]
    reason, sid, venue, price, slot = _new_order_checks(st, c)
    if reason != R.REASON_NONE:
        return _reject_new(st, evs, k, hd, c, sid, reason)
    oi = scalars[S_ORDERS]
    scalars[S_ORDERS] = oi + 1
    o = orders[oi]
    o.client_id = c.client_id
    o.symbol_id = sid
    o.venue_id = venue
    o.side = c.side
    o.ord_type = c.ord_type
    o.tif = c.tif
    o.status = ST_PENDING_NEW
    o.price = price
    o.qty = c.qty
    o.leaves = c.qty
    o.created_ts = hd[3]
    o.updated_ts = hd[3]
    _copy(o.cl_ord_id, c.cl_ord_id, CLORD_LEN)
    e = clord[slot]
    e.order_id = oi + 1
    e.client_id = c.client_id
    _copy(e.cl_ord_id, c.cl_ord_id, CLORD_LEN)
    scalars[S_CLORD_USED] += 1
    k = _order_report(st, evs, k, hd, oi, EX_PENDING_NEW, R.REASON_NONE, 0, 0, False)
    return _venue_order(st, evs, k, hd, oi, ACT_NEW, price, c.qty)


@njit(cache=True, inline="always", _nrt=False)
def _find_order(st, c):
    """Row of the order a Cancel/Replace names (by order_id, else by OrigClOrdID), or -1."""
    scalars, clord = st[0], st[5]
    if c.order_id != 0:
        oid = np.int64(c.order_id)  # u8 ids above 2**63 turn negative: unknown
        if 0 < oid <= scalars[S_ORDERS]:
            return oid - 1
        return np.int64(-1)
    if _is_empty(c.orig_cl_ord_id, CLORD_LEN):
        return np.int64(-1)
    return np.int64(clord[_clord_slot(clord, c.client_id, c.orig_cl_ord_id)].order_id) - 1


@njit(cache=True, inline="always", _nrt=False)
def _check_request(st, c, oi):
    """Reason to refuse a cancel/replace of row oi (lookup, ownership, state, new ClOrdID), or 0."""
    orders = st[1]
    if oi < 0:
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
    scalars, orders, clord = st[0], st[1], st[5]
    slot = _clord_slot(clord, c.client_id, c.cl_ord_id)
    if clord[slot].order_id != 0:
        return R.REASON_DUPLICATE_CLORDID
    if _clord_full(scalars, clord):
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
    orders = st[1]
    oi = _find_order(st, c)
    reason = _check_request(st, c, oi)
    if reason == R.REASON_NONE:
        reason = _register_request(st, c, oi)
    if reason != R.REASON_NONE:
        return _reject_request(st, evs, k, hd, c, oi, reason, RESP_CANCEL)
    o = orders[oi]
    o.pending = ACT_CANCEL
    o.prev_status = o.status
    o.status = ST_PENDING_CANCEL
    o.updated_ts = hd[3]
    k = _order_report(st, evs, k, hd, oi, EX_PENDING_CANCEL, R.REASON_NONE, 0, 0, True)
    _stamp(evs, k, VENUE_CANCEL, hd)
    e = evs[E_VC][k]
    e.order_id = oi + 1
    e.client_id = o.client_id
    e.symbol_id = o.symbol_id
    e.venue_id = o.venue_id
    return k + 1


@njit(cache=True, inline="always", _nrt=False)
def _on_replace(st, c, hd, evs, k):
    orders, clients, symbols = st[1], st[2], st[3]
    oi = _find_order(st, c)
    reason = _check_request(st, c, oi)
    price = np.int64(0)
    if reason == R.REASON_NONE and _new_risk_refused(st[0]):
        reason = R.REASON_NOT_REPLICATED
    if reason == R.REASON_NONE:
        o = orders[oi]
        cl = clients[o.client_id]
        limit = o.ord_type == ORD_LIMIT
        price = c.price if limit else 0
        value_px = price if limit else symbols[o.symbol_id].ref_price
        if c.qty <= 0 or (limit and c.price <= 0) or c.qty <= o.cum:
            reason = R.REASON_INVALID_FIELD
        elif c.qty > cl.max_qty:
            reason = R.REASON_MAX_QTY
        elif value_px <= 0:
            reason = R.REASON_NO_REFERENCE_PRICE
        elif c.qty > cl.max_notional // value_px:
            reason = R.REASON_MAX_NOTIONAL
    if reason == R.REASON_NONE:
        reason = _register_request(st, c, oi)
    if reason != R.REASON_NONE:
        return _reject_request(st, evs, k, hd, c, oi, reason, RESP_REPLACE)
    o = orders[oi]
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
    """Row of a venue message's order, or -1."""
    oid = np.int64(order_id)  # u8 ids above 2**63 turn negative: unknown
    if 0 < oid <= st[0][S_ORDERS]:
        return oid - 1
    return np.int64(-1)


@njit(cache=True, inline="always", _nrt=False)
def _on_venue_ack(st, c, hd, evs, k):
    orders = st[1]
    oi = _venue_row(st, c.order_id)
    if oi < 0:
        return _alert(st, evs, k, hd, R.REASON_UNKNOWN_ORDER, SEV_WARNING, c.order_id, VENUE_ACK)
    o = orders[oi]
    if c.ack_of == ACT_NEW and o.status == ST_PENDING_NEW:
        o.status = ST_NEW
        o.venue_order_id = c.venue_order_id
        exec_type = EX_NEW
    elif c.ack_of == ACT_REPLACE and o.pending == ACT_REPLACE and not _is_done(o.status):
        _copy(o.orig_cl_ord_id, o.cl_ord_id, CLORD_LEN)
        _copy(o.cl_ord_id, o.pend_cl_ord_id, CLORD_LEN)
        o.price = o.pend_price
        # Fills may have landed while the replace was pending: never below what is filled.
        o.qty = max(o.pend_qty, o.cum)
        o.leaves = o.qty - o.cum
        o.pending = 0
        if o.leaves == 0:
            o.status = ST_FILLED
        elif o.cum > 0:
            o.status = ST_PARTIAL
        else:
            o.status = ST_NEW
        exec_type = EX_REPLACED
    else:
        return _alert(st, evs, k, hd, R.REASON_UNEXPECTED_VENUE_MSG, SEV_WARNING, c.order_id, VENUE_ACK)
    o.updated_ts = hd[3]
    return _order_report(st, evs, k, hd, oi, exec_type, R.REASON_NONE, 0, 0, False)


@njit(cache=True, inline="always", _nrt=False)
def _fill_problem(st, c, oi):
    """Why a VenueFill cannot be applied to row oi (an alert code), or 0. Checks every
    overflow before anything changes: fill value, order notional, cash, fees."""
    orders, clients = st[1], st[2]
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
    if (_add_overflows(o.notional, value) or _add_overflows(cl.fees, c.fee)
            or _add_overflows(cash_move, -c.fee) or _add_overflows(cl.cash, cash_move - c.fee)):
        return R.REASON_OVERFLOW
    return R.REASON_NONE


@njit(cache=True, inline="always", _nrt=False)
def _on_venue_fill(st, c, hd, evs, k):
    scalars, orders, clients, positions = st[0], st[1], st[2], st[4]
    oi = _venue_row(st, c.order_id)
    code = _fill_problem(st, c, oi)
    if code != R.REASON_NONE:
        return _alert(st, evs, k, hd, code, SEV_ERROR, c.order_id, c.qty)
    o = orders[oi]
    cl = clients[o.client_id]
    sign = _side_sign(o.side)
    value = c.qty * c.price
    o.leaves -= c.qty
    o.cum += c.qty
    o.notional += value
    o.updated_ts = hd[3]
    if o.leaves == 0:
        o.status = ST_FILLED  # final even if a cancel/replace is still pending at the venue
    elif o.status == ST_PENDING_CANCEL or o.status == ST_PENDING_REPLACE:
        o.prev_status = ST_PARTIAL
    else:
        o.status = ST_PARTIAL
    positions[o.client_id, o.symbol_id] += sign * c.qty
    cl.cash += -sign * value - c.fee
    cl.fees += c.fee
    scalars[S_TRADES] += 1
    k = _order_report(st, evs, k, hd, oi, EX_TRADE, R.REASON_NONE, c.price, c.qty, False)
    _stamp(evs, k, TRADE, hd)
    t = evs[E_TRADE][k]
    t.exec_id = scalars[S_EXEC_ID]  # the ExecReport's exec id, so the two tie up
    t.order_id = oi + 1
    t.venue_exec_id = c.venue_exec_id
    t.client_id = o.client_id
    t.symbol_id = o.symbol_id
    t.price = c.price
    t.qty = c.qty
    t.fee = c.fee
    t.venue_id = o.venue_id
    t.side = o.side
    t.liquidity = c.liquidity
    return k + 1


@njit(cache=True, inline="always", _nrt=False)
def _on_venue_cancelled(st, c, hd, evs, k):
    orders = st[1]
    oi = _venue_row(st, c.order_id)
    code = R.REASON_UNKNOWN_ORDER if oi < 0 else (R.REASON_TOO_LATE if _is_done(orders[oi].status) else 0)
    if code != R.REASON_NONE:
        return _alert(st, evs, k, hd, code, SEV_WARNING, c.order_id, VENUE_CANCELLED)
    o = orders[oi]
    if o.pending == ACT_CANCEL:  # the client's cancel request's ClOrdID becomes current
        _copy(o.orig_cl_ord_id, o.cl_ord_id, CLORD_LEN)
        _copy(o.cl_ord_id, o.pend_cl_ord_id, CLORD_LEN)
    # else unsolicited (venue expiry, IOC remainder...): a pending replace dies with the order
    o.pending = 0
    o.status = ST_CANCELED
    o.leaves = 0
    o.updated_ts = hd[3]
    return _order_report(st, evs, k, hd, oi, EX_CANCELED, R.REASON_NONE, 0, 0, False)


@njit(cache=True, inline="always", _nrt=False)
def _on_venue_reject(st, c, hd, evs, k):
    orders = st[1]
    oi = _venue_row(st, c.order_id)
    of = c.reject_of
    if oi >= 0 and of == ACT_NEW and orders[oi].status == ST_PENDING_NEW:
        o = orders[oi]
        o.status = ST_REJECTED
        o.leaves = 0
        o.updated_ts = hd[3]
        return _order_report(st, evs, k, hd, oi, EX_REJECTED, R.REASON_VENUE_REJECT, 0, 0, False)
    if oi >= 0 and (of == ACT_CANCEL or of == ACT_REPLACE) and orders[oi].pending == of:
        o = orders[oi]
        o.pending = 0
        if o.status == ST_PENDING_CANCEL or o.status == ST_PENDING_REPLACE:
            o.status = o.prev_status
        o.updated_ts = hd[3]
        reason = R.REASON_TOO_LATE if _is_done(o.status) else R.REASON_VENUE_REJECT
        return _reject_pending(st, evs, k, hd, oi, reason, RESP_CANCEL if of == ACT_CANCEL else RESP_REPLACE)
    code = R.REASON_UNKNOWN_ORDER if oi < 0 else R.REASON_UNEXPECTED_VENUE_MSG
    return _alert(st, evs, k, hd, code, SEV_WARNING, c.order_id, VENUE_REJECT)


# ------------------------------------------------------------------ reference data
@njit(cache=True, inline="always", _nrt=False)
def _on_market_data(st, c, hd):
    symbols = st[3]
    sid = c.symbol_id
    if sid == 0 or sid >= len(symbols) or symbols[sid].active == 0 or c.price <= 0:
        return  # feeds carry symbols we do not trade; nothing to record
    if c.action == MD_TRADE or c.action == MD_EXECUTED_WITH_PRICE or c.action == MD_CROSS:
        s = symbols[sid]
        s.ref_price = c.price
        s.ref_ts = hd[3]


@njit(cache=True, inline="always", _nrt=False)
def _on_admin(st, c, hd, evs, k):
    clients, symbols, symtab = st[2], st[3], st[6]
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
              and 0 <= c.v1 <= 0xFFFF and not _is_empty(c.name, SYMBOL_LEN))
        for j in range(SYMBOL_LEN, ACCOUNT_LEN):  # the name must fit a symbol field
            ok = ok and c.name[j] == 0
        if ok:
            slot = _symbol_slot(symtab, symbols, c.name)
            if symtab[slot] == 0:  # else the name belongs to another symbol
                s = symbols[tid]
                s.active = 1
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
    elif a == ADMIN_DIGEST:
        return k  # logic.py emits the digest right after this input
    elif a == ADMIN_SNAPSHOT:
        return k  # the sequencer takes it (I/O is no business of the kernels)
    elif a == ADMIN_EPOCH:
        scalars, epochs = st[0], st[7]
        if scalars[S_EPOCH] < c.v0 < MAX_EPOCHS:
            scalars[S_EPOCH] = c.v0
            epochs[c.v0].first_seq = hd[2]
            epochs[c.v0].node_id = tid
            return _alert(st, evs, k, hd, R.REASON_EPOCH, SEV_WARNING, c.v0, tid)
    elif a == ADMIN_REPLICATION:
        scalars = st[0]
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


# ------------------------------------------------------------------ entry point
@njit(cache=True, _nrt=False)
def process_batch(st, cmds, evs, start, end, out_start):
    """Apply inputs [start, end) of ``cmds`` to state ``st``; write events from ``out_start``.

    st: ``State.kernel_args()``; cmds: ``command_views(raw)``; evs: ``event_views(buf)``.
    Returns the number of events written (at most MAX_EVENTS_PER_INPUT per input).
    """
    scalars = st[0]
    if out_start + (end - start) * MAX_EVENTS_PER_INPUT > len(evs[E_ER]):
        raise ValueError("event buffer too small for the batch")
    hdrs = cmds[C_NEW]  # any per-type view reads the common header
    k = out_start
    for i in range(start, end):
        h = hdrs[i]
        t = h.type
        hd = (h.source_id, h.source_seq, h.seq, h.ts)
        if t == NEW_ORDER:
            k = _on_new_order(st, cmds[C_NEW][i], hd, evs, k)
        elif t == VENUE_FILL:
            k = _on_venue_fill(st, cmds[C_FILL][i], hd, evs, k)
        elif t == VENUE_ACK:
            k = _on_venue_ack(st, cmds[C_ACK][i], hd, evs, k)
        elif t == CANCEL:
            k = _on_cancel(st, cmds[C_CANCEL][i], hd, evs, k)
        elif t == VENUE_CANCELLED:
            k = _on_venue_cancelled(st, cmds[C_CANCELLED][i], hd, evs, k)
        elif t == REPLACE:
            k = _on_replace(st, cmds[C_REPLACE][i], hd, evs, k)
        elif t == VENUE_REJECT:
            k = _on_venue_reject(st, cmds[C_VREJECT][i], hd, evs, k)
        elif t == MARKET_DATA:
            _on_market_data(st, cmds[C_MD][i], hd)
        elif t == ADMIN:
            k = _on_admin(st, cmds[C_ADMIN][i], hd, evs, k)
        elif t == TIMER or t == SESSION_EVENT:
            pass  # only the clock below, until timers drive algos / sessions drive kill switches
        else:
            k = _alert(st, evs, k, hd, R.REASON_UNKNOWN_RECORD, SEV_ERROR, t, h.version)
        scalars[S_LAST_SEQ] = h.seq
        scalars[S_LAST_TS] = h.ts
        scalars[S_INPUTS] += 1
    scalars[S_EVENTS] += k - out_start
    return k - out_start
