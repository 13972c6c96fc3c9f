"""Unit tests of each order state transition, pre-trade reject and venue anomaly."""

import numpy as np
import pytest

from sequencer import records as R
from sequencer.kernel_base import _avg_px
from sequencer.state import Capacity, S_EXEC_ID, S_INPUTS, S_LAST_TS

from seq_testkit import (
    CLIENT_CASH, PX, Harness, ack, add_client, add_symbol, admin, cancel, cancelled, fill,
    market_data, new_order, replace, text, venue_reject, _one,
)

A, OPEN, PART, FILLED = R.STATUS_PENDING_NEW, R.STATUS_NEW, R.STATUS_PARTIAL, R.STATUS_FILLED
CANCELED, REJECTED = R.STATUS_CANCELED, R.STATUS_REJECTED
PCXL, PREP = R.STATUS_PENDING_CANCEL, R.STATUS_PENDING_REPLACE


@pytest.fixture
def h():
    return Harness()


def er_fields(e):
    return (chr(e["exec_type"]), chr(e["ord_status"]), int(e["leaves_qty"]), int(e["cum_qty"]), int(e["avg_px"]))


# ------------------------------------------------------------------ new order
def test_new_order_accepted(h):
    cmd = new_order("O1", qty=100, price=49 * PX, source_id=7, source_seq=42)
    er, vo = h.send(cmd)
    assert er["type"] == R.EXEC_REPORT and er["version"] == 2
    assert (er["seq"], er["ts"], er["source_id"], er["source_seq"]) == (5, 5_000_000, 7, 42)
    assert er["order_id"] == 1 and er["exec_id"] == 1
    assert er_fields(er) == ("A", "A", 100, 0, 0)
    assert (er["price"], er["qty"], er["side"], er["ord_type"], er["venue_id"]) == (49 * PX, 100, 1, 2, 1)
    assert text(er["cl_ord_id"]) == "O1" and text(er["symbol"]) == "AAA"
    assert vo["type"] == R.VENUE_ORDER and vo["action"] == R.VENUE_ACTION_NEW
    assert (vo["order_id"], vo["client_id"], vo["symbol_id"], vo["price"], vo["qty"], vo["venue_id"]) == (1, 1, 1, 49 * PX, 100, 1)
    assert (vo["seq"], vo["source_id"], vo["source_seq"]) == (5, 7, 42)
    o = h.order(1)
    assert (o["status"], o["leaves"], o["cum"], o["qty"]) == (A, 100, 0, 100)


def test_order_ids_and_exec_ids_are_counters(h):
    ev = h.send(new_order("O1"), new_order("O2"), new_order("O3"))
    ers = [e for e in ev if e["type"] == R.EXEC_REPORT]
    assert [int(e["order_id"]) for e in ers] == [1, 2, 3]
    assert [int(e["exec_id"]) for e in ers] == [1, 2, 3]


def test_symbol_by_name_and_explicit_venue(h):
    er, vo = h.send(new_order("O1", symbol_id=0, symbol="AAA", venue_id=9))
    assert er["exec_type"] == R.EXEC_PENDING_NEW and er["symbol_id"] == 1
    assert vo["venue_id"] == 9 and text(vo["symbol"]) == "AAA"


def test_market_order_stored_at_price_zero_and_valued_at_reference(h):
    er, vo = h.send(new_order("O1", ord_type=R.ORD_MARKET, price=77 * PX, qty=100))
    assert er["exec_type"] == R.EXEC_PENDING_NEW and er["price"] == 0 and vo["price"] == 0
    er, _ = h.send(new_order("O2", ord_type=R.ORD_MARKET, qty=1000, price=0))
    assert er["exec_type"] == R.EXEC_PENDING_NEW  # 1000 x $50 reference = $50k fits
    h.send(market_data(1, 150 * PX))  # reference now $150: 1000 x $150 = $150k
    (er,) = h.send(new_order("O3", ord_type=R.ORD_MARKET, qty=1000, price=0))
    assert er["reason"] == R.REASON_MAX_NOTIONAL


