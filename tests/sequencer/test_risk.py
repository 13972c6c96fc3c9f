"""Pre-trade risk (sequencer/risk.py): each check, its limits and the order of precedence.

The harness has clients 1 and 2 (1,000 shares and $100k per order, $1M cash) and
symbols 1 AAA ($50, venue 1) and 2 BBB (no reference price, no default venue).
"""

import numpy as np
import pytest

from sequencer import positions as P
from sequencer import records as R
from sequencer.state import Capacity

from risk_testkit import (
    PX, RiskHarness, add_venue, kill, md_delete, md_trade, set_risk, set_symbol,
)
from seq_testkit import ack, add_client, add_symbol, admin, cancel, cancelled, fill, replace, venue_reject

BUY, SELL, SHORT = R.SIDE_BUY, R.SIDE_SELL, R.SIDE_SELL_SHORT
MKT = R.ORD_MARKET


@pytest.fixture
def h():
    return RiskHarness()


def summary(h, cid):
    out = np.zeros(4, np.int64)
    P.client_summary(h.state.kernel_args(), cid, out)
    return dict(zip(("equity", "gross", "buying_power", "unrealized"), out.tolist()))


def replication_down():
    return admin(R.ADMIN_REPLICATION, 0, R.REPLICATION_DOWN, R.POLICY_REJECT_NEW, 1)


# ==================================================================== 1. kill switch first
SWITCHES = {
    "global": kill(R.KILL_GLOBAL),
    "new": kill(R.KILL_NEW_ORDERS),
    "repl": replication_down(),
    "client1": kill(R.KILL_CLIENT, 1),
    "client2": kill(R.KILL_CLIENT, 2),
    "symbol1": kill(R.KILL_SYMBOL, 1),
    "symbol2": kill(R.KILL_SYMBOL, 2),
    "venue1": kill(R.KILL_VENUE, 1),
    "venue2": kill(R.KILL_VENUE, 2),
    "restricted": set_symbol(1, R.SYM_RESTRICTED, 1),
}


@pytest.mark.parametrize("switches, order, reason", [
    # global switches refuse before anything else is looked at
    (["global"], {}, R.REASON_KILL_GLOBAL),
    (["global"], dict(client_id=0), R.REASON_KILL_GLOBAL),
    (["global"], dict(symbol_id=7), R.REASON_KILL_GLOBAL),
    (["global"], dict(qty=0, side=9), R.REASON_KILL_GLOBAL),
    (["global", "new"], {}, R.REASON_KILL_GLOBAL),
    (["new"], {}, R.REASON_KILL_NEW_ORDERS),
    (["new"], dict(client_id=0), R.REASON_KILL_NEW_ORDERS),
    (["new", "restricted"], dict(qty=5000), R.REASON_KILL_NEW_ORDERS),
    # a refused replication right after the global switches
    (["repl"], {}, R.REASON_NOT_REPLICATED),
    (["repl"], dict(client_id=0), R.REASON_NOT_REPLICATED),
    (["repl", "new"], {}, R.REASON_KILL_NEW_ORDERS),
    (["repl", "global"], {}, R.REASON_KILL_GLOBAL),
    # scoped switches once the ids resolve: client, symbol, venue
    (["client1"], {}, R.REASON_KILL_CLIENT),
    (["client1"], dict(client_id=0), R.REASON_UNKNOWN_CLIENT),
    (["client1"], dict(symbol_id=7), R.REASON_UNKNOWN_SYMBOL),
    (["client1"], dict(qty=0), R.REASON_KILL_CLIENT),
    (["client1"], dict(price=0), R.REASON_KILL_CLIENT),
    (["client1", "restricted"], {}, R.REASON_KILL_CLIENT),
    (["client1"], dict(side=SELL, qty=5000), R.REASON_KILL_CLIENT),
    (["client2"], {}, 0),
    (["symbol1"], {}, R.REASON_KILL_SYMBOL),
    (["symbol1"], dict(tif=9), R.REASON_KILL_SYMBOL),
    (["symbol1"], dict(symbol_id=0, symbol="AAA"), R.REASON_KILL_SYMBOL),
    (["symbol1", "client1"], {}, R.REASON_KILL_CLIENT),
    (["symbol2"], {}, 0),
    (["venue1"], {}, R.REASON_KILL_VENUE),                   # the symbol's default venue
    (["venue1"], dict(venue_id=2), 0),
    (["venue2"], dict(venue_id=2), R.REASON_KILL_VENUE),
    (["venue2"], dict(venue_id=2, qty=0), R.REASON_KILL_VENUE),
    (["venue2"], {}, 0),
    (["venue1", "symbol1"], {}, R.REASON_KILL_SYMBOL),
    (["venue1"], dict(venue_id=99), R.REASON_INVALID_FIELD),  # no such venue: nothing to kill
])
def test_kill_switch_precedence(h, switches, order, reason):
    for s in switches:
        ev = h.send(SWITCHES[s])
        assert all(e["code"] != R.REASON_INVALID_ADMIN for e in ev if e["type"] == R.ALERT)
    assert h.reason("O1", **order) == reason


# ==================================================================== 2-3. reference data, restricted, short sales
def test_fields_are_checked_before_restricted(h):
    h.send(set_symbol(1, R.SYM_RESTRICTED, 1))
    assert h.reason("O1", qty=0) == R.REASON_INVALID_FIELD
    assert h.reason("O1", side=3) == R.REASON_INVALID_FIELD


