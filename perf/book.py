"""Benchmarks of the L3 books (ITCH market data) and the matching engine.

Every timing is a single compiled batch call on preallocated arrays, after a warm-up
call (compile / cache load excluded); the best of a few runs on fresh copies of the
arrays is kept. Flows are seeded: prices sit on a one-cent grid around a mid per
book, with the distance from the touch geometric (most orders within a few ticks).
The plain-Python references run the same flows as the baseline.
"""

from __future__ import annotations

import time

import numpy as np

from perf.core import figure
from sequencer import book as B
from sequencer import matching as M
from sequencer import records as R
from sequencer.reference import RefBooks, RefMatcher

SEED = 20261124
N_BOOKS = 64
MAX_LEVELS = 1024
TICK = R.PRICE_SCALE // 100
MAX_OFF = 1000                 # ticks from the mid, at most
REPEATS = 3
REF_MD_MSGS = 100_000          # the Python references are timed on a prefix of the flows
REF_OPS = 50_000


def _mids(rng):
    return (rng.integers(20, 500, N_BOOKS) * R.PRICE_SCALE).astype(np.int64)


def _offsets(rng, n, p=0.12):
    """Ticks from the mid: geometric, so most orders sit near the touch."""
    return np.minimum(rng.geometric(p, n), MAX_OFF).astype(np.int64)


def _best_of(run, template, *args):
    """Best time of REPEATS runs of ``run(books, *args)`` on fresh copies of ``template``."""
    best = float("inf")
    for _ in range(REPEATS):
        bk = B.copy_books(template)
        t0 = time.perf_counter()
        run(bk, *args)
        best = min(best, time.perf_counter() - t0)
    return best


def _timed_md(template, msgs):
    """ns per message of md_apply_batch; every message must apply cleanly."""
    codes = np.zeros(len(msgs), np.int64)
    B.md_apply_batch(B.copy_books(template), msgs[:1000], codes[:1000])  # warm-up
    ns = _best_of(B.md_apply_batch, template, msgs, codes) / len(msgs) * 1e9
    if codes.any():
        raise RuntimeError(f"{np.count_nonzero(codes)} benchmark messages were refused: {np.bincount(codes)}")
    return ns


# ---------------------------------------------------------------- ITCH books
def _phases(n, rng):
    """Adds of n orders, then one message per order for E, X, D and U on disjoint quarters."""
    mids = _mids(rng)
    books = rng.integers(0, N_BOOKS, n)
    sides = rng.integers(1, 3, n)
    off = _offsets(rng, n)
    adds = B.market_data(n)
    adds["action"], adds["symbol_id"], adds["side"] = ord("A"), books, sides
    adds["ref"] = np.arange(1, n + 1)
    adds["price"] = mids[books] + np.where(sides == R.SIDE_BUY, -off, off) * TICK
    adds["qty"] = rng.integers(1, 20, n) * 100
    adds["ts"] = np.arange(n)
    q = n // 4
    perm = rng.permutation(n)
    out = {}
    for k, (action, name) in enumerate([("E", "execute"), ("X", "cancel"), ("D", "delete"), ("U", "replace")]):
        idx = perm[k * q:(k + 1) * q]
        m = B.market_data(q)
        m["action"], m["symbol_id"], m["ref"], m["ts"] = ord(action), books[idx], idx + 1, n + np.arange(q)
        m["qty"] = adds["qty"][idx] // 2  # partial: the order stays (E, X)
        if action == "U":
            m["new_ref"] = n + 1 + np.arange(q)
            m["qty"] = adds["qty"][idx]
            m["price"] = adds["price"][idx] + np.where(sides[idx] == R.SIDE_BUY, -TICK, TICK)
        out[name] = m
    return adds, out


def md_books(n):
    """Per message type, ns per ITCH message through md_apply (batch)."""
    n = max(10_000, min(n, 1_000_000))
    rng = np.random.default_rng(SEED)
    adds, phases = _phases(n, rng)
    empty = B.create_books(N_BOOKS, MAX_LEVELS, n + 1)
    figs = [figure("book: add order (ITCH A)", _timed_md(empty, adds), "ns/msg", 200, "lower")]
    full = B.copy_books(empty)
    B.md_apply_batch(full, adds, np.zeros(n, np.int64))
    live = int(full[B.BK_META][B.META_LIVE])
    # Each message names a random one of the live orders: a cache miss or two per
    # message (ref table, order slot), the worst case. Real flows touch recent orders.
    for name, unit_goal in [("execute", 400), ("cancel", 400), ("delete", 400), ("replace", 500)]:
        letter = chr(phases[name]["action"][0])
        figs.append(figure(f"book: {name} (ITCH {letter}, {live:,} live orders)", _timed_md(full, phases[name]),
                           "ns/msg", unit_goal, "lower"))
    # BBO queries, random books and sides.
    qb = rng.integers(0, N_BOOKS, n)
    qs = rng.integers(0, 2, n)
    px, qty = np.zeros(n, np.int64), np.zeros(n, np.int64)
    B.best_batch(full, qb[:100], qs[:100], px[:100], qty[:100])
    t0 = time.perf_counter()
    for _ in range(REPEATS):
        B.best_batch(full, qb, qs, px, qty)
    figs.append(figure("book: BBO query", (time.perf_counter() - t0) / REPEATS / n * 1e9, "ns/query", 20, "lower"))
    return figs