@pytest.mark.parametrize("kw, reason", [
    (dict(client_id=0), R.REASON_UNKNOWN_CLIENT),
    (dict(client_id=3), R.REASON_UNKNOWN_CLIENT),          # inactive
    (dict(client_id=1000), R.REASON_UNKNOWN_CLIENT),       # beyond capacity
    (dict(client_id=0, side=9), R.REASON_UNKNOWN_CLIENT),  # checks run in order
    (dict(symbol_id=5), R.REASON_UNKNOWN_SYMBOL),
    (dict(symbol_id=100_000), R.REASON_UNKNOWN_SYMBOL),
    (dict(symbol_id=0, symbol="ZZZ"), R.REASON_UNKNOWN_SYMBOL),
    (dict(symbol_id=0), R.REASON_UNKNOWN_SYMBOL),          # no name either
    (dict(symbol_id=5, qty=0), R.REASON_UNKNOWN_SYMBOL),
    (dict(side=3), R.REASON_INVALID_FIELD),
    (dict(side=0), R.REASON_INVALID_FIELD),
    (dict(ord_type=3), R.REASON_INVALID_FIELD),
    (dict(tif=9), R.REASON_INVALID_FIELD),
    (dict(qty=0), R.REASON_INVALID_FIELD),
    (dict(qty=-5), R.REASON_INVALID_FIELD),
    (dict(price=0), R.REASON_INVALID_FIELD),
    (dict(price=-PX), R.REASON_INVALID_FIELD),
    (dict(cl_ord_id=""), R.REASON_INVALID_FIELD),
    (dict(symbol_id=2), R.REASON_INVALID_FIELD),            # BBB has no default venue
    (dict(qty=1001), R.REASON_MAX_QTY),
    (dict(qty=1001, price=10**15), R.REASON_MAX_QTY),
    (dict(qty=1000, price=100 * PX + 1), R.REASON_MAX_NOTIONAL),
    (dict(qty=1000, price=2**62), R.REASON_MAX_NOTIONAL),  # qty*price would overflow int64
    (dict(symbol_id=2, venue_id=1, ord_type=R.ORD_MARKET), R.REASON_NO_REFERENCE_PRICE),
])
def test_new_order_rejects(h, kw, reason):
    args = dict(cl_ord_id="O1")
    args.update(kw)
    ev = h.send(new_order(**args))
    assert len(ev) == 1, "a reject sends nothing to the venue"
    (er,) = ev
    assert er_fields(er) == ("8", "8", 0, 0, 0)
    assert er["reason"] == reason and er["order_id"] == 0
    assert h.state.scalars[0] == 0, "no order row"


def test_notional_limit_is_inclusive(h):
    (er, _) = h.send(new_order("O1", qty=1000, price=100 * PX))  # exactly $100k
    assert er["exec_type"] == R.EXEC_PENDING_NEW


def test_duplicate_clordid_per_client(h):
    h.send(new_order("O1"))
    (er,) = h.send(new_order("O1"))
    assert er["reason"] == R.REASON_DUPLICATE_CLORDID
    er, _ = h.send(new_order("O1", client_id=2))  # another client may use the same id
    assert er["exec_type"] == R.EXEC_PENDING_NEW
    # a rejected order's ClOrdID is not taken
    h.send(new_order("O9", qty=0))
    er, _ = h.send(new_order("O9"))
    assert er["exec_type"] == R.EXEC_PENDING_NEW


def test_capacity_orders():
    h = Harness(Capacity(orders=2, clients=8, symbols=8))
    h.send(new_order("O1"), new_order("O2"))
    (er,) = h.send(new_order("O3"))
    assert er["reason"] == R.REASON_CAPACITY