def test_restricted_symbol_refuses_every_side_until_lifted(h):
    h.send(set_symbol(1, R.SYM_RESTRICTED, 1))
    assert h.reason("O1") == R.REASON_RESTRICTED
    assert h.reason("O2", side=SHORT) == R.REASON_RESTRICTED
    assert h.reason("O3", side=SELL) == R.REASON_RESTRICTED       # before sell-exceeds-position
    assert h.reason("O4", qty=5000) == R.REASON_RESTRICTED        # before max qty
    h.send(set_symbol(1, R.SYM_SHORTABLE, 0))
    assert h.reason("O5", side=SHORT) == R.REASON_RESTRICTED      # before not-shortable
    h.send(set_symbol(1, R.SYM_RESTRICTED, 0))
    assert h.reason("O6") == 0


def test_short_sale_needs_an_easy_to_borrow_symbol(h):
    assert h.reason("S1", side=SHORT) == 0                         # symbols are shortable by default
    h.send(set_symbol(1, R.SYM_SHORTABLE, 0))
    assert h.reason("S2", side=SHORT) == R.REASON_NOT_SHORTABLE
    assert h.reason("S3", side=SHORT, qty=5000) == R.REASON_NOT_SHORTABLE  # before max qty
    assert h.reason("B1", side=BUY) == 0
    h.send(set_symbol(1, R.SYM_SHORTABLE, 1))
    assert h.reason("S4", side=SHORT) == 0


def test_sell_may_not_exceed_the_long_position_counting_open_sells(h):
    assert h.reason("S0", side=SELL) == R.REASON_SELL_EXCEEDS_POSITION  # flat
    assert h.reason("S0", side=SELL, qty=5000) == R.REASON_SELL_EXCEEDS_POSITION  # before max qty
    oid = h.open_order("B1", qty=100)
    assert h.reason("S1", side=SELL) == R.REASON_SELL_EXCEEDS_POSITION  # open buys do not count
    h.send(fill(oid, 100))
    assert h.reason("S2", side=SELL, qty=101) == R.REASON_SELL_EXCEEDS_POSITION
    r, s3 = h.new("S3", side=SELL, qty=60)
    assert r == 0
    assert h.reason("S4", side=SELL, qty=41) == R.REASON_SELL_EXCEEDS_POSITION  # 60 already open
    assert h.reason("S5", side=SELL, qty=40) == 0                        # exactly flat: inclusive
    assert h.reason("S6", side=SELL, qty=1) == R.REASON_SELL_EXCEEDS_POSITION
    assert h.reason("S7", side=SHORT, qty=1) == 0                        # marked short: allowed
    h.send(ack(s3), cancelled(s3))                  # releases 60: open sells S5 40 + S7 1 (short sales count)
    assert h.reason("S8", side=SELL, qty=60) == R.REASON_SELL_EXCEEDS_POSITION
    assert h.reason("S9", side=SELL, qty=59) == 0


def test_sell_from_a_short_position_is_refused(h):
    oid = h.open_order("S1", side=SHORT, qty=100)
    h.send(fill(oid, 100))
    assert h.state.position(1, 1) == -100
    assert h.reason("S2", side=SELL, qty=1) == R.REASON_SELL_EXCEEDS_POSITION


# ==================================================================== 4. order size
def test_order_size_checks_in_order(h):
    assert h.reason("O1", qty=1000) == 0                                  # inclusive
    assert h.reason("O2", qty=1001) == R.REASON_MAX_QTY
    assert h.reason("O3", qty=1001, symbol_id=2, venue_id=1, ord_type=MKT) == R.REASON_MAX_QTY
    assert h.reason("O4", qty=1, symbol_id=2, venue_id=1, ord_type=MKT) == R.REASON_NO_REFERENCE_PRICE
    assert h.reason("O5", qty=1, symbol_id=2, venue_id=1, price=PX) == 0   # a limit order needs none
    assert h.reason("O6", qty=1000, price=100 * PX) == 0                   # $100k: inclusive
    assert h.reason("O7", qty=1000, price=100 * PX + 1) == R.REASON_MAX_NOTIONAL
    h.send(set_symbol(1, R.SYM_COLLAR, 1))                                 # notional before collar
    assert h.reason("O8", qty=1000, price=200 * PX) == R.REASON_MAX_NOTIONAL


