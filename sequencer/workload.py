"""Seeded synthetic order flow: reference data, client orders and a venue that answers.

``FlowGenerator`` plays both sides around a sequencer. As a client it sends new orders
(mostly valid, some invalid on purpose), cancels and replaces of orders it has seen
acknowledged; as a venue it answers the VenueOrder / VenueCancel events it observes
with acks, rejects, partial and full fills and cancel confirmations. It learns only
from events, so a producer process can drive a live sequencer with it.

``generate`` runs it closed-loop against an in-process BusinessLogic, round by round,
so the venue messages name real order ids; the result is a stamped command stream
(seq 1..N) that replays to the same outputs on a fresh state. Everything is drawn from
``np.random.default_rng(seed)``; each round is built with vectorised numpy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import records as R
from .logic import BusinessLogic
from .state import Capacity, State

T0 = 1_767_364_200_000_000_000  # 2026-01-02 14:30:00 UTC in ns: a fixed start clock

MAX_QTY = 10_000                            # per-order limit given to every client
MAX_NOTIONAL = 5_000_000 * R.PRICE_SCALE    # $5M
START_CASH = 1_000_000_000 * R.PRICE_SCALE  # $1B
VENUE = 1
CENT = R.PRICE_SCALE // 100
FEE_PER_SHARE = 30 * R.PRICE_SCALE // 100_000      # $0.0003 taker fee
REBATE_PER_SHARE = 20 * R.PRICE_SCALE // 100_000   # $0.0002 maker rebate


@dataclass(frozen=True)
class Mix:
    # client commands: shares of new / cancel / replace
    new: float = 0.55
    cancel: float = 0.30
    replace: float = 0.15
    # new orders made invalid on purpose (fractions of new orders)
    unknown_symbol: float = 0.01
    over_limit: float = 0.01
    duplicate: float = 0.01
    bad_field: float = 0.01
    by_name: float = 0.2       # symbol given by name, symbol_id 0
    market: float = 0.05       # market orders (valued at the reference price)
    # cancels / replaces
    by_clord: float = 0.5      # name the order by OrigClOrdID instead of order id
    stray: float = 0.02        # unknown order id or another client's order
    # venue
    venue_reject: float = 0.01  # new orders the venue refuses
    fills: float = 0.5          # venue fills per client command seen answered (capped by live orders)
    full_fill: float = 0.4      # share of fills that take the whole leaves
    venue_noise: float = 0.01   # extra fills naming an unknown order, per fill
    # market data trade prints, per client command
    market_data: float = 0.02
    # trading logic: routed and algo parents (fractions of new orders), the venues'
    # ITCH order-by-order feeds (messages per client command answered), venue count
    routed: float = 0.0
    algo: float = 0.0
    algo_window_ns: int = 500_000_000
    l3: float = 0.0
    venues: int = 1
    l3_symbols: int = 100      # symbols with order-by-order books (books = venues x this)


# The whole trading core at work: three venues with L3 books, a third of new orders
# routed by the SOR, a few TWAP/VWAP parents, market data about as busy as order flow.
TRADING_MIX = Mix(routed=0.3, algo=0.002, l3=1.0, venues=3)
VENUE_FEES = ((3, -2), (2, 0), (1, 1))  # (take, make) per venue, in 1/10000 of a dollar per share


# Generator's view of each order, by order id (client side c_*, venue side v_*).
TRACK = np.dtype([
    ("c_state", "u1"), ("c_pending", "u1"), ("v_state", "u1"), ("side", "u1"), ("ord_type", "u1"),
    ("client", "<u4"), ("symbol", "<u4"),
    ("c_clord", "<i8"), ("c_qty", "<i8"), ("c_price", "<i8"), ("c_cum", "<i8"),
    ("v_qty", "<i8"), ("v_leaves", "<i8"), ("v_cum", "<i8"), ("v_price", "<i8"),
    ("venue", "<u2"),
])
C_PENDING_NEW, C_OPEN, C_DONE = 1, 2, 3
V_LIVE, V_DONE = 1, 2

_POW10 = 10 ** np.arange(14, -1, -1, dtype=np.int64)
_VERSIONS = np.ones(1 << 16, np.uint16)  # the version this build writes, by record type
for _t, _v in R.RECORD_VERSIONS.items():
    _VERSIONS[_t] = _v


def _clord_bytes(nums: np.ndarray) -> np.ndarray:
    """ClOrdIDs 'C' + 15 digits, as (n, CLORD_LEN) u1 rows."""
    out = np.zeros((len(nums), R.CLORD_LEN), np.uint8)
    out[:, 0] = ord("C")
    out[:, 1:16] = (np.asarray(nums, np.int64)[:, None] // _POW10) % 10 + ord("0")
    return out


def _clord_numbers(b: np.ndarray) -> np.ndarray:
    return ((b[:, 1:16].astype(np.int64) - ord("0")) * _POW10).sum(axis=1)


def symbol_names(n_symbols: int) -> np.ndarray:
    """Names of symbols 0..n ("SYM0001"...; row 0 unused), as (n+1, SYMBOL_LEN) u1."""
    out = np.zeros((n_symbols + 1, R.SYMBOL_LEN), np.uint8)
    for i in range(1, n_symbols + 1):
        out[i] = R.ascii_field(f"SYM{i:04d}", R.SYMBOL_LEN)
    return out


def reference_prices(n_symbols: int) -> np.ndarray:
    """Deterministic $10.00..$500.00 reference prices of symbols 0..n (row 0 unused)."""
    i = np.arange(n_symbols + 1, dtype=np.int64)
    return (1000 + (i * 7919) % 49001) * CENT


def reference_data(n_clients: int, n_symbols: int, venues: int = 0) -> np.ndarray:
    """Admin records adding clients 1..n_clients, symbols 1..n_symbols and venues
    1..venues with fees (seq/ts unset)."""
    raw = R.new_commands(n_clients + n_symbols + venues)
    a = raw.view(R.Admin)
    a["type"] = R.ADMIN
    a["version"] = 1
    c = a[:n_clients]
    c["action"] = R.ADMIN_ADD_CLIENT
    c["target_id"] = np.arange(1, n_clients + 1)
    c["v0"], c["v1"], c["v2"] = MAX_QTY, MAX_NOTIONAL, START_CASH
    for i in range(n_clients):
        c["name"][i] = R.ascii_field(f"ACC{i + 1:05d}", R.ACCOUNT_LEN)
    v = a[n_clients + n_symbols:]
    v["action"] = R.ADMIN_ADD_VENUE
    v["target_id"] = np.arange(1, venues + 1)
    fees = np.array([VENUE_FEES[i % len(VENUE_FEES)] for i in range(venues)], np.int64).reshape(-1, 2)
    v["v0"], v["v1"] = fees[:, 0] * (R.PRICE_SCALE // 10_000), fees[:, 1] * (R.PRICE_SCALE // 10_000)
    for i in range(venues):
        v["name"][i] = R.ascii_field(f"VEN{i + 1}", R.ACCOUNT_LEN)
    s = a[n_clients:n_clients + n_symbols]
    s["action"] = R.ADMIN_ADD_SYMBOL
    s["target_id"] = np.arange(1, n_symbols + 1)
    s["v0"] = reference_prices(n_symbols)[1:]
    s["v1"] = VENUE
    s["name"][:, :R.SYMBOL_LEN] = symbol_names(n_symbols)[1:]
    return raw


def live_orders(n: int, n_clients: int, n_symbols: int) -> np.ndarray:
    """n valid limit orders (seq/ts unset) that all pass the checks of ``reference_data``
    and stay live: for memory and capacity measurements."""
    raw = R.new_commands(n)
    v = raw.view(R.NewOrder)
    i = np.arange(n, dtype=np.int64)
    v["type"], v["version"] = R.NEW_ORDER, 1
    v["client_id"] = i % n_clients + 1
    v["symbol_id"] = i % n_symbols + 1
    v["price"] = reference_prices(n_symbols)[i % n_symbols + 1]
    v["qty"] = 100
    v["side"] = np.where(i % 2 == 0, R.SIDE_BUY, R.SIDE_SELL_SHORT)
    v["ord_type"] = R.ORD_LIMIT
    v["cl_ord_id"] = _clord_bytes(i + 1)
    return raw


class FlowGenerator:
    """Client flow and venue answers, both deterministic from ``seed``."""

    def __init__(self, seed: int, n_clients: int = 100, n_symbols: int = 500, mix: Mix = Mix(),
                 client_source: int = 1, venue_source: int = 2, md_source: int = 4):
        self.rng = np.random.default_rng(seed)
        self.n_clients, self.n_symbols, self.mix = n_clients, n_symbols, mix
        self.client_source, self.venue_source, self.md_source = client_source, venue_source, md_source
        self.feed: list[np.ndarray] = []
        self.client_seq = 0
        self.venue_seq = 0
        self.names = symbol_names(n_symbols)
        self.ref = reference_prices(n_symbols)
        self.track = np.zeros(1024, TRACK)
        self.next_clord = 1
        self.venue_exec = 0
        self.recent = np.zeros((0, 2), np.int64)  # (client, clord) of recent new orders, for duplicates
        self.now = T0  # the clock algo windows are set against (the caller keeps it current)
        # the venues' ITCH feeds: live resting orders (venue, symbol, side, price, qty, ref)
        self.l3_live = np.zeros((0, 6), np.int64)
        self.l3_ref = 0

    # ------------------------------------------------------------ helpers
    def _ensure(self, max_id: int):
        if max_id >= len(self.track):
            grown = np.zeros(max(2 * len(self.track), max_id + 1), TRACK)
            grown[: len(self.track)] = self.track
            self.track = grown

    def _clords(self, n: int) -> np.ndarray:
        nums = np.arange(self.next_clord, self.next_clord + n, dtype=np.int64)
        self.next_clord += n
        return nums

    def _stamp_source(self, raw: np.ndarray, client: bool):
        h = raw.view(R.COMMAND_HEADER)
        if client:
            h["source_id"] = self.client_source
            h["source_seq"] = np.arange(self.client_seq + 1, self.client_seq + 1 + len(raw))
            self.client_seq += len(raw)
        else:
            h["source_id"] = self.venue_source
            h["source_seq"] = np.arange(self.venue_seq + 1, self.venue_seq + 1 + len(raw))
            self.venue_seq += len(raw)
        h["version"] = _VERSIONS[h["type"]]

    # ------------------------------------------------------------ client side
    def next_client_batch(self, n: int) -> np.ndarray:
        """n client commands (seq/ts zero: the sequencer stamps them)."""
        mix, rng, t = self.mix, self.rng, self.track
        kinds = rng.choice(3, n, p=np.array([mix.new, mix.cancel, mix.replace]) / (mix.new + mix.cancel + mix.replace))
        open_ids = np.flatnonzero((t["c_state"] == C_OPEN) & (t["c_pending"] == 0))
        n_req = int((kinds != 0).sum())
        if n_req > len(open_ids):  # not enough orders to cancel/replace: send new orders instead
            extra = np.flatnonzero(kinds != 0)[len(open_ids):]
            kinds[extra] = 0
            n_req = len(open_ids)
        targets = rng.choice(open_ids, n_req, replace=False) if n_req else open_ids[:0]
        raw = R.new_commands(n)
        self._new_orders(raw, np.flatnonzero(kinds == 0))
        req = np.flatnonzero(kinds != 0)
        self._requests(raw, req, targets, kinds[req] == 1)
        self._stamp_source(raw, client=True)
        return raw

    def _new_orders(self, raw: np.ndarray, idx: np.ndarray):
        mix, rng = self.mix, self.rng
        m = len(idx)
        if m == 0:
            return
        v = raw.view(R.NewOrder)
        client = rng.integers(1, self.n_clients + 1, m)
        symbol = rng.integers(1, self.n_symbols + 1, m)
        market = rng.random(m) < mix.market
        side = rng.choice(np.array([R.SIDE_BUY, R.SIDE_SELL, R.SIDE_SELL_SHORT]), m, p=[0.5, 0.1, 0.4])
        bp = rng.integers(-200, 201, m)  # limit within +-2% of the reference, on a cent
        price = np.where(market, 0, (self.ref[symbol] + self.ref[symbol] * bp // 10_000) // CENT * CENT)
        qty = rng.integers(1, 21, m) * 100
        clord = self._clords(m)
        by_name = rng.random(m) < mix.by_name
        # Deliberate mistakes, one kind per order.
        u = rng.random(m)
        edges = np.cumsum([mix.unknown_symbol, mix.over_limit, mix.duplicate, mix.bad_field])
        unknown, over = u < edges[0], (u >= edges[0]) & (u < edges[1])
        dup, bad = (u >= edges[1]) & (u < edges[2]), (u >= edges[2]) & (u < edges[3])
        symbol_id = np.where(by_name, 0, symbol)
        symbol_id = np.where(unknown, self.n_symbols + 1 + rng.integers(0, 1000, m), symbol_id)
        names = self.names[symbol].copy()
        names[unknown & by_name] = np.frombuffer(b"NOSUCH\0\0", np.uint8)
        half = rng.random(m) < 0.5
        qty = np.where(over & half, MAX_QTY + 100, qty)
        qty = np.where(over & ~half, MAX_QTY, qty)
        market &= ~(over & ~half)  # the notional breach needs a limit price
        price = np.where(over & ~half, 1_000 * R.PRICE_SCALE, price)
        qty = np.where(bad, 0, qty)
        if len(self.recent):
            pick = self.recent[rng.integers(0, len(self.recent), m)]
            client = np.where(dup, pick[:, 0], client)
            clord = np.where(dup, pick[:, 1], clord)
        v["type"][idx] = R.NEW_ORDER
        v["client_id"][idx] = client
        v["symbol_id"][idx] = symbol_id
        v["symbol"][idx] = names
        v["price"][idx] = price
        v["qty"][idx] = qty
        v["side"][idx] = side
        v["ord_type"][idx] = np.where(market, R.ORD_MARKET, R.ORD_LIMIT)
        v["tif"][idx] = R.TIF_DAY
        v["cl_ord_id"][idx] = _clord_bytes(clord)
        # how they are worked: routed parents, a few algos over a short window, else direct
        u = rng.random(m)
        routed = u < mix.routed
        algo = (u >= mix.routed) & (u < mix.routed + mix.algo)
        strategy = np.where(routed, rng.choice(np.array([R.STRATEGY_BEST_PRICE, R.STRATEGY_SWEEP,
                                                         R.STRATEGY_COST]), m), 0)
        strategy = np.where(algo, rng.choice(np.array([R.STRATEGY_TWAP, R.STRATEGY_VWAP]), m), strategy)
        v["strategy"][idx] = strategy
        v["end_ts"][idx] = np.where(algo, self.now + mix.algo_window_ns, 0)
        v["max_pct"][idx] = np.where(algo & (rng.random(m) < 0.5), 2_000, 0)
        self.recent = np.concatenate([self.recent, np.stack([client, clord], axis=1)])[-4096:]

    def _requests(self, raw: np.ndarray, idx: np.ndarray, targets: np.ndarray, is_cancel: np.ndarray):
        """Cancels (is_cancel) and replaces at rows idx of raw, for order ids targets."""
        mix, rng, t = self.mix, self.rng, self.track
        m = len(idx)
        if m == 0:
            return
        rec = t[targets]
        by_clord = rng.random(m) < mix.by_clord
        stray = rng.random(m) < mix.stray
        client = rec["client"].astype(np.int64)
        order_id = np.where(by_clord, 0, targets)
        # Strays: half name an order id that does not exist, half another client's order.
        half = rng.random(m) < 0.5
        order_id = np.where(stray & half, 10**12 + rng.integers(0, 1000, m), order_id)
        client = np.where(stray & ~half, client % self.n_clients + 1, client)
        t["c_pending"][targets[~stray]] = 1
        c = raw.view(R.Cancel)
        r = raw.view(R.Replace)
        rows_c, rows_r = idx[is_cancel], idx[~is_cancel]
        c["type"][rows_c] = R.CANCEL
        r["type"][rows_r] = R.REPLACE
        for view, rows, sel in ((c, rows_c, is_cancel), (r, rows_r, ~is_cancel)):
            view["client_id"][rows] = client[sel]
            view["symbol_id"][rows] = rec["symbol"][sel]
            view["order_id"][rows] = order_id[sel]
            view["side"][rows] = rec["side"][sel]
            view["cl_ord_id"][rows] = _clord_bytes(self._clords(int(sel.sum())))
            view["orig_cl_ord_id"][rows] = np.where(by_clord[sel, None], _clord_bytes(rec["c_clord"][sel]), 0)
            view["symbol"][rows] = self.names[rec["symbol"][sel]]
        rr = rec[~is_cancel]
        k = len(rows_r)
        r["qty"][rows_r] = np.maximum(rr["c_qty"] + rng.integers(-5, 6, k) * 100, 100)
        r["price"][rows_r] = np.where(rr["ord_type"] == R.ORD_MARKET, 0, rr["c_price"] + rng.integers(-3, 4, k) * CENT)
        r["ord_type"][rows_r] = rr["ord_type"]
        r["tif"][rows_r] = R.TIF_DAY

    def market_data(self, n: int) -> np.ndarray:
        """n ITCH-style trade prints nudging reference prices (venue feed, seq/ts zero)."""
        rng = self.rng
        raw = R.new_commands(n)
        if n == 0:
            return raw
        sym = rng.integers(1, self.n_symbols + 1, n)
        for s, step in zip(sym.tolist(), rng.integers(-2, 3, n).tolist()):  # sequential: one symbol may repeat
            self.ref[s] = max(self.ref[s] + step * CENT, CENT)
        # Each print carries the price after all of this batch's steps to its symbol.
        md = raw.view(R.MarketData)
        md["type"] = R.MARKET_DATA
        md["symbol_id"] = sym
        md["venue_id"] = VENUE
        md["action"] = ord("P")
        md["side"] = R.SIDE_BUY
        md["price"] = self.ref[sym]
        md["qty"] = 100
        self._stamp_source(raw, client=False)
        return raw

    def take_feed(self) -> np.ndarray:
        """The ITCH feed messages generated since the last call (source ``md_source``,
        unnumbered: a feed is not re-sent by its publisher, and a gap must not stall it)."""
        raw = np.concatenate(self.feed) if self.feed else R.new_commands(0)
        self.feed = []
        h = raw.view(R.COMMAND_HEADER)
        h["source_id"], h["source_seq"], h["version"] = self.md_source, 0, 1
        return raw

    def l3_market_data(self, n: int) -> np.ndarray:
        """n ITCH 5.0 order-by-order messages from the venues' feeds (adds around the
        reference price, executions, partial cancels, deletes, replaces) for the first
        ``l3_symbols`` symbols; the book of live orders is kept near 40 per book."""
        mix, rng = self.mix, self.rng
        raw = R.new_commands(n)
        if n == 0:
            return raw
        md = raw.view(R.MarketData)
        live = self.l3_live
        n_sym = min(mix.l3_symbols, self.n_symbols)
        target = 40 * mix.venues * n_sym
        # the share of adds keeps the live count near the target
        p_add = 0.75 if len(live) < target else 0.45
        kind = np.where(rng.random(n) < p_add, 0, rng.choice(4, n, p=[0.25, 0.2, 0.45, 0.1]) + 1)
        n_old = min(int((kind != 0).sum()), len(live))
        olds = np.flatnonzero(kind != 0)
        kind[olds[n_old:]] = 0  # too few live orders: add instead
        olds = olds[:n_old]
        pick = rng.choice(len(live), n_old, replace=False) if n_old else np.zeros(0, np.int64)
        adds = np.flatnonzero(kind == 0)
        a = len(adds)
        venue = rng.integers(1, mix.venues + 1, a)
        symbol = rng.integers(1, n_sym + 1, a)
        side = rng.choice(np.array([R.SIDE_BUY, R.SIDE_SELL]), a)
        away = rng.integers(1, 11, a) * CENT
        price = np.maximum(np.where(side == R.SIDE_BUY, self.ref[symbol] - away, self.ref[symbol] + away), CENT)
        qty = rng.integers(1, 11, a) * 100
        refs = np.arange(self.l3_ref + 1, self.l3_ref + 1 + a)
        self.l3_ref += a
        md["action"][adds] = ord("A")
        md["venue_id"][adds], md["symbol_id"][adds], md["side"][adds] = venue, symbol, side
        md["ref"][adds], md["price"][adds], md["qty"][adds] = refs, price, qty
        o = live[pick]
        k = kind[olds]
        md["venue_id"][olds], md["symbol_id"][olds], md["side"][olds] = o[:, 0], o[:, 1], o[:, 2]
        md["ref"][olds] = o[:, 5]
        # 1 executed in full, 2 partial cancel, 3 delete, 4 replace (new ref, price one cent closer)
        md["action"][olds] = np.array([0, ord("E"), ord("X"), ord("D"), ord("U")])[k]
        part = np.maximum(o[:, 4] // 200 * 100, 100)
        md["qty"][olds] = np.where(k == 1, o[:, 4], np.where(k == 2, np.minimum(part, o[:, 4]), o[:, 4]))
        new_refs = np.arange(self.l3_ref + 1, self.l3_ref + 1 + n_old)
        self.l3_ref += n_old
        md["new_ref"][olds] = np.where(k == 4, new_refs, 0)
        closer = np.where(o[:, 2] == R.SIDE_BUY, o[:, 3] + CENT, o[:, 3] - CENT)
        md["price"][olds] = np.where(k == 4, np.maximum(closer, CENT), 0)
        md["type"] = R.MARKET_DATA
        # the live set after this batch: executed/deleted gone, cancels shrink, replaces re-ref
        keep = np.ones(len(live), bool)
        keep[pick[(k == 1) | (k == 3) | ((k == 2) & (part >= o[:, 4]))]] = False
        live = live.copy()
        shrink = pick[(k == 2) & (part < o[:, 4])]
        live[shrink, 4] -= np.maximum(live[shrink, 4] // 200 * 100, 100)
        rep = pick[k == 4]
        live[rep, 3] = md["price"][olds][k == 4]
        live[rep, 5] = md["new_ref"][olds][k == 4]
        added = np.stack([venue, symbol, side, price, qty, refs], axis=1)
        self.l3_live = np.concatenate([live[keep], added])
        return raw

    # ------------------------------------------------------------ venue side
    def _mine(self, events: np.ndarray) -> np.ndarray:
        """The events caused by this generator's own commands (other producers may share the stream)."""
        h = events.view(R.EVENT_HEADER)
        return events[(h["source_id"] == self.client_source) | (h["source_id"] == self.venue_source)]

    def observe(self, events: np.ndarray):
        """Update the client's view from ExecReports and CancelRejects."""
        events = self._mine(events)
        if len(events) == 0:
            return
        h = events.view(R.EVENT_HEADER)
        er = events.view(R.ExecReport)[h["type"] == R.EXEC_REPORT]
        oid = er["order_id"].astype(np.int64)
        self._ensure(int(oid.max(initial=0)))
        t = self.track
        x = er["exec_type"]
        new = x == R.EXEC_PENDING_NEW
        ids = oid[new]
        t["c_state"][ids] = C_PENDING_NEW
        t["client"][ids] = er["client_id"][new]
        t["symbol"][ids] = er["symbol_id"][new]
        t["side"][ids] = er["side"][new]
        t["ord_type"][ids] = er["ord_type"][new]
        t["c_qty"][ids] = er["qty"][new]
        t["c_price"][ids] = er["price"][new]
        t["c_clord"][ids] = _clord_numbers(er["cl_ord_id"][new])
        ids = oid[x == R.EXEC_NEW]
        t["c_state"][ids] = C_OPEN
        rep = x == R.EXEC_REPLACED
        ids = oid[rep]
        t["c_clord"][ids] = _clord_numbers(er["cl_ord_id"][rep])
        t["c_qty"][ids] = er["qty"][rep]
        t["c_price"][ids] = er["price"][rep]
        t["c_pending"][ids] = 0
        trade = x == R.EXEC_TRADE
        t["c_cum"][oid[trade]] = er["cum_qty"][trade]
        cr = events.view(R.CancelReject)[h["type"] == R.CANCEL_REJECT]
        t["c_pending"][cr["order_id"][cr["order_id"] != 0].astype(np.int64)] = 0
        # Finished orders last, so a later state in the same batch cannot revive them.
        done = np.isin(er["ord_status"], [R.STATUS_FILLED, R.STATUS_CANCELED, R.STATUS_REJECTED,
                                          R.STATUS_EXPIRED]) & (oid != 0)
        t["c_state"][oid[done]] = C_DONE
        t["c_pending"][oid[done]] = 0

    def venue_responses(self, events: np.ndarray) -> np.ndarray:
        """Observe events; answer their VenueOrder/VenueCancel and fill some live orders."""
        self.observe(events)
        events = self._mine(events)
        mix, rng = self.mix, self.rng
        h = events.view(R.EVENT_HEADER)
        vo = events.view(R.VenueOrder)[h["type"] == R.VENUE_ORDER]
        vc = events.view(R.VenueCancel)[h["type"] == R.VENUE_CANCEL]
        self._ensure(int(vo["order_id"].max(initial=0)))
        t = self.track
        touched = np.zeros(len(t), bool)  # at most one venue message per order per call
        parts = []

        new = vo[vo["action"] == R.VENUE_ACTION_NEW]
        ids = new["order_id"].astype(np.int64)
        t["v_qty"][ids] = new["qty"]
        t["v_leaves"][ids] = new["qty"]
        t["v_price"][ids] = new["price"]
        t["client"][ids] = new["client_id"]
        t["symbol"][ids] = new["symbol_id"]
        t["side"][ids] = new["side"]
        t["ord_type"][ids] = new["ord_type"]
        t["venue"][ids] = new["venue_id"]
        refuse = rng.random(len(ids)) < mix.venue_reject
        t["v_state"][ids] = np.where(refuse, V_DONE, V_LIVE)
        parts.append(self._acks(ids[~refuse], R.VENUE_ACTION_NEW))
        parts.append(self._rejects(ids[refuse], R.VENUE_ACTION_NEW))
        touched[ids] = True

        rep = vo[vo["action"] == R.VENUE_ACTION_REPLACE]
        ids = rep["order_id"].astype(np.int64)
        live = t["v_state"][ids] == V_LIVE
        ok = ids[live]
        t["v_price"][ok] = rep["price"][live]
        t["v_qty"][ok] = rep["qty"][live]
        t["v_leaves"][ok] = np.maximum(rep["qty"][live] - t["v_cum"][ok], 0)
        t["v_state"][ok[t["v_leaves"][ok] == 0]] = V_DONE
        parts.append(self._acks(ok, R.VENUE_ACTION_REPLACE))
        parts.append(self._rejects(ids[~live], R.VENUE_ACTION_REPLACE))
        touched[ids] = True

        ids = vc["order_id"].astype(np.int64)
        live = t["v_state"][ids] == V_LIVE
        parts.append(self._cancelled(ids[live]))
        parts.append(self._rejects(ids[~live], R.VENUE_ACTION_CANCEL))
        t["v_state"][ids[live]] = V_DONE
        touched[ids] = True

        # Fill activity follows the client flow just answered (one ExecReport or
        # CancelReject per client command), so the mix is the same whether this is
        # called once per round or once per small poll of a live sequencer.
        answered = np.isin(h["type"], [R.EXEC_REPORT, R.CANCEL_REJECT]) & (h["source_id"] == self.client_source)
        cand = np.flatnonzero((t["v_state"] == V_LIVE) & ~touched)
        n_fill = min(int(rng.binomial(int(answered.sum()), mix.fills)), len(cand))
        parts.append(self._fills(np.sort(rng.choice(cand, n_fill, replace=False)) if n_fill else cand[:0]))
        parts.append(self._noise(int(rng.binomial(n_fill, mix.venue_noise))))
        if mix.l3:  # the venues' feeds move with the flow; taken with take_feed()
            self.feed.append(self.l3_market_data(int(rng.binomial(int(answered.sum()), min(mix.l3, 1.0)))
                                                 + int(rng.poisson(max(mix.l3 - 1.0, 0.0) * answered.sum()))))

        raw = np.concatenate(parts) if parts else R.new_commands(0)
        self._stamp_source(raw, client=False)
        return raw

    def _acks(self, ids: np.ndarray, ack_of: int) -> np.ndarray:
        raw = R.new_commands(len(ids))
        a = raw.view(R.VenueAck)
        a["type"] = R.VENUE_ACK
        a["order_id"] = ids
        a["venue_order_id"] = ids + 9_000_000_000  # the venue's own numbering
        a["price"] = self.track["v_price"][ids]
        a["qty"] = self.track["v_qty"][ids]
        a["venue_id"] = self.track["venue"][ids]
        a["ack_of"] = ack_of
        return raw

    def _rejects(self, ids: np.ndarray, reject_of: int) -> np.ndarray:
        raw = R.new_commands(len(ids))
        r = raw.view(R.VenueReject)
        r["type"] = R.VENUE_REJECT
        r["order_id"] = ids
        r["venue_id"] = self.track["venue"][ids]
        r["reason"] = 1
        r["reject_of"] = reject_of
        return raw

    def _cancelled(self, ids: np.ndarray) -> np.ndarray:
        raw = R.new_commands(len(ids))
        c = raw.view(R.VenueCancelled)
        c["type"] = R.VENUE_CANCELLED
        c["order_id"] = ids
        c["qty"] = self.track["v_leaves"][ids]
        c["venue_id"] = self.track["venue"][ids]
        return raw

    def _fills(self, ids: np.ndarray) -> np.ndarray:
        rng, t = self.rng, self.track
        n = len(ids)
        raw = R.new_commands(n)
        if n == 0:
            return raw
        leaves = t["v_leaves"][ids]
        full = (rng.random(n) < self.mix.full_fill) | (leaves <= 1)
        qty = np.where(full, leaves, rng.integers(1, np.maximum(leaves, 2)))
        price = np.where(t["ord_type"][ids] == R.ORD_MARKET, self.ref[t["symbol"][ids]], t["v_price"][ids])
        added = rng.random(n) < 0.5
        t["v_leaves"][ids] = leaves - qty
        t["v_cum"][ids] += qty
        t["v_state"][ids[full]] = V_DONE
        f = raw.view(R.VenueFill)
        f["type"] = R.VENUE_FILL
        f["order_id"] = ids
        f["venue_exec_id"] = np.arange(self.venue_exec + 1, self.venue_exec + 1 + n)
        self.venue_exec += n
        f["price"] = price
        f["qty"] = qty
        f["fee"] = np.where(added, -REBATE_PER_SHARE * qty, FEE_PER_SHARE * qty)
        f["venue_id"] = VENUE
        f["venue_id"] = t["venue"][ids]
        f["liquidity"] = np.where(added, R.LIQUIDITY_ADDED, R.LIQUIDITY_REMOVED)
        return raw

    def _noise(self, n: int) -> np.ndarray:
        """Fills for order ids nobody sent: the core must alert and change nothing."""
        raw = R.new_commands(n)
        f = raw.view(R.VenueFill)
        f["type"] = R.VENUE_FILL
        f["order_id"] = 10**12 + self.rng.integers(0, 1000, n)
        f["price"] = CENT
        f["qty"] = 100
        f["venue_id"] = VENUE
        return raw