def test_capacity_clord_table():
    # 8 slots take 6 entries (3/4): four orders and two cancel requests fill it.
    h = Harness(Capacity(orders=8, clients=8, symbols=8, clord_slots=8))
    for i in range(4):
        h.open_order(f"O{i}")
    for i in range(2):
        ev = h.send(cancel(f"X{i}", order_id=i + 1))
        assert ev[0]["exec_type"] == R.EXEC_PENDING_CANCEL
    (er,) = h.send(new_order("O9"))
    assert er["reason"] == R.REASON_CAPACITY
    (cr,) = h.send(cancel("X9", order_id=3))
    assert cr["reason"] == R.REASON_CAPACITY
    (cr,) = h.send(replace("R9", order_id=4))
    assert cr["reason"] == R.REASON_CAPACITY


# ------------------------------------------------------------------ acks and fills
def test_venue_ack(h):
    h.send(new_order("O1"))
    (er,) = h.send(ack(1, venue_order_id=555))
    assert er_fields(er) == ("0", "0", 100, 0, 0)
    assert h.order(1)["venue_order_id"] == 555


def test_partial_then_full_fill(h):
    oid = h.open_order("O1", qty=100, price=50 * PX)
    er, tr = h.send(fill(oid, 30, price=49 * PX, fee=7, venue_exec_id=900, liquidity=R.LIQUIDITY_ADDED))
    assert er_fields(er) == ("F", "1", 70, 30, 49 * PX)
    assert (er["last_px"], er["last_qty"]) == (49 * PX, 30)
    assert tr["type"] == R.TRADE and tr["exec_id"] == er["exec_id"]
    assert (tr["order_id"], tr["venue_exec_id"], tr["client_id"], tr["symbol_id"]) == (1, 900, 1, 1)
    assert (tr["price"], tr["qty"], tr["fee"], tr["side"], tr["liquidity"]) == (49 * PX, 30, 7, 1, 1)
    er, tr = h.send(fill(oid, 70, price=50 * PX, fee=3))
    avg = (30 * 49 * PX + 70 * 50 * PX) // 100
    assert er_fields(er) == ("F", "2", 0, 100, avg)
    assert h.state.position(1, 1) == 100
    c = h.state.clients[1]
    assert c["cash"] == CLIENT_CASH - (30 * 49 * PX + 70 * 50 * PX) - 10
    assert c["fees"] == 10


def test_sell_fill_moves_position_down_and_cash_up(h):
    oid = h.open_order("S1", side=R.SIDE_SELL_SHORT, qty=10)
    h.send(fill(oid, 10, price=20 * PX, fee=-5))  # rebate
    assert h.state.position(1, 1) == -10
    assert h.state.clients[1]["cash"] == CLIENT_CASH + 200 * PX + 5


def test_fill_before_ack_is_taken_and_late_ack_alerts(h):
    h.send(new_order("O1"))
    er, _ = h.send(fill(1, 10))
    assert er_fields(er) == ("F", "1", 90, 10, 50 * PX)
    (al,) = h.send(ack(1))
    assert al["type"] == R.ALERT and al["code"] == R.REASON_UNEXPECTED_VENUE_MSG


def test_avg_px_rounds_half_up():
    assert _avg_px(32, 3) == 11   # 10.67
    assert _avg_px(31, 3) == 10   # 10.33
    assert _avg_px(21, 2) == 11   # 10.5
    assert _avg_px(5, 0) == 0


# ------------------------------------------------------------------ cancel
def test_cancel_by_order_id_then_cancelled(h):
    oid = h.open_order("O1")
    er, vc = h.send(cancel("X1", order_id=oid))
    assert er_fields(er) == ("6", "6", 100, 0, 0)
    assert (text(er["cl_ord_id"]), text(er["orig_cl_ord_id"])) == ("X1", "O1")
    assert vc["type"] == R.VENUE_CANCEL and (vc["order_id"], vc["client_id"], vc["venue_id"]) == (1, 1, 1)
    (er,) = h.send(cancelled(oid))
    assert er_fields(er) == ("4", "4", 0, 0, 0)
    assert (text(er["cl_ord_id"]), text(er["orig_cl_ord_id"])) == ("X1", "O1")
    assert h.order(oid)["status"] == CANCELED