def test_market_orders_are_valued_at_the_book_mid_over_venues_else_the_reference(h):
    # $100k per order: 1,000 at the $50 reference fits
    assert h.reason("M1", ord_type=MKT, qty=1000, price=0) == 0
    assert h.client(1)["reserved"] == 1000 * 50 * PX
    # a bid of 99 on venue 1 and an offer of 103 on venue 2: the mid is 101
    (bid,) = h.quote(1, 99 * PX, 0, venue_id=1)
    assert h.reason("M2", ord_type=MKT, qty=1000, price=0) == 0            # one-sided: still the reference
    (ask,) = h.quote(1, 0, 103 * PX, venue_id=2)
    assert h.state.symbols[1]["bid"] == 99 * PX and h.state.symbols[1]["ask"] == 103 * PX
    assert h.reason("M3", ord_type=MKT, qty=1000, price=0) == R.REASON_MAX_NOTIONAL  # 1,000 x 101
    r, oid = h.new("M4", ord_type=MKT, qty=990, price=0)                   # 990 x 101 = 99,990
    assert r == 0 and h.order(oid)["value_px"] == 101 * PX and h.order(oid)["price"] == 0
    assert h.reason("M5", ord_type=MKT, side=SHORT, qty=1000, price=0) == R.REASON_MAX_NOTIONAL
    assert h.reason("L1", qty=1000, price=60 * PX) == 0                    # a limit order: its own price
    h.send(md_delete(1, ask, venue_id=2))                                  # one-sided again
    assert h.reason("M6", ord_type=MKT, qty=1000, price=0) == 0
    h.send(md_trade(1, 101 * PX))                                          # a print moves the reference
    assert h.reason("M7", ord_type=MKT, qty=1000, price=0) == R.REASON_MAX_NOTIONAL
    h.send(md_delete(1, bid, venue_id=1))
    assert h.state.symbols[1]["bid"] == 0 and h.state.symbols[1]["ask"] == 0


def test_mid_rounds_down(h):
    h.quote(1, 50 * PX, 50 * PX + 3)
    r, oid = h.new("M1", ord_type=MKT, qty=1, price=0)
    assert r == 0 and h.order(oid)["value_px"] == 50 * PX + 1


