"""TWAP and VWAP parent orders, worked on the sequencer's Timer ticks.

An algo is a parent order (NewOrder.strategy TWAP / VWAP) with a window
[start_ts, end_ts) on the sequencer clock and an optional participation cap. It sends
nothing itself when accepted; on each journaled Timer tick inside the window it works
out how much should be done by the next tick (the tick's ``param`` is the period) and
sends the shortfall (target - filled - still working) as one child through the router
(BEST_PRICE), so a replay releases the same children at the same seqs, and the last
tick before end_ts sends the rest. Schedules, as a fraction of the window elapsed
(resolved to the microsecond):

- TWAP: target = qty x elapsed fraction.
- VWAP: target = qty x the cumulative intraday volume profile at that fraction
  (``VWAP_PROFILE_BPS``: ten buckets, U-shaped, heavier at the open and the close,
  linear inside a bucket).
- max_pct (bps, both): target never above max_pct of the market volume printed on the
  symbol's feeds since the window opened (counted from the first tick inside it).

No slice goes out while a kill switch covers the order, while a cancel is pending, or
while the parent already has MAX_LIVE_CHILDREN children working. At end_ts the working
children are cancelled and the parent EXPIRES with what it has filled; filled or
cancelled earlier, it ends then.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from . import records as R
from .kernel_base import (
    I_ALGOS, I_ORDERS, I_SCALARS, I_SYMBOLS, MAX_EVENTS_PER_INPUT, STRATEGY_BEST_PRICE, STRATEGY_VWAP,
    _is_done,
)
from .orders import ALGO_ENDING, ALGO_WORKING, cancel_children, settle_parent
from .risk import _global_kill, _scoped_kill
from .router import route
from .state import S_ALGOS, S_ALGOS_LIVE

# Cumulative share of the day's volume at the end of each tenth of the window, bps.
VWAP_PROFILE_BPS = np.array([0, 1400, 2500, 3400, 4200, 4900, 5600, 6400, 7300, 8400, 10000], np.int64)
PPM = 1_000_000


@njit(cache=True, _nrt=False)
def start_algo(st, pi, c, ts):
    """Algo row for parent row pi from NewOrder c (capacity checked by the caller)."""
    scalars, algos = st[I_SCALARS], st[I_ALGOS]
    r = scalars[S_ALGOS]
    scalars[S_ALGOS] = r + 1
    scalars[S_ALGOS_LIVE] += 1
    a = algos[r]
    a.active = ALGO_WORKING
    a.strategy = c.strategy
    a.order_id = pi + 1
    a.start_ts = c.start_ts if c.start_ts > ts else ts
    a.end_ts = c.end_ts
    a.max_pct = c.max_pct
    st[I_ORDERS][pi].algo = r + 1


@njit(cache=True, inline="always", _nrt=False)
def tick_events_needed(st):
    """Most events one Timer tick can write: per live algo a child's VenueOrder, or its
    children's cancels and the parent's report."""
    return st[I_SCALARS][S_ALGOS_LIVE] * MAX_EVENTS_PER_INPUT


@njit(cache=True, inline="always", _nrt=False)
def _target(a, qty, ts):
    span_us = (a.end_ts - a.start_ts) // 1000
    elapsed_us = (ts - a.start_ts) // 1000
    f = PPM if span_us <= 0 or elapsed_us >= span_us else elapsed_us * PPM // span_us
    if a.strategy == STRATEGY_VWAP:
        x = f * 10
        i = x // PPM
        if i >= 10:
            share = VWAP_PROFILE_BPS[10]
        else:
            lo = VWAP_PROFILE_BPS[i]
            share = lo + (VWAP_PROFILE_BPS[i + 1] - lo) * (x - i * PPM) // PPM
        return qty // 10_000 * share + qty % 10_000 * share // 10_000
    return qty // PPM * f + qty % PPM * f // PPM


@njit(cache=True, _nrt=False)
def on_tick(st, evs, k, hd, interval):
    """Work every live algo at this tick's ts. ``interval`` is the tick period (the
    Timer's param, 0 if unknown): each slice aims at the schedule one tick ahead, so the
    last tick before end_ts completes it instead of the window expiring a slice short."""
    scalars, algos, orders, symbols = st[I_SCALARS], st[I_ALGOS], st[I_ORDERS], st[I_SYMBOLS]
    ts = hd[3]
    for r in range(scalars[S_ALGOS]):
        a = algos[r]
        if a.active == 0:
            continue
        pi = np.int64(a.order_id) - 1
        p = orders[pi]
        if _is_done(p.status):
            continue
        if ts >= a.end_ts:
            if a.active == ALGO_WORKING:
                a.active = ALGO_ENDING
                k = cancel_children(st, evs, k, hd, pi, 0)
                k = settle_parent(st, evs, k, hd, pi)
            continue
        if ts < a.start_ts:
            continue
        sym = symbols[p.symbol_id]
        if a.started == 0:
            a.started = 1
            a.vol_start = sym.volume
        if p.pending != 0 or _global_kill(scalars) != R.REASON_NONE \
                or _scoped_kill(st, p.client_id, p.symbol_id, 0) != R.REASON_NONE:
            continue
        target = _target(a, p.qty, min(ts + interval, a.end_ts))
        if a.max_pct > 0:
            cap = (sym.volume - a.vol_start) // 10_000 * a.max_pct + (sym.volume - a.vol_start) % 10_000 * a.max_pct // 10_000
            if cap < target:
                target = cap
        want = target - p.cum - p.working
        if want > p.leaves - p.working:
            want = p.leaves - p.working
        if want > 0:
            k = route(st, evs, k, hd, pi, STRATEGY_BEST_PRICE, want)
    return k