def test_cancel_by_orig_clordid_after_partial(h):
    oid = h.open_order("O1")
    h.send(fill(oid, 40))
    er, _ = h.send(cancel("X1", orig_cl_ord_id="O1"))
    assert er["order_id"] == oid and er_fields(er)[:2] == ("6", "6")
    (er,) = h.send(cancelled(oid))
    assert er_fields(er) == ("4", "4", 0, 40, 50 * PX)


def test_unsolicited_venue_cancel(h):
    oid = h.open_order("O1")
    (er,) = h.send(cancelled(oid))
    assert er_fields(er) == ("4", "4", 0, 0, 0) and text(er["cl_ord_id"]) == "O1"


@pytest.mark.parametrize("cmd_kw, reason, order_id, status", [
    (dict(order_id=99), R.REASON_UNKNOWN_ORDER, 0, 0),
    (dict(orig_cl_ord_id="NOPE"), R.REASON_UNKNOWN_ORDER, 0, 0),
    (dict(), R.REASON_UNKNOWN_ORDER, 0, 0),                      # neither id nor OrigClOrdID
    (dict(order_id=1, client_id=2), R.REASON_NOT_OWNER, 0, 0),  # nothing about the order leaks
    (dict(orig_cl_ord_id="O1", client_id=2), R.REASON_UNKNOWN_ORDER, 0, 0),
    (dict(order_id=1, cl_ord_id="O1"), R.REASON_DUPLICATE_CLORDID, 1, OPEN),
    (dict(order_id=1, cl_ord_id=""), R.REASON_INVALID_FIELD, 1, OPEN),
])
def test_cancel_rejects(h, cmd_kw, reason, order_id, status):
    h.open_order("O1")
    args = dict(cl_ord_id="X1")
    args.update(cmd_kw)
    (cr,) = h.send(cancel(**args))
    assert cr["type"] == R.CANCEL_REJECT
    assert (cr["reason"], cr["order_id"], cr["ord_status"], cr["response_to"]) == (reason, order_id, status, ord("1"))
    assert text(cr["cl_ord_id"]) == args["cl_ord_id"]
    assert h.order(1)["status"] == OPEN


def test_cancel_reject_names_orders_clordid_when_cancelled_by_id(h):
    h.open_order("O1")
    (cr,) = h.send(cancel("O1", order_id=1))  # duplicate ClOrdID
    assert text(cr["orig_cl_ord_id"]) == "O1"


def test_cancel_too_late_and_pending(h):
    oid = h.open_order("O1")
    h.send(fill(oid, 100))
    (cr,) = h.send(cancel("X1", order_id=oid))
    assert (cr["reason"], cr["ord_status"]) == (R.REASON_TOO_LATE, FILLED)
    h.send(new_order("O2"))
    (cr,) = h.send(cancel("X2", order_id=2))
    assert (cr["reason"], cr["ord_status"]) == (R.REASON_PENDING, A), "not acked yet"
    h.send(ack(2))
    h.send(cancel("X3", order_id=2))
    (cr,) = h.send(cancel("X4", order_id=2))
    assert (cr["reason"], cr["ord_status"]) == (R.REASON_PENDING, PCXL)
    (cr,) = h.send(replace("R4", order_id=2))
    assert (cr["reason"], cr["response_to"]) == (R.REASON_PENDING, ord("2"))


def test_cancel_clordid_is_registered(h):
    h.open_order("O1")
    h.send(cancel("X1", order_id=1))
    (er,) = h.send(new_order("X1"))
    assert er["reason"] == R.REASON_DUPLICATE_CLORDID


def test_fill_while_pending_cancel(h):
    oid = h.open_order("O1")
    h.send(cancel("X1", order_id=oid))
    er, _ = h.send(fill(oid, 30))
    assert er_fields(er) == ("F", "6", 70, 30, 50 * PX)
    assert h.order(oid)["prev_status"] == PART
    (cr,) = h.send(venue_reject(oid, R.VENUE_ACTION_CANCEL))
    assert (cr["reason"], cr["ord_status"], cr["response_to"]) == (R.REASON_VENUE_REJECT, PART, ord("1"))
    assert (text(cr["cl_ord_id"]), text(cr["orig_cl_ord_id"])) == ("X1", "O1")
    assert h.order(oid)["status"] == PART