def timer_tick() -> np.ndarray:
    """One Timer tick as the sequencer writes it (seq/ts unset)."""
    raw = R.new_commands(1)
    t = raw.view(R.Timer)
    t["type"], t["version"], t["kind"] = R.TIMER, 1, R.TIMER_TICK
    return raw


def generate(seed: int, n_commands: int, n_clients: int = 100, n_symbols: int = 500,
             mix: Mix = Mix(), round_size: int = 1024) -> np.ndarray:
    """A stamped stream (seq 1..N, ts increasing) of reference data then closed-loop flow."""
    gen = FlowGenerator(seed, n_clients, n_symbols, mix)
    cap = Capacity(orders=max(16, 2 * n_commands), clients=n_clients + 1, symbols=n_symbols + 1)
    bl = BusinessLogic(State.create(cap), digest_every=0)
    out = R.new_commands(n_commands)
    hdr = out.view(R.COMMAND_HEADER)
    source_counters: dict[int, int] = {}
    done = 0
    ts = T0
    batch = reference_data(n_clients, n_symbols, mix.venues if (mix.routed or mix.algo or mix.l3) else 0)
    while done < n_commands:
        # Draw for the whole round before cutting it, so a shorter run is a prefix of a longer one.
        steps = gen.rng.integers(100, 2_000, len(batch))  # ns between inputs
        batch = batch[: n_commands - done]
        h = batch.view(R.COMMAND_HEADER)
        h["version"] = _VERSIONS[h["type"]]
        h["seq"] = np.arange(done + 1, done + 1 + len(batch))
        h["ts"] = ts + np.cumsum(steps[: len(batch)])
        ts = int(h["ts"][-1])
        # source_seq again in stream order (the shuffle below mixes each source's records).
        for sid in np.unique(h["source_id"]).tolist():
            if sid == 0:
                continue
            sel = h["source_id"] == sid
            start = source_counters.get(sid, 0)
            h["source_seq"][sel] = np.arange(start + 1, start + 1 + int(sel.sum()))
            source_counters[sid] = start + int(sel.sum())
        out[done: done + len(batch)] = batch
        done += len(batch)
        events = bl.apply(batch)
        if done >= n_commands:
            break
        n_md = int(gen.rng.binomial(round_size, mix.market_data))
        gen.now = ts
        parts = [gen.venue_responses(events), gen.next_client_batch(round_size), gen.market_data(n_md),
                 gen.take_feed()]
        if mix.algo:  # stands in for the sequencer's Timer ticks, once a round
            parts.append(timer_tick())
        batch = np.concatenate(parts)
        batch = batch[gen.rng.permutation(len(batch))]
    assert (hdr["seq"] == np.arange(1, n_commands + 1)).all()
    return out
