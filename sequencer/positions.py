"""Positions, cash and P&L per client x symbol, and what open orders hold.

Position rows are handed out by a counter (``S_POSITIONS``) and found through
``position_table``, an open-addressing table keyed by (client, symbol); each client's
rows are chained from ``clients.first_position`` so the client's equity can be summed
without scanning every row. Rows are never freed within a day.

Accounting (money is int64 with 8 implied decimals):
- a fill of q at p moves the position by +-q and cash by -(+-q*p) - fee;
- adding to a position moves the average cost to the quantity-weighted mean (rounded
  half up); reducing it realises q x (p - average cost) x direction; a fill through zero
  closes the old position and opens the rest at p;
- fees are kept apart from realised P&L (per position and per client);
- the mark of a symbol is the mid of the best bid and offer over every venue's book,
  else its reference price (last trade, or the operator's); unrealised P&L is
  qty x (mark - average cost); equity = cash + sum(qty x mark).

What a live client order holds (``_hold`` / ``_unhold``): its leaves count in the
position row's open_buy / open_sell, its leaves x value price in the client's
open_notional, and, for buys and short sales, leaves x value price x initial margin in
the client's reserved buying power (stored on the order, so a margin change later
releases exactly what was taken). A fill unholds, reduces leaves and holds again.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .kernel_base import (
    I_CLIENTS, I_ORDERS, I_POSITIONS, I_POSTAB, I_SCALARS, I_SYMBOLS, SIDE_BUY, SIDE_SELL, _bps, _mix,
)
from .state import S_POSITIONS

CASH_ACCOUNT_BPS = 10_000


@njit(cache=True, inline="always", _nrt=False)
def _position_slot(table, positions, client_id, symbol_id):
    """Slot of (client, symbol) in the position table, or the empty slot for it."""
    h = _mix(np.uint64(client_id), np.uint64(symbol_id))
    mask = len(table) - 1
    s = np.int64(h & np.uint64(mask))
    while True:  # twice as many slots as rows: an empty slot exists
        r = table[s]
        if r == 0:
            return s
        p = positions[r - 1]
        if p.client_id == client_id and p.symbol_id == symbol_id:
            return s
        s = (s + 1) & mask


@njit(cache=True, inline="always", _nrt=False)
def _position_row(st, client_id, symbol_id, create):
    """Row of (client, symbol); with ``create`` a new zero row if there is none. -1 if
    there is none (or the table is full)."""
    scalars, positions, table, clients = st[I_SCALARS], st[I_POSITIONS], st[I_POSTAB], st[I_CLIENTS]
    s = _position_slot(table, positions, client_id, symbol_id)
    if table[s] != 0:
        return np.int64(table[s]) - 1
    if not create or scalars[S_POSITIONS] >= len(positions):
        return np.int64(-1)
    r = scalars[S_POSITIONS]
    scalars[S_POSITIONS] = r + 1
    table[s] = r + 1
    p = positions[r]
    p.client_id = client_id
    p.symbol_id = symbol_id
    cl = clients[client_id]
    p.next = cl.first_position
    cl.first_position = r
    return r


@njit(cache=True, inline="always", _nrt=False)
def _mark(st, symbol_id):
    s = st[I_SYMBOLS][symbol_id]
    if s.bid > 0 and s.ask > 0:
        return (s.bid + s.ask) // 2
    return s.ref_price


@njit(cache=True, inline="always", _nrt=False)
def _im_bps(cl):
    return cl.im_bps if cl.im_bps > 0 else CASH_ACCOUNT_BPS


@njit(cache=True, _nrt=False)
def _client_marks(st, client_id):
    """(equity, sum of |qty| x mark) of a client's positions at current marks."""
    positions, cl = st[I_POSITIONS], st[I_CLIENTS][client_id]
    equity = cl.cash
    gross = np.int64(0)
    r = cl.first_position
    while r >= 0:
        p = positions[r]
        if p.qty != 0:
            value = p.qty * _mark(st, p.symbol_id)
            equity += value
            gross += value if value > 0 else -value
        r = p.next
    return equity, gross