def test_fill_completing_order_while_pending_cancel(h):
    oid = h.open_order("O1")
    h.send(cancel("X1", order_id=oid))
    er, _ = h.send(fill(oid, 100))
    assert er_fields(er) == ("F", "2", 0, 100, 50 * PX)
    (cr,) = h.send(venue_reject(oid, R.VENUE_ACTION_CANCEL))
    assert (cr["reason"], cr["ord_status"]) == (R.REASON_TOO_LATE, FILLED)
    (al,) = h.send(cancelled(oid))
    assert al["type"] == R.ALERT and al["code"] == R.REASON_TOO_LATE


# ------------------------------------------------------------------ replace
def test_replace_accept_then_ack(h):
    oid = h.open_order("O1", qty=100, price=50 * PX)
    h.send(fill(oid, 20))
    er, vo = h.send(replace("R1", orig_cl_ord_id="O1", price=51 * PX, qty=300))
    assert er_fields(er) == ("E", "E", 80, 20, 50 * PX)
    assert (text(er["cl_ord_id"]), text(er["orig_cl_ord_id"])) == ("R1", "O1")
    assert (er["price"], er["qty"]) == (50 * PX, 100), "unchanged until the venue acks"
    assert (vo["action"], vo["price"], vo["qty"], vo["order_id"]) == (R.VENUE_ACTION_REPLACE, 51 * PX, 300, oid)
    (er,) = h.send(ack(oid, R.VENUE_ACTION_REPLACE, price=51 * PX, qty=300))
    assert er_fields(er) == ("5", "1", 280, 20, 50 * PX)
    assert (er["price"], er["qty"]) == (51 * PX, 300)
    assert (text(er["cl_ord_id"]), text(er["orig_cl_ord_id"])) == ("R1", "O1")
    # both ClOrdIDs still name the order
    er, _ = h.send(cancel("X1", orig_cl_ord_id="R1"))
    assert er["order_id"] == oid
    h.send(venue_reject(oid, R.VENUE_ACTION_CANCEL))
    er, _ = h.send(cancel("X2", orig_cl_ord_id="O1"))
    assert er["order_id"] == oid


def test_replace_new_clordid_registered_at_once(h):
    oid = h.open_order("O1")
    h.send(replace("R1", order_id=oid))
    (er,) = h.send(new_order("R1"))
    assert er["reason"] == R.REASON_DUPLICATE_CLORDID


def test_replace_venue_reject_restores_status(h):
    oid = h.open_order("O1")
    h.send(replace("R1", order_id=oid))
    (cr,) = h.send(venue_reject(oid, R.VENUE_ACTION_REPLACE))
    assert (cr["reason"], cr["ord_status"], cr["response_to"]) == (R.REASON_VENUE_REJECT, OPEN, ord("2"))
    o = h.order(oid)
    assert (o["status"], o["pending"], o["price"], o["qty"]) == (OPEN, 0, 50 * PX, 100)
    assert text(o["cl_ord_id"]) == "O1"


def test_replace_ack_after_fills_beyond_new_qty(h):
    oid = h.open_order("O1", qty=100)
    h.send(replace("R1", order_id=oid, qty=50, price=50 * PX))
    h.send(fill(oid, 80))
    (er,) = h.send(ack(oid, R.VENUE_ACTION_REPLACE))
    assert er_fields(er) == ("5", "2", 0, 80, 50 * PX)
    assert er["qty"] == 80, "never below what is filled"


