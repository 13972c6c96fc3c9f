"""Positions, cash and P&L (sequencer/positions.py), margin calls, and an accounting property.

Harness reference data as in seq_testkit: clients 1 and 2 ($1M cash), symbol 1 AAA ($50,
venue 1); a third symbol CCC is added where needed.
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sequencer import positions as P
from sequencer import records as R
from sequencer.logic import BusinessLogic
from sequencer.state import Capacity, State

from risk_testkit import PX, RiskHarness, kinds, md_trade, set_risk, set_symbol, timer_tick, typed
from seq_testkit import _one, ack, add_client, add_symbol, cancel, cancelled, fill, new_order

BUY, SELL, SHORT = R.SIDE_BUY, R.SIDE_SELL, R.SIDE_SELL_SHORT
BIG = dict(max_qty=10**6, max_notional=10**17, cash=10**15)


@pytest.fixture
def h():
    h = RiskHarness()
    h.send(add_client(3, **BIG), add_symbol(3, "CCC", ref=20 * PX))
    return h


def summary(h, cid):
    out = np.zeros(4, np.int64)
    P.client_summary(h.state.kernel_args(), cid, out)
    return dict(zip(("equity", "gross", "buying_power", "unrealized"), out.tolist()))


def marks(h):
    out = np.zeros(len(h.state.symbols), np.int64)
    P.marks(h.state.kernel_args(), out)
    return out


def fills(h, side, *pairs, cid=3, sid=1, fee=0, cl=None):
    """One order (limit far from the fills) filled in ``pairs`` of (qty, price)."""
    qty = sum(q for q, _ in pairs)
    cl = cl or f"O{h.seq}"
    oid = h.open_order(cl, client_id=cid, symbol_id=sid, side=side, qty=qty, price=PX)
    for q, p in pairs:
        ev = h.send(fill(oid, q, price=p, fee=fee))
        assert kinds(ev)[:2] == ["ER:F", "TR"], ev
    return oid


# ==================================================================== average cost
@pytest.mark.parametrize("side, pairs, avg", [
    (BUY, [(100, 10 * PX), (200, 1001 * PX // 100)], 1_000_666_667),  # 10.00666...67: up
    (BUY, [(1, 100_000_001), (1, 100_000_002)], 100_000_002),           # exactly half: up
    (BUY, [(1, 10), (2, 11)], 11),                                       # 10.67
    (BUY, [(2, 10), (1, 11)], 10),                                       # 10.33
    (SHORT, [(1, 100_000_001), (1, 100_000_002)], 100_000_002),         # shorts too, by magnitude
    (SHORT, [(2, 10), (1, 11)], 10),
    (SHORT, [(1, 10), (2, 11)], 11),
])
def test_average_cost_rounds_half_up(h, side, pairs, avg):
    fills(h, side, *pairs)
    p = h.pos(3, 1)
    sign = 1 if side == BUY else -1
    assert (p["qty"], p["avg_px"], p["realized"]) == (sign * sum(q for q, _ in pairs), avg, 0)
    assert h.client(3)["gross"] == abs(p["qty"]) * avg


def test_realised_pnl_on_reduce(h):
    fills(h, BUY, (100, 10 * PX), (200, 1001 * PX // 100))               # 300 at 10.00666667
    fills(h, SELL, (100, 11 * PX))
    p = h.pos(3, 1)
    assert (p["qty"], p["avg_px"]) == (200, 1_000_666_667)               # a reduce keeps the average
    assert p["realized"] == 100 * (11 * PX - 1_000_666_667) == h.client(3)["realized"]
    fills(h, SELL, (200, 9 * PX))
    p = h.pos(3, 1)
    assert (p["qty"], p["avg_px"]) == (0, 0)
    assert p["realized"] == 100 * (11 * PX - 1_000_666_667) + 200 * (9 * PX - 1_000_666_667)
    # a short is reduced by buys: the gain is (average - price) per share
    fills(h, SHORT, (100, 20 * PX), sid=3)
    fills(h, BUY, (40, 18 * PX), sid=3)
    q = h.pos(3, 3)
    assert (q["qty"], q["avg_px"], q["realized"]) == (-60, 20 * PX, 40 * 2 * PX)
    assert h.client(3)["realized"] == p["realized"] + q["realized"]


def test_flip_through_zero(h):
    fills(h, BUY, (100, 10 * PX))
    fills(h, SHORT, (150, 12 * PX))                                      # closes 100, opens 50 short at 12
    p = h.pos(3, 1)
    assert (p["qty"], p["avg_px"], p["realized"]) == (-50, 12 * PX, 100 * 2 * PX)
    fills(h, BUY, (80, 11 * PX))                                         # closes 50 short, opens 30 long at 11
    p = h.pos(3, 1)
    assert (p["qty"], p["avg_px"], p["realized"]) == (30, 11 * PX, 200 * PX + 50 * PX)
    assert h.client(3)["gross"] == 30 * 11 * PX
    assert (p["bought"], p["sold"]) == (180, 150)
    assert (p["buy_value"], p["sell_value"]) == (100 * 10 * PX + 80 * 11 * PX, 150 * 12 * PX)


def test_fees_are_kept_apart_from_pnl(h):
    start = h.client(3)["cash"]
    fills(h, BUY, (100, 10 * PX), fee=PX // 2)                           # 0.50 fee
    fills(h, SELL, (100, 11 * PX), fee=-PX // 4)                         # 0.25 rebate
    p, c = h.pos(3, 1), h.client(3)
    assert p["realized"] == c["realized"] == 100 * PX                    # fees not in realised
    assert p["fees"] == c["fees"] == PX // 4
    assert c["cash"] - start == 100 * PX - PX // 4                       # cash pays them


def test_unrealised_marked_to_the_mid_else_the_reference(h):
    fills(h, BUY, (200, 50 * PX))
    fills(h, SHORT, (50, 20 * PX), sid=3)
    m = marks(h)
    assert (m[1], m[2], m[3]) == (50 * PX, 0, 20 * PX)                   # reference prices (BBB has none)
    h.quote(1, 54 * PX, 56 * PX, venue_id=2)                             # AAA mid 55
    h.send(md_trade(3, 22 * PX))                                         # CCC reference 22
    m = marks(h)
    assert (m[1], m[3]) == (55 * PX, 22 * PX)
    s = summary(h, 3)
    cash = h.client(3)["cash"]
    assert cash == 10**15 - 200 * 50 * PX + 50 * 20 * PX
    assert s["equity"] == cash + 200 * 55 * PX - 50 * 22 * PX
    assert s["gross"] == 200 * 55 * PX + 50 * 22 * PX                   # at the marks
    assert s["unrealized"] == 200 * 5 * PX - 50 * 2 * PX
    assert s["buying_power"] == cash                                     # cash account, nothing reserved
    assert h.client(3)["gross"] == 200 * 50 * PX + 50 * 20 * PX         # gross at cost


def test_gross_at_cost_follows_the_average(h):
    fills(h, BUY, (100, 10 * PX))
    fills(h, BUY, (100, 12 * PX))
    assert h.client(3)["gross"] == 200 * 11 * PX
    fills(h, SELL, (50, 30 * PX))
    assert h.client(3)["gross"] == 150 * 11 * PX


def test_position_rows_and_open_quantities(h):
    oid = h.open_order("B1", client_id=3, qty=100, price=PX)
    p = h.pos(3, 1)
    assert (p["qty"], p["open_buy"], p["open_sell"]) == (0, 100, 0)
    h.send(fill(oid, 30, price=PX))
    p = h.pos(3, 1)
    assert (p["qty"], p["open_buy"]) == (30, 70)
    h.send(cancel("X1", order_id=oid, client_id=3), cancelled(oid))
    assert h.pos(3, 1)["open_buy"] == 0 and h.state.position(3, 1) == 30
    rows = h.state.position_rows()
    assert len(rows) == 1 and (rows["client_id"][0], rows["symbol_id"][0]) == (3, 1)
    assert h.client(3)["first_position"] == 0 and rows["next"][0] == -1


# ==================================================================== margin calls
def margin_client(h, cid=4):
    """Client cid: $9,000 cash, 50% initial and 25% maintenance margin, buying 400 at 45 ($18,000)
    with all its buying power. Once filled: cash -9,000, so at a mark m equity is -9,000 + 400m
    against a maintenance requirement of 100m: below it under 30."""
    h.send(add_client(cid, cash=9_000 * PX), set_risk(cid, R.RISK_MARGIN, 5000, 2500))
    return h.open_order(f"M{cid}", client_id=cid, qty=400, price=45 * PX)


def test_margin_call_and_restore_on_timer_ticks(h):
    oid = margin_client(h)
    assert kinds(h.send(fill(oid, 400, price=45 * PX))) == ["ER:F", "TR"]   # marked at 50: equity 11k, need 5k
    assert h.send(timer_tick()) == []
    h.send(set_symbol(1, R.SYM_REFERENCE_PRICE, 29 * PX))                     # equity 2,600 < 2,900
    assert h.client(4)["margin_call"] == 0                                    # checked on ticks, not on prices
    (al,) = h.send(timer_tick())
    assert (al["code"], al["severity"], al["a"], al["b"]) == (R.REASON_MARGIN_CALL, R.SEVERITY_ERROR, 4, 300 * PX)
    assert h.client(4)["margin_call"] == 1
    assert h.send(timer_tick()) == []                                         # once per breach
    h.send(md_trade(1, 30 * PX))                                              # equity 3,000 = requirement
    (al,) = h.send(timer_tick())                                              # inclusive: restored
    assert (al["code"], al["severity"], al["a"], al["b"]) == (R.REASON_MARGIN_RESTORED, R.SEVERITY_INFO, 4, 0)
    assert h.client(4)["margin_call"] == 0
    assert h.send(timer_tick()) == []
    h.send(md_trade(1, 25 * PX))
    (al,) = h.send(timer_tick())
    assert al["code"] == R.REASON_MARGIN_CALL and al["b"] == 1_500 * PX       # need 2,500, equity 1,000
    other = _one(R.Timer, R.TIMER, timer_id=2, kind=7)
    h.send(md_trade(1, 60 * PX))
    assert h.send(other) == []                                                # not a tick: nothing
    assert h.client(4)["margin_call"] == 1


def test_margin_call_on_a_fill(h):
    oid = margin_client(h)
    h.send(set_symbol(1, R.SYM_REFERENCE_PRICE, 29 * PX))
    ev = h.send(fill(oid, 400, price=45 * PX))                                # bought at 45, marked at 29
    assert kinds(ev) == ["ER:F", "TR", f"AL:{R.REASON_MARGIN_CALL}"]
    assert ev[2]["a"] == 4 and ev[2]["b"] == 300 * PX
    # a cash account is not watched on fills (its maintenance is not set)
    h.send(add_client(5, cash=10_000 * PX))
    o5 = h.open_order("C1", client_id=5, qty=100, price=50 * PX)
    assert kinds(h.send(fill(o5, 100, price=50 * PX))) == ["ER:F", "TR"]
    assert h.send(timer_tick()) == []                                         # client 4 still called: quiet


def test_margin_sweep_covers_every_client_in_one_tick(h):
    a = margin_client(h, 4)
    b = margin_client(h, 5)
    h.send(fill(a, 400, price=45 * PX), fill(b, 400, price=45 * PX), md_trade(1, 25 * PX))
    ev = h.send(timer_tick())
    assert [(int(e["code"]), int(e["a"])) for e in ev] == [(R.REASON_MARGIN_CALL, 4), (R.REASON_MARGIN_CALL, 5)]


# ==================================================================== property: random fill streams
CAP = Capacity(orders=256, clients=4, symbols=4, positions=16)
PRICES = [PX, 2 * PX + 1, 3 * PX, 7 * PX // 3, 10 * PX - 7, 99 * PX]
MARK_BOOK = {1: (9 * PX, 11 * PX)}        # symbol 1 two-sided (mid 10); symbols 2, 3 on reference prices


@st.composite
def fill_streams(draw):
    orders = []
    for _ in range(draw(st.integers(1, 12))):
        sid = draw(st.sampled_from([1, 2, 3]))
        side = draw(st.sampled_from([BUY, BUY, SHORT, SELL]))
        qty = draw(st.integers(1, 500))
        fl = []
        for _ in range(draw(st.integers(0, 4))):
            fl.append((draw(st.integers(1, 600)), draw(st.sampled_from(PRICES)), draw(st.sampled_from([0, 3, -2, PX]))))
        end = draw(st.sampled_from(["none", "cancel", "ack"]))
        orders.append((sid, side, qty, fl, end))
    return orders


def ref_fill(pos, sign, q, p):
    """Average-cost accounting written the plain way: (qty, avg, realised)."""
    qty, avg, realized = pos
    if qty == 0 or (qty > 0) == (sign > 0):
        total = abs(qty) + q
        cost = abs(qty) * avg + q * p
        return qty + sign * q, (2 * cost + total) // (2 * total), realized
    closing = min(q, abs(qty))
    realized += closing * (p - avg) * (1 if qty > 0 else -1)
    qty += sign * q
    return qty, (0 if qty == 0 else (p if q > closing else avg)), realized


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fill_streams())
def test_accounting_matches_a_plain_recomputation(stream):
    bl = BusinessLogic(State.create(CAP), digest_every=0)
    setup = [add_client(1, **BIG), add_symbol(1, "AAA", ref=10 * PX), add_symbol(2, "BBB", ref=3 * PX),
             add_symbol(3, "CCC", ref=PX)]
    cmds = []
    n_orders = 0
    for sid, side, qty, fl, end in stream:
        cmds.append(new_order(f"O{len(cmds)}", client_id=1, symbol_id=sid, side=side, qty=qty, price=PX))
        cmds.append(("fills", sid, side, qty, fl, end))
    # market data: a two-sided book on symbol 1, a trade on symbol 2
    md = [_one(R.MarketData, R.MARKET_DATA, symbol_id=1, venue_id=1, action=ord("A"), side=R.SIDE_BUY,
               price=MARK_BOOK[1][0], qty=10, ref=1),
          _one(R.MarketData, R.MARKET_DATA, symbol_id=1, venue_id=1, action=ord("A"), side=R.SIDE_SELL,
               price=MARK_BOOK[1][1], qty=10, ref=2), md_trade(2, 4 * PX)]
    raw = [*setup, *md]
    # Orders get ids 1, 2, ... only when accepted: the model decides acceptance the same way
    # (a plain SELL needs the long position net of open sells), so ids are predictable.
    pos = {s: [0, 0, 0] for s in (1, 2, 3)}
    open_sell = {s: 0 for s in (1, 2, 3)}
    cash = 10**15
    fees = 0
    applied = []     # (sid, sign, q, p)
    biggest = 0      # largest position (plus fill) seen: bounds the average's rounding drift
    live = []        # (oid, sid, side, leaves) at the end
    for item in cmds:
        if not isinstance(item, tuple):
            pending_new = item
            continue
        _, sid, side, qty, fl, end = item
        long_qty = pos[sid][0] - open_sell[sid]
        if side == SELL and qty > long_qty:
            raw.append(pending_new)              # refused: no order, no fills
            continue
        raw.append(pending_new)
        n_orders += 1
        oid = n_orders
        leaves = qty
        if side != BUY:
            open_sell[sid] += qty
        if end == "ack":
            raw.append(ack(oid))
        for q, p, fee in fl:
            raw.append(fill(oid, q, price=p, fee=fee))
            if q > leaves:
                continue                         # overfill: alerted, nothing booked
            leaves -= q
            sign = 1 if side == BUY else -1
            if side != BUY:
                open_sell[sid] -= q
            pos[sid] = list(ref_fill(tuple(pos[sid]), sign, q, p))
            biggest = max(biggest, abs(pos[sid][0]) + q)
            cash -= sign * q * p + fee
            fees += fee
            applied.append((sid, sign, q, p))
        if leaves and end == "cancel":
            raw.append(cancelled(oid))
            if side != BUY:
                open_sell[sid] -= leaves
            leaves = 0
        if leaves:
            live.append((oid, sid, side, leaves))
    events = bl.apply(np.concatenate(raw))
    ev = typed(events)
    state = bl.state

    # every report: leaves never negative, cum never above the order qty
    for e in ev:
        if e["type"] == R.EXEC_REPORT and e["order_id"] != 0:
            assert e["leaves_qty"] >= 0 and 0 <= e["cum_qty"] <= e["qty"]
            assert e["leaves_qty"] + e["cum_qty"] == e["qty"] or e["exec_type"] in (R.EXEC_CANCELED,)
    trades = [e for e in ev if e["type"] == R.TRADE]
    assert len(trades) == len(applied)
    assert state.scalars[0] == n_orders
    orders = state.orders[:n_orders]
    assert (orders["leaves"] >= 0).all() and (orders["cum"] <= orders["qty"]).all()

    c = state.clients[1]
    assert c["cash"] == cash and c["fees"] == fees
    mk = {1: sum(MARK_BOOK[1]) // 2, 2: 4 * PX, 3: PX}
    unreal = 0
    total_pnl_exact = 0
    for s in (1, 2, 3):
        signed = sum(sg * q for sid, sg, q, _ in applied if sid == s)
        assert state.position(1, s) == signed == pos[s][0]
        row = [r for r in state.position_rows() if r["symbol_id"] == s]
        if not row:
            assert signed == 0 and not any(a[0] == s for a in applied) and not any(lv[1] == s for lv in live)
            continue
        r = row[0]
        assert (r["qty"], r["avg_px"], r["realized"]) == tuple(pos[s])
        assert r["bought"] - r["sold"] == signed
        assert r["sell_value"] - r["buy_value"] == sum(-sg * q * p for sid, sg, q, p in applied if sid == s)
        assert r["open_buy"] == sum(lv[3] for lv in live if lv[1] == s and lv[2] == BUY)
        assert r["open_sell"] == sum(lv[3] for lv in live if lv[1] == s and lv[2] != BUY)
        assert r["open_buy"] >= 0 and r["open_sell"] >= 0
        unreal += pos[s][0] * (mk[s] - pos[s][1])
        total_pnl_exact += r["sell_value"] - r["buy_value"] + pos[s][0] * mk[s]
    assert c["realized"] == sum(pos[s][2] for s in pos)
    assert c["gross"] == sum(abs(pos[s][0]) * pos[s][1] for s in pos)
    assert c["open_orders"] == len(live)
    assert c["open_notional"] == sum(lv[3] * PX for lv in live)
    assert c["reserved"] == sum(lv[3] * PX for lv in live if lv[2] != SELL)
    s = summary_of(state, 1)
    assert s["unrealized"] == unreal
    assert s["equity"] == cash + sum(pos[x][0] * mk[x] for x in pos)
    # realised + unrealised is the exact P&L up to the average's rounding (< 1 unit per share per fill)
    drift = abs(c["realized"] + unreal - total_pnl_exact)
    assert drift <= len(applied) * biggest


def summary_of(state, cid):
    out = np.zeros(4, np.int64)
    P.client_summary(state.kernel_args(), cid, out)
    return dict(zip(("equity", "gross", "buying_power", "unrealized"), out.tolist()))