@njit(cache=True, inline="always", _nrt=False)
def _buying_power(st, client_id):
    """Money the client can commit to new buys and short sales (before the initial margin
    rate is applied to the order): cash less what open orders reserve for a cash account;
    equity less the initial requirement of the positions less reservations on margin."""
    cl = st[I_CLIENTS][client_id]
    im = _im_bps(cl)
    if im >= CASH_ACCOUNT_BPS:
        return cl.cash - cl.reserved
    equity, gross = _client_marks(st, client_id)
    return equity - _bps(gross, im) - cl.reserved


@njit(cache=True, inline="always", _nrt=False)
def _order_requirement(cl, side, value):
    """Buying power an order of notional ``value`` needs: buys and short sales only."""
    if side == SIDE_SELL:
        return np.int64(0)
    return _bps(value, _im_bps(cl))


@njit(cache=True, inline="always", _nrt=False)
def _hold(st, oi, value_px):
    """Count live client order oi's leaves as open (see the module docstring)."""
    orders, clients, positions = st[I_ORDERS], st[I_CLIENTS], st[I_POSITIONS]
    o = orders[oi]
    cl = clients[o.client_id]
    p = positions[o.pos_row]
    if o.side == SIDE_BUY:
        p.open_buy += o.leaves
    else:
        p.open_sell += o.leaves
    value = o.leaves * value_px
    cl.open_notional += value
    o.reserved = _order_requirement(cl, o.side, value)
    cl.reserved += o.reserved


@njit(cache=True, inline="always", _nrt=False)
def _unhold(st, oi, value_px):
    orders, clients, positions = st[I_ORDERS], st[I_CLIENTS], st[I_POSITIONS]
    o = orders[oi]
    cl = clients[o.client_id]
    p = positions[o.pos_row]
    if o.side == SIDE_BUY:
        p.open_buy -= o.leaves
    else:
        p.open_sell -= o.leaves
    cl.open_notional -= o.leaves * value_px
    cl.reserved -= o.reserved
    o.reserved = 0


@njit(cache=True, inline="always", _nrt=False)
def _avg_cost_value(p):
    a = p.qty * p.avg_px
    return a if a > 0 else -a


@njit(cache=True, inline="always", _nrt=False)
def _book_fill(st, row, side, qty, price, fee):
    """Apply a fill to position row ``row``, its client's P&L and cash (overflow checked before)."""
    clients, positions = st[I_CLIENTS], st[I_POSITIONS]
    p = positions[row]
    cl = clients[p.client_id]
    sign = 1 if side == SIDE_BUY else -1
    value = qty * price
    cl.gross -= _avg_cost_value(p)
    if p.qty == 0 or (p.qty > 0) == (sign > 0):
        total = p.qty + sign * qty
        num = p.qty * p.avg_px + sign * qty * price  # signed cost of the whole position
        avg = num // total
        if 2 * (num - avg * total) * (1 if total > 0 else -1) >= (total if total > 0 else -total):
            avg += 1
        p.qty = total
        p.avg_px = avg
    else:
        open_qty = p.qty if p.qty > 0 else -p.qty
        closing = qty if qty < open_qty else open_qty
        direction = 1 if p.qty > 0 else -1
        pnl = closing * (price - p.avg_px) * direction
        p.realized += pnl
        cl.realized += pnl
        p.qty += sign * qty
        if p.qty == 0:
            p.avg_px = 0
        elif qty > open_qty:  # through zero: the rest opens at this price
            p.avg_px = price
    cl.gross += _avg_cost_value(p)
    if sign > 0:
        p.bought += qty
        p.buy_value += value
    else:
        p.sold += qty
        p.sell_value += value
    p.fees += fee
    cl.cash += -sign * value - fee
    cl.fees += fee


@njit(cache=True)
def client_summary(st, client_id, out):
    """out[:] = equity, gross market value, buying power, unrealised P&L (for tools)."""
    positions = st[I_POSITIONS]
    cl = st[I_CLIENTS][client_id]
    equity, gross = _client_marks(st, client_id)
    unreal = np.int64(0)
    r = cl.first_position
    while r >= 0:
        p = positions[r]
        if p.qty != 0:
            unreal += p.qty * (_mark(st, p.symbol_id) - p.avg_px)
        r = p.next
    out[0] = equity
    out[1] = gross
    out[2] = _buying_power(st, client_id)
    out[3] = unreal


@njit(cache=True)
def marks(st, out):
    """out[s] = mark of symbol s (for tools and reports)."""
    for s in range(len(out)):
        out[s] = _mark(st, s)