@pytest.mark.parametrize("kw, reason", [
    (dict(qty=0), R.REASON_INVALID_FIELD),
    (dict(qty=40), R.REASON_INVALID_FIELD),   # not above cum (40)
    (dict(price=0), R.REASON_INVALID_FIELD),
    (dict(qty=1001), R.REASON_MAX_QTY),
    (dict(qty=1000, price=101 * PX), R.REASON_MAX_NOTIONAL),
    (dict(cl_ord_id="O1"), R.REASON_DUPLICATE_CLORDID),
    (dict(order_id=99), R.REASON_UNKNOWN_ORDER),
    (dict(client_id=2), R.REASON_NOT_OWNER),
])
def test_replace_rejects(h, kw, reason):
    oid = h.open_order("O1")
    h.send(fill(oid, 40))
    args = dict(cl_ord_id="R1", order_id=oid)
    args.update(kw)
    (cr,) = h.send(replace(**args))
    assert cr["type"] == R.CANCEL_REJECT
    assert (cr["reason"], cr["response_to"]) == (reason, ord("2"))
    o = h.order(oid)
    assert (o["status"], o["qty"], o["pending"]) == (PART, 100, 0)


def test_replace_of_filled_order_too_late(h):
    oid = h.open_order("O1")
    h.send(fill(oid, 100))
    (cr,) = h.send(replace("R1", order_id=oid))
    assert cr["reason"] == R.REASON_TOO_LATE


# ------------------------------------------------------------------ venue reject
def test_venue_reject_new(h):
    h.send(new_order("O1"))
    (er,) = h.send(venue_reject(1, R.VENUE_ACTION_NEW))
    assert er_fields(er) == ("8", "8", 0, 0, 0) and er["reason"] == R.REASON_VENUE_REJECT
    (cr,) = h.send(cancel("X1", order_id=1))
    assert cr["reason"] == R.REASON_TOO_LATE


# ------------------------------------------------------------------ anomalies: alert, no state change
@pytest.mark.parametrize("make, code", [
    (lambda: fill(99, 10), R.REASON_UNKNOWN_ORDER),
    (lambda: fill(0, 10), R.REASON_UNKNOWN_ORDER),
    (lambda: fill(2**64 - 1, 10), R.REASON_UNKNOWN_ORDER),
    (lambda: fill(1, 101), R.REASON_OVERFILL),
    (lambda: fill(1, 0), R.REASON_INVALID_FIELD),
    (lambda: fill(1, 10, price=0), R.REASON_INVALID_FIELD),
    (lambda: fill(1, 100, price=2**62), R.REASON_OVERFLOW),
    (lambda: fill(1, 1, fee=2**63 - 1), R.REASON_OVERFLOW),
    (lambda: ack(1), R.REASON_UNEXPECTED_VENUE_MSG),
    (lambda: ack(1, R.VENUE_ACTION_REPLACE), R.REASON_UNEXPECTED_VENUE_MSG),
    (lambda: ack(1, R.VENUE_ACTION_CANCEL), R.REASON_UNEXPECTED_VENUE_MSG),
    (lambda: ack(42), R.REASON_UNKNOWN_ORDER),
    (lambda: venue_reject(1, R.VENUE_ACTION_NEW), R.REASON_UNEXPECTED_VENUE_MSG),
    (lambda: venue_reject(1, R.VENUE_ACTION_CANCEL), R.REASON_UNEXPECTED_VENUE_MSG),
    (lambda: cancelled(42), R.REASON_UNKNOWN_ORDER),
    (lambda: _one(R.Timer, 99), R.REASON_UNKNOWN_RECORD),
])
def test_anomalies_alert_without_state_change(h, make, code):
    h.open_order("O1")
    before = {n: a.copy() for n, a in h.state.arrays().items()}
    (al,) = h.send(make())
    assert al["type"] == R.ALERT and al["code"] == code
    for name, arr in h.state.arrays().items():
        if name != "scalars":  # only the clock and counters move
            assert (arr == before[name]).all(), name
    assert h.state.scalars[S_EXEC_ID] == before["scalars"][S_EXEC_ID]


def test_fill_on_finished_order_alerts(h):
    oid = h.open_order("O1")
    h.send(cancelled(oid))
    (al,) = h.send(fill(oid, 10))
    assert (al["code"], al["a"], al["b"]) == (R.REASON_TOO_LATE, oid, 10)