# ==================================================================== 5. price collar
@pytest.mark.parametrize("bps, absolute, price, ok", [
    (1000, 0, 55 * PX, True),             # 10% of $50 = $5: inclusive
    (1000, 0, 55 * PX + 1, False),
    (1000, 0, 45 * PX, True),
    (1000, 0, 45 * PX - 1, False),
    (0, 2 * PX, 52 * PX, True),           # absolute $2
    (0, 2 * PX, 52 * PX + 1, False),
    (0, 2 * PX, 48 * PX, True),
    (0, 2 * PX, 48 * PX - 1, False),
    (1000, 2 * PX, 53 * PX, False),       # both set: the tighter one binds
    (100, 2 * PX, 50 * PX + PX // 2, True),
    (100, 2 * PX, 50 * PX + PX // 2 + 1, False),
    (0, 0, 90 * PX, True),                # 0: no collar
])
def test_collar(h, bps, absolute, price, ok):
    ev = h.send(set_symbol(1, R.SYM_COLLAR, bps, absolute))
    assert ev == []
    assert h.reason("O1", price=price, qty=10) == (0 if ok else R.REASON_PRICE_COLLAR)


def test_collar_is_centred_on_the_mark_and_ignores_market_orders(h):
    h.send(set_symbol(1, R.SYM_COLLAR, 1000))
    h.quote(1, 59 * PX, 61 * PX)                                          # mid 60: band 54..66
    assert h.reason("O1", price=66 * PX, qty=10) == 0
    assert h.reason("O2", price=54 * PX, qty=10) == 0
    assert h.reason("O3", price=54 * PX - 1, qty=10) == R.REASON_PRICE_COLLAR
    assert h.reason("O4", price=50 * PX, qty=10) == R.REASON_PRICE_COLLAR  # fine against the reference
    h.send(set_symbol(1, R.SYM_COLLAR, 1))                                 # 1 bp
    assert h.reason("M1", ord_type=MKT, qty=10, price=0) == 0
    # without a two-sided book the reference price, moved by trade prints, is the centre
    g = RiskHarness()
    g.send(set_symbol(1, R.SYM_COLLAR, 1000), md_trade(1, 80 * PX))
    assert g.reason("O1", price=88 * PX, qty=10) == 0
    assert g.reason("O2", price=50 * PX, qty=10) == R.REASON_PRICE_COLLAR
    g.send(set_symbol(1, R.SYM_REFERENCE_PRICE, 50 * PX))                  # or the operator's
    assert g.reason("O3", price=50 * PX, qty=10) == 0


def test_no_collar_without_a_mark(h):
    h.send(set_symbol(2, R.SYM_COLLAR, 1, 1))
    assert h.reason("O1", symbol_id=2, venue_id=1, price=999 * PX, qty=1) == 0


def test_collar_before_rate(h):
    h.send(set_symbol(1, R.SYM_COLLAR, 100), set_risk(1, R.RISK_ORDER_RATE, 1))
    assert h.reason("O1", qty=1) == 0
    assert h.reason("O2", qty=1, price=60 * PX) == R.REASON_PRICE_COLLAR
    assert h.reason("O3", qty=1) == R.REASON_ORDER_RATE


# ==================================================================== 6. order rate
def test_rate_is_a_rolling_second_of_ten_100ms_buckets(h):
    h.send(set_risk(1, R.RISK_ORDER_RATE, 3))
    s = 1_000_000_000
    h.at(10 * s)                     # bucket 100
    assert h.reason("O1", qty=1) == 0
    h.at(10 * s + 50_000_000)        # still bucket 100
    assert h.reason("O2", qty=1) == 0
    h.at(10 * s + 350_000_000)       # bucket 103
    assert h.reason("O3", qty=1) == 0
    h.at(10 * s + 999_999_999)       # bucket 109: three in the window
    assert h.reason("O4", qty=1) == R.REASON_ORDER_RATE
    assert h.reason("O4b", qty=1, client_id=2) == 0                 # per client
    h.at(11 * s)                     # bucket 110: bucket 100 left the window (the refused one never counted)
    assert h.reason("O5", qty=1) == 0                               # O3, O5
    assert h.reason("O6", qty=1) == 0                               # O3, O5, O6
    assert h.reason("O6b", qty=1) == R.REASON_ORDER_RATE
    h.at(11 * s + 350_000_000)       # bucket 113: bucket 103 left
    assert h.reason("O7", qty=1) == 0
    assert h.reason("O7b", qty=1) == R.REASON_ORDER_RATE
    h.at(13 * s)                     # a long gap empties the window
    for i in range(3):
        assert h.reason(f"P{i}", qty=1) == 0
    assert h.reason("P3", qty=1) == R.REASON_ORDER_RATE


def test_only_accepted_orders_and_replaces_count(h):
    h.send(set_risk(1, R.RISK_ORDER_RATE, 2))
    h.at(5_000_000_000)
    for i in range(5):
        assert h.reason(f"X{i}", qty=5000) == R.REASON_MAX_QTY      # refused: not counted
    r, oid = h.new("O1", qty=1)
    assert r == 0
    h.send(ack(oid))
    assert h.request(cancel("C0", order_id=999)) == R.REASON_UNKNOWN_ORDER
    assert h.request(replace("R1", order_id=oid, qty=2, price=50 * PX)) == 0   # the second
    h.send(ack(oid, ack_of=R.VENUE_ACTION_REPLACE))
    assert h.reason("O2", qty=1) == R.REASON_ORDER_RATE
    assert h.request(replace("R2", order_id=oid, qty=3, price=50 * PX)) == R.REASON_ORDER_RATE
    assert h.request(cancel("C1", order_id=oid)) == 0                # cancels are never rate-limited
    h.at(6_000_000_000)
    assert h.reason("O3", qty=1) == 0


def test_rate_window_follows_input_ts_only():
    """The window moves with the inputs' ts, not with their number or batching."""
    from seq_testkit import new_order
    outcomes = []
    for batched in (True, False):
        h = RiskHarness()
        h.send(set_risk(1, R.RISK_ORDER_RATE, 2))
        cmds = [(7_000_000_000, new_order(f"O{i}", qty=1)) for i in range(4)]
        cmds += [(7_999_999_999, new_order("P0", qty=1)), (8_000_000_000, new_order("P1", qty=1)),
                 (8_000_000_000, new_order("P2", qty=1)), (8_000_000_000, new_order("P3", qty=1))]
        raw = np.concatenate([c for _, c in cmds])
        if batched:
            stamped = h.stamp(raw)
            stamped.view(R.COMMAND_HEADER)["ts"] = [t for t, _ in cmds]
            ev = [e for e in h.bl.apply(stamped).view(R.ExecReport)]
        else:
            ev = []
            for t, c in cmds:
                ev += h.at(t).send(c)
        outcomes.append([int(e["reason"]) for e in ev if e["type"] == R.EXEC_REPORT])
    rate = R.REASON_ORDER_RATE
    assert outcomes[0] == outcomes[1] == [0, 0, rate, rate, rate, 0, 0, rate]


# ==================================================================== 7. client exposure
def test_max_open_orders(h):
    h.send(set_risk(1, R.RISK_MAX_OPEN_ORDERS, 3))
    a = h.open_order("A", qty=10)
    b = h.open_order("B", qty=10)
    r, c = h.new("C", qty=10)                                           # PENDING_NEW counts too
    assert r == 0 and h.client(1)["open_orders"] == 3
    assert h.reason("D", qty=10) == R.REASON_MAX_OPEN_ORDERS
    assert h.reason("D", qty=10, client_id=2) == 0                     # per client
    assert h.request(cancel("XA", order_id=a)) == 0
    assert h.reason("D", qty=10) == R.REASON_MAX_OPEN_ORDERS            # pending cancel is still live
    h.send(cancelled(a))
    assert h.reason("D", qty=10) == 0                                  # released by the cancel
    assert h.reason("E", qty=10) == R.REASON_MAX_OPEN_ORDERS
    h.send(fill(b, 10))
    assert h.reason("E", qty=10) == 0                                  # ... by the fill
    h.send(venue_reject(c))
    r, f = h.new("F", qty=10)                                          # ... by the venue's reject
    assert r == 0
    h.send(fill(f, 1))                                                 # a partial fill keeps it live
    assert h.reason("G", qty=10) == R.REASON_MAX_OPEN_ORDERS


def test_max_position_counts_open_orders_on_the_side(h):
    h.send(set_risk(1, R.RISK_MAX_POSITION, 500))
    b1 = h.open_order("B1", qty=300)
    assert h.reason("B2", qty=201) == R.REASON_MAX_POSITION
    assert h.reason("B3", qty=200) == 0                                # 300 + 200 = 500: inclusive
    h.send(fill(b1, 300))                                              # position 300, 200 open
    assert h.reason("B4", qty=1) == R.REASON_MAX_POSITION
    # sells: open sells + this order - position (long 300): up to 800 short on the worst case
    assert h.reason("S1", side=SHORT, qty=801) == R.REASON_MAX_POSITION
    assert h.reason("S2", side=SHORT, qty=800) == 0
    assert h.reason("S3", side=SELL, qty=1) == R.REASON_SELL_EXCEEDS_POSITION
    assert h.reason("S4", side=SHORT, qty=1) == R.REASON_MAX_POSITION
    assert h.reason("S5", side=SHORT, qty=1, symbol_id=0, symbol="AAA", client_id=2) == 0  # per client
    h.send(add_symbol(3, "CCC"))
    assert h.reason("C1", symbol_id=3, qty=500) == 0                   # per symbol


def test_max_gross_counts_positions_at_cost_and_open_notional(h):
    h.send(set_risk(1, R.RISK_MAX_GROSS, 20_000 * PX))
    b1 = h.open_order("B1", qty=200)                                    # $10,000 open
    assert h.reason("B2", qty=201) == R.REASON_MAX_GROSS
    assert h.reason("B3", qty=200) == 0                                 # $20,000: inclusive
    h.send(fill(b1, 200, price=49 * PX))                                # at cost $9,800 + $10,000 open
    assert h.client(1)["gross"] == 9_800 * PX and h.client(1)["open_notional"] == 10_000 * PX
    assert h.reason("B4", qty=5) == R.REASON_MAX_GROSS
    assert h.reason("B5", qty=4) == 0                                   # $20,000 again
    assert h.reason("S1", side=SELL, qty=1) == R.REASON_MAX_GROSS       # sells count too
    h.send(md_trade(1, 10 * PX))                                        # marks do not matter: at cost
    assert h.reason("B6", qty=1) == R.REASON_MAX_GROSS


def test_exposure_checks_in_order(h):
    h.send(add_client(3, cash=100 * PX))
    h.send(set_risk(3, R.RISK_MAX_OPEN_ORDERS, 1), set_risk(3, R.RISK_MAX_POSITION, 10),
           set_risk(3, R.RISK_MAX_GROSS, 200 * PX), set_risk(3, R.RISK_ORDER_RATE, 1))
    assert h.reason("A", client_id=3, qty=1) == 0
    assert h.reason("B", client_id=3, qty=11) == R.REASON_ORDER_RATE
    h.at(10_000_000_000)
    assert h.reason("B", client_id=3, qty=11) == R.REASON_MAX_OPEN_ORDERS
    h.send(set_risk(3, R.RISK_MAX_OPEN_ORDERS, 0))
    assert h.reason("B", client_id=3, qty=11) == R.REASON_MAX_POSITION
    assert h.reason("B", client_id=3, qty=9) == R.REASON_MAX_GROSS      # 50 + 450 > 200
    assert h.reason("B", client_id=3, qty=3) == R.REASON_BUYING_POWER   # 50 + 150 <= 200, 150 > 100 - 50
    assert h.reason("B", client_id=3, qty=1) == 0


# ==================================================================== 8. buying power
def test_cash_account_buying_power_and_its_release(h):
    h.send(add_client(3, cash=10_000 * PX))
    b1 = h.open_order("B1", client_id=3, qty=100)                       # $5,000 reserved
    b2 = h.open_order("B2", client_id=3, qty=100)                       # $10,000: inclusive
    assert h.client(3)["reserved"] == 10_000 * PX
    assert summary(h, 3)["buying_power"] == 0
    assert h.reason("B3", client_id=3, qty=1) == R.REASON_BUYING_POWER
    assert h.reason("S1", client_id=3, side=SHORT, qty=1) == R.REASON_BUYING_POWER  # short sales need it
    h.send(fill(b1, 100, price=49 * PX))              # reservation released, cash paid: $100 better off
    assert h.client(3)["cash"] == 5_100 * PX and h.client(3)["reserved"] == 5_000 * PX
    r, b4 = h.new("B4", client_id=3, qty=2)                             # $100: inclusive
    assert r == 0 and summary(h, 3)["buying_power"] == 0
    assert h.reason("S2", client_id=3, side=SELL, qty=100) == 0          # a sale needs none
    h.send(ack(b2), cancelled(b2))                                      # released by the cancel
    assert h.client(3)["reserved"] == 100 * PX
    h.send(venue_reject(b4))                                            # ... by the venue's reject
    assert h.client(3)["reserved"] == 0
    assert h.reason("B5", client_id=3, qty=103, price=50 * PX) == R.REASON_BUYING_POWER
    assert h.reason("B6", client_id=3, qty=102, price=50 * PX) == 0     # $5,100 = cash


def test_partial_fill_releases_the_filled_part(h):
    h.send(add_client(3, cash=10_000 * PX))
    b1 = h.open_order("B1", client_id=3, qty=100)
    h.send(fill(b1, 40, price=50 * PX))
    c = h.client(3)
    assert c["reserved"] == 60 * 50 * PX and c["cash"] == 8_000 * PX
    assert h.order(b1)["reserved"] == 60 * 50 * PX


def test_margin_account_buying_power(h):
    h.send(add_client(3, cash=10_000 * PX), set_risk(3, R.RISK_MARGIN, 5000, 2500))
    assert summary(h, 3)["buying_power"] == 10_000 * PX
    b1 = h.open_order("B1", client_id=3, qty=400)                       # $20,000 needs $10,000
    assert h.client(3)["reserved"] == 10_000 * PX
    assert h.reason("B2", client_id=3, qty=1) == R.REASON_BUYING_POWER
    h.send(fill(b1, 400, price=50 * PX))
    # cash -10,000, 400 x 50 = 20,000: equity 10,000, initial requirement 10,000
    assert summary(h, 3) == dict(equity=10_000 * PX, gross=20_000 * PX, buying_power=0, unrealized=0)
    assert h.reason("B2", client_id=3, qty=1) == R.REASON_BUYING_POWER
    h.send(md_trade(1, 60 * PX))                      # equity 14,000, requirement 12,000
    assert summary(h, 3)["buying_power"] == 2_000 * PX
    assert h.reason("B3", client_id=3, qty=81) == R.REASON_BUYING_POWER
    r, b4 = h.new("B4", client_id=3, qty=80)                            # $4,000 needs $2,000: inclusive
    assert r == 0 and summary(h, 3)["buying_power"] == 0
    assert h.reason("S1", client_id=3, side=SHORT, qty=1) == R.REASON_BUYING_POWER
    assert h.reason("S2", client_id=3, side=SELL, qty=400) == 0         # a sale needs none
    h.send(ack(b4), cancelled(b4))
    assert summary(h, 3)["buying_power"] == 2_000 * PX
    h.send(set_risk(3, R.RISK_MARGIN, 0, 0))                            # back to a cash account
    assert summary(h, 3)["buying_power"] == -10_000 * PX
    assert h.reason("B5", client_id=3, qty=1) == R.REASON_BUYING_POWER


def test_reservation_is_released_as_taken_after_a_margin_change(h):
    h.send(add_client(3, cash=10_000 * PX), set_risk(3, R.RISK_MARGIN, 5000, 2500))
    b1 = h.open_order("B1", client_id=3, qty=100)
    assert h.client(3)["reserved"] == 2_500 * PX
    h.send(set_risk(3, R.RISK_MARGIN, 10_000, 2500))
    h.send(cancel("X1", order_id=b1, client_id=3), cancelled(b1))
    assert h.client(3)["reserved"] == 0


def test_buying_power_is_the_last_exposure_check(h):
    h.send(add_client(3, cash=1_000 * PX), set_risk(3, R.RISK_MAX_GROSS, 2_000 * PX))
    assert h.reason("B1", client_id=3, qty=41) == R.REASON_MAX_GROSS   # $2,050: both limits
    assert h.reason("B2", client_id=3, qty=21) == R.REASON_BUYING_POWER
    assert h.reason("B3", client_id=3, qty=20) == 0


# ==================================================================== 9. duplicates and capacity
def test_duplicate_clordid_is_checked_after_risk(h):
    assert h.reason("O1") == 0
    assert h.reason("O1", qty=5000) == R.REASON_MAX_QTY
    h.send(kill(R.KILL_CLIENT, 1))
    assert h.reason("O1") == R.REASON_KILL_CLIENT
    h.send(kill(R.KILL_CLIENT, 1, on=0))
    assert h.reason("O1") == R.REASON_DUPLICATE_CLORDID


def test_position_table_capacity():
    h = RiskHarness(Capacity(orders=16, clients=8, symbols=8, positions=2))
    h.send(add_symbol(3, "CCC"))
    assert h.reason("O1") == 0 and h.reason("O1", client_id=2) == 0    # two rows
    assert h.reason("O2", symbol_id=3) == R.REASON_CAPACITY
    assert h.reason("O3") == 0                                         # its row exists


# ==================================================================== 0 = not enforced
@pytest.mark.parametrize("scope, value, first, second", [
    (R.RISK_MAX_OPEN_ORDERS, 1, dict(qty=1), dict(qty=1)),
    (R.RISK_MAX_POSITION, 50, dict(qty=50), dict(qty=1)),
    (R.RISK_MAX_GROSS, 1_000 * PX, dict(qty=20), dict(qty=1)),
    (R.RISK_ORDER_RATE, 1, dict(qty=1), dict(qty=1)),
])
def test_zero_is_not_enforced(h, scope, value, first, second):
    reasons = {R.RISK_MAX_OPEN_ORDERS: R.REASON_MAX_OPEN_ORDERS, R.RISK_MAX_POSITION: R.REASON_MAX_POSITION,
               R.RISK_MAX_GROSS: R.REASON_MAX_GROSS, R.RISK_ORDER_RATE: R.REASON_ORDER_RATE}
    assert h.send(set_risk(1, scope, value)) == []
    assert h.reason("A", **first) == 0
    assert h.reason("B", **second) == reasons[scope]
    assert h.send(set_risk(1, scope, 0)) == []
    for i in range(3):
        assert h.reason(f"C{i}", **second) == 0


def test_zero_margin_is_a_cash_account_and_zero_collar_is_none(h):
    h.send(set_risk(1, R.RISK_MARGIN, 5000, 2500), set_risk(1, R.RISK_MARGIN, 0, 0))
    assert h.client(1)["im_bps"] == 0
    h.send(add_client(3, cash=1_000 * PX), set_risk(3, R.RISK_MARGIN, 0, 0))
    assert h.reason("B1", client_id=3, qty=21) == R.REASON_BUYING_POWER
    h.send(set_symbol(1, R.SYM_COLLAR, 1, PX), set_symbol(1, R.SYM_COLLAR, 0, 0))
    assert h.reason("B2", price=90 * PX, qty=1) == 0


@pytest.mark.parametrize("cmd", [
    set_risk(1, R.RISK_MAX_GROSS, -1),
    set_risk(1, 99, 5),
    set_risk(0, R.RISK_MAX_OPEN_ORDERS, 5),
    set_risk(3, R.RISK_MAX_OPEN_ORDERS, 5),          # inactive client
    set_risk(1, R.RISK_MARGIN, 10_001, 0),
    set_risk(1, R.RISK_MARGIN, 5000, 10_001),
    set_risk(1, R.RISK_MARGIN, 5000, -1),
    set_symbol(1, R.SYM_COLLAR, -1),
    set_symbol(1, R.SYM_COLLAR, 100, -1),
    set_symbol(1, R.SYM_RESTRICTED, 2),
    set_symbol(1, R.SYM_SHORTABLE, 2),
    set_symbol(1, R.SYM_REFERENCE_PRICE, 0),
    set_symbol(1, 99, 1),
    set_symbol(5, R.SYM_RESTRICTED, 1),              # inactive symbol
])
def test_bad_risk_admin_alerts_and_changes_nothing(h, cmd):
    clients, symbols = h.state.clients.copy(), h.state.symbols.copy()
    (al,) = h.send(cmd)
    assert al["type"] == R.ALERT and al["code"] == R.REASON_INVALID_ADMIN
    assert al["severity"] == R.SEVERITY_WARNING and al["a"] == cmd.view(R.Admin)["action"][0]
    assert h.state.clients.tobytes() == clients.tobytes()
    assert h.state.symbols.tobytes() == symbols.tobytes()


# ==================================================================== replace
@pytest.mark.parametrize("switch, reason", [
    (kill(R.KILL_GLOBAL), R.REASON_KILL_GLOBAL),
    (kill(R.KILL_NEW_ORDERS), R.REASON_KILL_NEW_ORDERS),
    (replication_down(), R.REASON_NOT_REPLICATED),
    (kill(R.KILL_CLIENT, 1), R.REASON_KILL_CLIENT),
    (kill(R.KILL_SYMBOL, 1), R.REASON_KILL_SYMBOL),
    (kill(R.KILL_VENUE, 1), R.REASON_KILL_VENUE),
    (kill(R.KILL_CLIENT, 2), 0),
    (kill(R.KILL_SYMBOL, 2), 0),
    (kill(R.KILL_VENUE, 2), 0),
])
def test_replace_under_kill_switches(h, switch, reason):
    oid = h.open_order("O1", qty=100)
    h.send(switch)
    # the switch comes before the fields, and even a size-down is refused while it is on
    assert h.request(replace("R2", order_id=oid, qty=50, price=0)) == (reason or R.REASON_INVALID_FIELD)
    assert h.request(replace("R1", order_id=oid, qty=50, price=50 * PX)) == reason


def test_replace_size_down_is_never_refused_for_exposure(h):
    h.send(add_client(3, cash=10_000 * PX))
    oid = h.open_order("O1", client_id=3, qty=200)                               # $10,000: all the cash
    assert summary(h, 3)["buying_power"] == 0
    # every exposure limit now below what the client already uses
    h.send(set_risk(3, R.RISK_MAX_POSITION, 1), set_risk(3, R.RISK_MAX_GROSS, PX),
           set_risk(3, R.RISK_MAX_OPEN_ORDERS, 1))
    assert h.request(replace("R1", order_id=oid, client_id=3, qty=201, price=50 * PX)) == R.REASON_MAX_POSITION
    assert h.request(replace("R2", order_id=oid, client_id=3, qty=150, price=50 * PX)) == 0
    h.send(ack(oid, ack_of=R.VENUE_ACTION_REPLACE))
    assert h.order(oid)["qty"] == 150 and h.client(3)["reserved"] == 150 * 50 * PX
    assert h.request(replace("R3", order_id=oid, client_id=3, qty=150, price=49 * PX)) == 0  # cheaper


def test_replace_uses_the_change_in_value(h):
    h.send(set_risk(1, R.RISK_MAX_GROSS, 10_000 * PX))
    oid = h.open_order("O1", qty=100)                                              # $5,000
    assert h.request(replace("R1", order_id=oid, qty=100, price=100 * PX + 1)) == R.REASON_MAX_GROSS
    assert h.request(replace("R2", order_id=oid, qty=100, price=100 * PX)) == 0   # + $5,000 = $10,000
    h.send(ack(oid, ack_of=R.VENUE_ACTION_REPLACE))
    assert h.client(1)["open_notional"] == 10_000 * PX
    assert h.request(replace("R3", order_id=oid, qty=101, price=99 * PX)) == 0    # $9,999
    h.send(ack(oid, ack_of=R.VENUE_ACTION_REPLACE))
    assert h.request(replace("R4", order_id=oid, qty=102, price=99 * PX)) == R.REASON_MAX_GROSS


def test_replace_of_a_sale_that_adds_value_is_checked(h):
    b = h.open_order("B1", qty=100)
    h.send(fill(b, 100))                                                 # long 100 at $50: $5,000
    h.send(set_risk(1, R.RISK_MAX_GROSS, 10_000 * PX))
    s = h.open_order("S1", side=SELL, qty=100)                               # + $5,000 open
    assert h.request(replace("R1", order_id=s, side=SELL, qty=100, price=50 * PX + 1)) == R.REASON_MAX_GROSS
    assert h.request(replace("R2", order_id=s, side=SELL, qty=90, price=50 * PX)) == 0


def test_replace_buying_power(h):
    h.send(add_client(3, cash=10_000 * PX))
    oid = h.open_order("O1", client_id=3, qty=100)                                 # $5,000 reserved
    assert h.request(replace("R1", order_id=oid, client_id=3, qty=201, price=50 * PX)) == R.REASON_BUYING_POWER
    assert h.request(replace("R2", order_id=oid, client_id=3, qty=200, price=50 * PX)) == 0
    # the pending replace holds the old quantity until the venue confirms it
    assert h.client(3)["reserved"] == 5_000 * PX
    h.send(ack(oid, ack_of=R.VENUE_ACTION_REPLACE))
    assert h.client(3)["reserved"] == 10_000 * PX
    assert h.request(replace("R3", order_id=oid, client_id=3, qty=200, price=50 * PX + 1)) == R.REASON_BUYING_POWER
    assert h.request(replace("R4", order_id=oid, client_id=3, qty=190, price=50 * PX)) == 0


def test_replace_of_a_partly_filled_order(h):
    h.send(set_risk(1, R.RISK_MAX_POSITION, 200))
    oid = h.open_order("O1", qty=150)
    h.send(fill(oid, 100))
    assert h.request(replace("R1", order_id=oid, qty=100, price=50 * PX)) == R.REASON_INVALID_FIELD  # = cum
    assert h.request(replace("R2", order_id=oid, qty=201, price=50 * PX)) == R.REASON_MAX_POSITION
    assert h.request(replace("R3", order_id=oid, qty=200, price=50 * PX)) == 0     # 100 + 100 open
    h.send(ack(oid, ack_of=R.VENUE_ACTION_REPLACE))
    assert h.order(oid)["leaves"] == 100 and h.pos()["open_buy"] == 100


def test_replace_sale_checks_like_a_new_order(h):
    b = h.open_order("B1", qty=100)
    h.send(fill(b, 100))
    s = h.open_order("S1", side=SELL, qty=60)
    assert h.request(replace("R1", order_id=s, qty=101, price=50 * PX)) == R.REASON_SELL_EXCEEDS_POSITION
    assert h.request(replace("R2", order_id=s, qty=5000, price=50 * PX)) == R.REASON_SELL_EXCEEDS_POSITION
    assert h.request(replace("R3", order_id=s, qty=100, price=50 * PX)) == 0
    h.send(ack(s, ack_of=R.VENUE_ACTION_REPLACE))
    # a short sale on a symbol that became hard to borrow: may shrink, not grow
    t = h.open_order("T1", side=SHORT, qty=50)
    h.send(set_symbol(1, R.SYM_SHORTABLE, 0))
    assert h.request(replace("R4", order_id=t, qty=51, price=50 * PX)) == R.REASON_NOT_SHORTABLE
    assert h.request(replace("R5", order_id=t, qty=5000, price=50 * PX)) == R.REASON_NOT_SHORTABLE
    assert h.request(replace("R6", order_id=t, qty=40, price=50 * PX)) == 0


def test_replace_order_size_collar_and_restricted(h):
    oid = h.open_order("O1", qty=100)
    assert h.request(replace("R1", order_id=oid, qty=1001, price=50 * PX)) == R.REASON_MAX_QTY
    assert h.request(replace("R2", order_id=oid, qty=1000, price=100 * PX + 1)) == R.REASON_MAX_NOTIONAL
    h.send(set_symbol(1, R.SYM_COLLAR, 1000))
    assert h.request(replace("R3", order_id=oid, qty=100, price=56 * PX)) == R.REASON_PRICE_COLLAR
    h.send(set_symbol(1, R.SYM_RESTRICTED, 1))
    assert h.request(replace("R4", order_id=oid, qty=200, price=50 * PX)) == R.REASON_RESTRICTED
    assert h.request(replace("R5", order_id=oid, qty=5000, price=56 * PX)) == R.REASON_RESTRICTED
    assert h.request(replace("R6", order_id=oid, qty=60, price=50 * PX)) == 0  # reducing risk is allowed


def test_replace_of_a_market_order_is_valued_at_the_mark(h):
    oid = h.open_order("O1", ord_type=MKT, price=0, qty=600)                       # $30,000 at the reference
    h.send(md_trade(1, 150 * PX))
    assert h.request(replace("R1", order_id=oid, qty=700, price=0)) == R.REASON_MAX_NOTIONAL  # $105,000
    assert h.request(replace("R2", order_id=oid, qty=650, price=0)) == 0                      # $97,500
    h.send(ack(oid, ack_of=R.VENUE_ACTION_REPLACE))
    o = h.order(oid)
    assert o["price"] == 0 and o["value_px"] == 150 * PX and h.client(1)["reserved"] == 650 * 150 * PX


def test_a_routed_order_avoids_killed_venues(h):
    from seq_testkit import new_order
    h.send(add_venue(1), add_venue(2), kill(R.KILL_VENUE, 1))
    # not refused for the killed default venue (that is a direct order's check) ...
    (er,) = h.send(new_order("P1", qty=10, version=2, strategy=R.STRATEGY_BEST_PRICE))
    assert er["exec_type"] == R.EXEC_REJECTED and er["reason"] == R.REASON_NO_VENUE  # ... but none is left
    h.quote(1, 0, 50 * PX, venue_id=2)
    er, vo = h.send(new_order("P2", qty=10, version=2, strategy=R.STRATEGY_BEST_PRICE))
    assert er["exec_type"] == R.EXEC_PENDING_NEW and vo["venue_id"] == 2
