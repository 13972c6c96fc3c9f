"""Benchmarks of the trading logic: pre-trade risk, route decisions, and the whole
business logic with books, risk and routing on (``workload.TRADING_MIX``).

Risk and route figures time one compiled batch call over many decisions on a state
prepared by real inputs, so they measure the checks alone; the throughput figure runs
the seeded trading stream through ``BusinessLogic`` batch by batch, as the sequencer
does (best of three, after a warm-up).
"""

from __future__ import annotations

import time

import numpy as np
from numba import njit

from perf.core import BATCH, SEED, figure
from sequencer import records as R
from sequencer import risk, router, workload
from sequencer.logic import BusinessLogic
from sequencer.state import I_SCRATCH, Capacity, State

N_CLIENTS, N_SYMBOLS = 100, 500
REPEATS = 3


@njit(cache=True, _nrt=False)
def _risk_loop(st, orders, ts, out):
    """Run every pre-trade check of each NewOrder (nothing is booked)."""
    for i in range(len(orders)):
        reason, _, _, _, _, _ = risk.new_order_checks(st, orders[i], ts)
        out[i] = reason


@njit(cache=True, _nrt=False)
def _route_loop(st, symbols, sides, limits, out):
    """Rank the venues for each (symbol, side, limit) and take the one to send to."""
    scratch = st[I_SCRATCH]
    for i in range(len(symbols)):
        n = router._rank(st, symbols[i], sides[i] == R.SIDE_BUY, limits[i], False)
        out[i] = scratch[0] if n > 0 else router._posting_venue(st, symbols[i])


def _trading_state(n: int):
    """A state that has run the first n inputs of the trading stream (books, positions)."""
    stream = workload.generate(SEED, n, N_CLIENTS, N_SYMBOLS, mix=workload.TRADING_MIX)
    logic = BusinessLogic(State.create(_capacity(n)), digest_every=0)
    for i in range(0, len(stream), BATCH):
        logic.apply(stream[i:i + BATCH])
    return stream, logic


def _capacity(n):
    return Capacity(orders=max(1 << 16, 2 * n), clients=N_CLIENTS + 1, symbols=N_SYMBOLS + 1)


def _logic_seconds(stream, cap, digest_every):
    """Best of REPEATS runs of the business logic over ``stream`` in sequencer-sized
    batches, after a warm-up run (compile / cache load, page faults)."""
    def run():
        logic = BusinessLogic(State.create(cap), digest_every=digest_every)
        t0 = time.perf_counter()
        for i in range(0, len(stream), BATCH):
            logic.apply(stream[i:i + BATCH])
        return time.perf_counter() - t0

    run()
    return min(run() for _ in range(REPEATS))


def _best(fn):
    best = float("inf")
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def risk_and_route(n):
    """ns per pre-trade check and per route decision, on a warmed-up trading state."""
    stream, logic = _trading_state(min(n, 200_000))
    st = logic.state.kernel_args()
    h = stream.view(R.COMMAND_HEADER)
    orders = stream[h["type"] == R.NEW_ORDER].view(R.NewOrder)
    orders = np.tile(orders, max(1, 200_000 // len(orders)))[:200_000].copy()
    orders["cl_ord_id"] = workload._clord_bytes(10**14 + np.arange(len(orders)))  # fresh ClOrdIDs
    ts = int(h["ts"][-1])
    out = np.zeros(len(orders), np.int64)
    _risk_loop(st, orders[:100], ts, out[:100])  # warm-up
    # the rate window is the only thing a check writes: start each run from the same one
    clients = logic.state.clients.copy()

    def run_risk():
        logic.state.clients[:] = clients
        _risk_loop(st, orders, ts, out)
    risk_ns = _best(run_risk) / len(orders) * 1e9
    accepted = float(np.mean(out == 0))

    routed = orders[orders["symbol_id"] <= workload.TRADING_MIX.l3_symbols]  # symbols with books
    sym = routed["symbol_id"].astype(np.int64)
    side = routed["side"].astype(np.int64)
    limit = routed["price"].astype(np.int64)
    venue = np.zeros(len(sym), np.int64)
    _route_loop(st, sym[:100], side[:100], limit[:100], venue[:100])
    route_ns = _best(lambda: _route_loop(st, sym, side, limit, venue)) / len(sym) * 1e9
    return [
        figure("risk: pre-trade checks per new order", risk_ns, "ns", 200, better="lower"),
        figure("risk: share of checked orders accepted", 100 * accepted, "%", None),
        figure("route: decision over 3 venues' L3 books", route_ns, "ns", 100, better="lower"),
    ]


def trading_throughput(n):
    """The whole business logic on the trading mix: L3 market data on three venues, risk
    on every order, a third of orders routed, TWAP/VWAP parents on timer ticks."""
    stream = workload.generate(SEED, n, N_CLIENTS, N_SYMBOLS, mix=workload.TRADING_MIX)
    cap = _capacity(n)
    with_digests = _logic_seconds(stream, cap, digest_every=100_000)
    without = _logic_seconds(stream, cap, digest_every=0)
    return [figure("logic: trading mix (books+risk+SOR+algos)", len(stream) / with_digests, "cmds/s", 3_000_000),
            figure("logic: trading mix, no state digests", len(stream) / without, "cmds/s", None)]


def risk_reference(n):
    """The kernels against the plain-Python reference risk model (RefRisk) on the same
    direct-order stream: state machine, checks, positions, cash (no digests)."""
    from sequencer.reference import ref_risk_ns_per_input

    stream = workload.generate(SEED, min(n, 100_000), N_CLIENTS, N_SYMBOLS)
    cap = _capacity(len(stream))
    ns = _logic_seconds(stream, cap, digest_every=0) / len(stream) * 1e9
    ref_ns = ref_risk_ns_per_input(stream, cap)
    return [figure("logic: direct orders (kernels), per input", ns, "ns", 500, better="lower"),
            figure("logic: same stream, Python RefRisk, per input", ref_ns, "ns", None, better="lower"),
            figure("logic: speed-up vs RefRisk", ref_ns / ns, "x", 20)]


BENCHMARKS = [risk_and_route, risk_reference, trading_throughput]


if __name__ == "__main__":
    import sys

    size = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    for bench in BENCHMARKS:
        for f in bench(size):
            print(f"{f['name']:<48} {f['value']:>14,.1f} {f['unit']}")