# ------------------------------------------------------------------ market data, admin, clock
def test_market_data_updates_reference_only_on_trades(h):
    assert h.send(market_data(1, 60 * PX, "A")) == []
    assert h.state.symbols[1]["ref_price"] == 50 * PX
    assert h.send(market_data(1, 61 * PX, "P")) == []
    assert h.state.symbols[1]["ref_price"] == 61 * PX
    assert h.send(market_data(7, 61 * PX, "P"), market_data(100_000, 1, "P"), market_data(1, -1, "C")) == []
    assert h.state.symbols[1]["ref_price"] == 61 * PX


def test_admin_set_limits(h):
    assert h.send(admin(R.ADMIN_SET_LIMITS, 1, 10, 1_000 * PX)) == []
    (er,) = h.send(new_order("O1", qty=11))
    assert er["reason"] == R.REASON_MAX_QTY


@pytest.mark.parametrize("cmd", [
    add_client(1),                                   # already there
    add_client(0), add_client(8),                    # outside 1..capacity-1
    admin(R.ADMIN_ADD_CLIENT, 3, -1, 0),
    add_symbol(1, "CCC"),                            # id taken
    add_symbol(3, "AAA"),                            # name taken
    add_symbol(3, ""),
    add_symbol(3, "LONGNAME9"),                      # wider than a symbol field
    add_symbol(3, "CCC", ref=-1),
    add_symbol(3, "CCC", venue=70_000),
    admin(R.ADMIN_SET_LIMITS, 3, 1, 1),              # unknown client
    admin(R.ADMIN_SET_LIMITS, 1, -1, 1),
    admin(99, 1),
])
def test_bad_admin_alerts(h, cmd):
    before = (h.state.clients.copy(), h.state.symbols.copy(), h.state.symbol_table.copy())
    (al,) = h.send(cmd)
    assert al["type"] == R.ALERT and al["code"] == R.REASON_INVALID_ADMIN
    after = (h.state.clients, h.state.symbols, h.state.symbol_table)
    assert all((a == b).all() for a, b in zip(before, after))


def test_new_symbol_resolves_by_name(h):
    assert h.send(add_symbol(3, "CCC", ref=10 * PX)) == []
    er, _ = h.send(new_order("O1", symbol_id=0, symbol="CCC", price=10 * PX))
    assert er["symbol_id"] == 3


def test_timer_and_session_only_move_the_clock(h):
    digest_fields = h.state.orders.copy(), h.state.clients.copy()
    n = h.state.scalars[S_INPUTS]
    assert h.send(_one(R.Timer, R.TIMER, timer_id=1), _one(R.SessionEvent, R.SESSION_EVENT)) == []
    assert h.state.scalars[S_INPUTS] == n + 2
    assert h.state.scalars[S_LAST_TS] == h.seq * 1_000_000
    assert (h.state.orders == digest_fields[0]).all() and (h.state.clients == digest_fields[1]).all()


def test_event_slots_are_zeroed_before_writing(h):
    # A reused scratch buffer must not leak bytes of earlier, longer events.
    h.open_order("O1")
    h.send(fill(1, 10))
    raw = h.send_raw(_one(R.Timer, 99))
    al = raw.view(R.Alert)[0]
    assert not np.asarray(al["text"]).any()
    tail_start = R.Alert.fields["text"][1] + R.TEXT_LEN
    assert not np.frombuffer(bytes(raw[0]), np.uint8)[tail_start:].any()


def test_kernel_stops_before_an_input_that_may_not_fit_the_event_buffer():
    from sequencer import kernels as K
    from sequencer.state import State
    st = State.create(Capacity(orders=4, clients=2, symbols=2))
    raw = R.new_commands(3)
    raw.view(R.COMMAND_HEADER)["type"] = R.NEW_ORDER  # client 0: one reject each
    room = K.MAX_EVENTS_PER_INPUT + 1  # after two rejects, a third input's worst case no longer fits
    assert K.process_batch(st.kernel_args(), K.command_views(raw), K.event_views(R.new_events(room)), 0, 3, 0) == (2, 2)
    assert st.inputs_processed == 2