def md_flow(n: int, seed: int = SEED) -> np.ndarray:
    """A mixed ITCH flow with a steady book (about 19k live orders): 30% adds, 32%
    deletes, 16% partial cancels, 12% partial executions, 10% replaces of live orders
    (refs tracked here, so every message is valid)."""
    rng = np.random.default_rng(seed)
    mids = _mids(rng)
    m = B.market_data(n)
    u = rng.random(n)
    books = rng.integers(0, N_BOOKS, n)
    sides = rng.integers(1, 3, n)
    off = _offsets(rng, n)
    lots = rng.integers(1, 20, n) * 100
    pick = rng.random(n)
    live: list[list[int]] = []   # [book, ref, side, price, qty]
    target = N_BOOKS * 300       # live orders: below it only adds; above it removals outpace adds
    next_ref = 1
    for i in range(n):
        r = m[i]
        r["ts"] = i
        if len(live) < target or u[i] < 0.30:
            b, s = int(books[i]), int(sides[i])
            px = int(mids[b]) + (-1 if s == R.SIDE_BUY else 1) * int(off[i]) * TICK
            r["action"], r["symbol_id"], r["side"], r["ref"], r["price"], r["qty"] = ord("A"), b, s, next_ref, px, lots[i]
            live.append([b, next_ref, s, px, int(lots[i])])
            next_ref += 1
            continue
        j = int(pick[i] * len(live))
        o = live[j]
        r["symbol_id"], r["ref"] = o[0], o[1]
        if u[i] < 0.62:
            r["action"] = ord("D")
        elif u[i] < 0.90:  # a third of it cancelled (X) or executed (E)
            part = max(1, o[4] // 3)
            r["action"], r["qty"] = (ord("X") if u[i] < 0.78 else ord("E")), part
            o[4] -= part
            if o[4] > 0:
                continue
        else:
            px = o[3] + (TICK if u[i] < 0.95 else -TICK)  # one tick up or down
            r["action"], r["new_ref"], r["price"], r["qty"] = ord("U"), next_ref, px, o[4]
            live.append([o[0], next_ref, o[2], px, o[4]])
            next_ref += 1
        live[j] = live[-1]
        live.pop()
    return m


def md_mixed(n):
    """The mixed ITCH flow through md_apply, and through RefBooks as the baseline."""
    n = max(10_000, min(n, 1_000_000))
    msgs = md_flow(n)
    # Sized for the flow (about 19k live orders), so the ref table (2 MiB) mostly stays
    # in cache, as it would for books sized to their feed.
    cap = 1 << 16
    empty = B.create_books(N_BOOKS, MAX_LEVELS, cap)
    ns = _timed_md(empty, msgs)
    m = min(n, REF_MD_MSGS)
    ns_prefix = _timed_md(empty, msgs[:m])
    cols = [msgs[:m][f].tolist() for f in ("symbol_id", "action", "side", "ref", "new_ref", "price", "qty", "ts")]
    ref = RefBooks(N_BOOKS, MAX_LEVELS, cap)
    t0 = time.perf_counter()
    bad = sum(ref.md_apply(*row) != 0 for row in zip(*cols))
    ref_ns = (time.perf_counter() - t0) / m * 1e9
    if bad:
        raise RuntimeError(f"{bad} messages of the benchmark flow were refused")
    return [figure("book: mixed ITCH flow (md_apply)", ns, "ns/msg", 200, "lower"),
            figure("book: mixed ITCH flow, Python RefBook", ref_ns, "ns/msg", None, "lower"),
            figure("book: speed-up vs RefBook", ref_ns / ns_prefix, "x", 20)]


# ---------------------------------------------------------------- matching
def order_flow(n: int, seed: int = SEED) -> np.ndarray:
    """Matching ops: 70% new orders (15% IOC, 3% market, about a third at or through
    the touch), 22% cancels and 8% replaces aimed mostly at recent orders of the book.
    Every new order gets a ref here (no FOK / min qty / post-only, room to spare), so
    the k-th new order of a book has ref k: cancels and replaces name it and its owner."""
    rng = np.random.default_rng(seed)
    mids = _mids(rng)
    ops = M.new_ops(n)
    u = rng.random(n)
    kind = np.where(u < 0.70, M.OP_NEW, np.where(u < 0.92, M.OP_CANCEL, M.OP_REPLACE))
    books = rng.integers(0, N_BOOKS, n)
    sides = rng.integers(1, 3, n)
    owners = rng.integers(1, 101, n)
    off = _offsets(rng, n, 0.15) - 3   # ticks behind the mid; <= 0: at or through the touch
    back = rng.geometric(0.02, n)      # cancels / replaces: how many orders back
    ops["kind"], ops["book"], ops["ts"] = kind, books, np.arange(n)
    ops["ord_type"] = np.where(rng.random(n) < 0.03, R.ORD_MARKET, R.ORD_LIMIT)
    ops["tif"] = np.where(rng.random(n) < 0.15, R.TIF_IOC, R.TIF_DAY)
    ops["qty"] = rng.integers(1, 10, n) * 100
    is_new = kind == M.OP_NEW
    for b in range(N_BOOKS):
        sel = np.flatnonzero(books == b)
        news = sel[is_new[sel]]               # op index of the book's k-th new order at k - 1
        seen = np.cumsum(is_new[sel])         # new orders so far, at each op of the book
        k = np.clip(seen - back[sel] + 1, 1, np.maximum(seen, 1))
        target = news[np.minimum(k, len(news)) - 1] if len(news) else sel
        new_here = is_new[sel]
        side = np.where(new_here, sides[sel], sides[target])  # a replace keeps its order's side
        ops["side"][sel] = side
        ops["owner"][sel] = np.where(new_here, owners[sel], owners[target])
        ops["ref"][sel] = np.where(new_here, 0, k)
        ops["price"][sel] = mids[b] + np.where(side == R.SIDE_BUY, -1, 1) * off[sel] * TICK
    return ops


def matching(n):
    """ns per op of run_ops on the mixed order flow, and RefMatcher on a prefix."""
    n = max(10_000, min(n, 1_000_000))
    ops = order_flow(n)
    empty = B.create_books(N_BOOKS, MAX_LEVELS, n + 1)
    fills = np.zeros(2 * n + 10_000, M.FILL)  # an op fills at most 9 makers (lots of 100); ~0.3 on average
    results = np.zeros(n, M.RESULT)
    M.run_ops(B.copy_books(empty), ops[:1000], fills, results)  # warm-up

    def run(bk, k):
        return M.run_ops(bk, ops[:k], fills, results[:k])

    ns = _best_of(run, empty, n) / n * 1e9
    bk = B.copy_books(empty)
    nf = run(bk, n)
    st = np.bincount(results["status"], minlength=M.REJECT_UNKNOWN_REF + 1)
    if st[M.REJECT_BAD_VALUE:M.REJECT_UNKNOWN_REF].any():  # unknown refs are fine: filled already
        raise RuntimeError(f"unexpected rejects in the benchmark flow: {st}")

    m = min(n, REF_OPS)
    ns_prefix = _best_of(run, empty, m) / m * 1e9
    nf_prefix = run(B.copy_books(empty), m)
    ref = RefMatcher(N_BOOKS, MAX_LEVELS, n + 1)
    rows = [{k: int(v) for k, v in zip(M.OPS.names, row) if k != "_pad"} for row in ops[:m].tolist()]
    t0 = time.perf_counter()
    for row in rows:
        ref.run(row)
    ref_ns = (time.perf_counter() - t0) / m * 1e9
    if len(ref.fills) != nf_prefix:
        raise RuntimeError(f"RefMatcher made {len(ref.fills)} fills, run_ops {nf_prefix}")
    live = int(bk[B.BK_META][B.META_LIVE])
    return [figure(f"matching: mixed order flow ({nf / n:.2f} fills/op, {live:,} resting)", ns, "ns/op", 500,
                   "lower"),
            figure("matching: mixed order flow, Python RefMatcher", ref_ns, "ns/op", None, "lower"),
            figure("matching: speed-up vs RefMatcher", ref_ns / ns_prefix, "x", 20)]


BENCHMARKS = [md_books, md_mixed, matching]


def main(argv=None) -> int:
    import argparse

    p = argparse.ArgumentParser(prog="python -m perf.book", description=__doc__)
    p.add_argument("--commands", type=int, default=1_000_000, help="messages / ops per flow")
    args = p.parse_args(argv)
    for bench in BENCHMARKS:
        for f in bench(args.commands):
            print(f"{f['name']:<64} {f['value']:>14,.1f} {f['unit']:<8} goal {'≥' if f['better'] == 'higher' else '≤'}"
                  f"{f['goal']:,}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
