"""Smart order router: venue choice (BEST_PRICE / SWEEP / COST), child orders, and how
their venue answers roll up to the client's parent order (sequencer/router.py,
sequencer/orders.py)."""

import pytest

from sequencer import records as R
from sequencer.router import MISS_BPS
from sequencer.state import FILL_RATIO_ONE, KIND_CHILD, KIND_PARENT, S_CHILDREN, S_ORDERS

from parent_testkit import (
    BUY, CENT, FEE, SHORT, Desk, ack, add_venue, ask, bid, by_type, cancelled, child_ids, fill, kill, names,
    parent, venue_reject,
)
from seq_testkit import PX, admin, cancel, new_order, replace, text

BEST, SWEEP, COST = R.STRATEGY_BEST_PRICE, R.STRATEGY_SWEEP, R.STRATEGY_COST
PNEW, NEW, PART, FILLED = R.STATUS_PENDING_NEW, R.STATUS_NEW, R.STATUS_PARTIAL, R.STATUS_FILLED
CANCELED, REJECTED, PCXL = R.STATUS_CANCELED, R.STATUS_REJECTED, R.STATUS_PENDING_CANCEL

# Three venues trading AAA (symbol 1, default venue 1). Fees per share in $0.0001.
#   V1: take 30, make -20 (the best rebate: the posting venue)   ask 50.01 x 200   bid 49.99 x 100
#   V2: take 25, make -10                                         ask 50.00 x 100, 50.02 x 300   bid 49.98 x 500
#   V3: take 30, make 0                                           ask 50.00 x 150   bid 49.99 x 300
VENUES = (add_venue(1, 30, -20), add_venue(2, 25, -10), add_venue(3, 30, 0))
BOOKS = (ask(1, 11, 50 * PX + CENT, 200), bid(1, 12, 50 * PX - CENT, 100),
         ask(2, 21, 50 * PX, 100), ask(2, 22, 50 * PX + 2 * CENT, 300), bid(2, 23, 50 * PX - 2 * CENT, 500),
         ask(3, 31, 50 * PX, 150), bid(3, 32, 50 * PX - CENT, 300))


@pytest.fixture
def d():
    desk = Desk(venues=VENUES)
    assert desk.send(*BOOKS) == []
    return desk


def children(events):
    """(venue, qty, price) of each VenueOrder, in order."""
    return [(int(v["venue_id"]), int(v["qty"]), int(v["price"])) for v in by_type(events, R.VENUE_ORDER)]


def report(e):
    return (chr(e["exec_type"]), chr(e["ord_status"]), int(e["leaves_qty"]), int(e["cum_qty"]),
            int(e["working_qty"]))


def sweep_500(d):
    """SWEEP buy 500 @ 50.01: V2 100 and V3 150 (50.00), V1 200 (50.01) + the 50 left
    (V1 is the posting venue). Children 2 (V2), 3 (V3), 4 (V1)."""
    ev = d.send(parent("C1", SWEEP, qty=500, price=50 * PX + CENT))
    assert children(ev) == [(2, 100, 50 * PX + CENT), (3, 150, 50 * PX + CENT), (1, 250, 50 * PX + CENT)]
    return ev


# ------------------------------------------------------------------ venue choice
def test_best_price_sends_the_whole_order_to_the_best_venue(d):
    ev = d.send(parent("C1", BEST, qty=300, price=50 * PX + 5 * CENT))
    assert names(ev) == ["ExecReport", "VenueOrder"]
    er, vo = ev
    # the client's parent: pending until a venue acknowledges, all of it working
    assert report(er) == ("A", "A", 300, 0, 300)
    assert (er["order_id"], er["strategy"], er["venue_id"], er["qty"], er["price"]) == (1, BEST, 0, 300, 50 * PX + 5 * CENT)
    assert text(er["cl_ord_id"]) == "C1" and er["version"] == 2
    # V2 and V3 both offer 50.00: V2's lower take fee wins; the child carries the parent's limit
    assert vo["action"] == R.VENUE_ACTION_NEW and vo["order_id"] == 2
    assert (vo["venue_id"], vo["qty"], vo["price"], vo["side"], vo["ord_type"], vo["tif"]) == (
        2, 300, 50 * PX + 5 * CENT, BUY, R.ORD_LIMIT, R.TIF_DAY)
    assert (vo["client_id"], vo["symbol_id"], text(vo["symbol"])) == (1, 1, "AAA")
    p, c = d.order(1), d.order(2)
    assert (p["kind"], p["strategy"], p["children"], p["first_child"], p["working"]) == (KIND_PARENT, BEST, 1, 2, 300)
    assert (c["kind"], c["parent"], c["venue_id"], c["status"], c["qty"], c["leaves"]) == (KIND_CHILD, 1, 2, PNEW, 300, 300)
    assert text(c["cl_ord_id"]) == "", "children carry no ClOrdID of their own"
    assert d.state.venues["children"][2] == 1 and d.state.scalars[S_CHILDREN] == 1
    assert d.state.clients[1]["open_orders"] == 1, "the parent is the client's one open order"


def test_best_price_sell_ranks_bids(d):
    # 49.99 at V1 and V3, same take fee, same fill ratio: the lower venue id
    ev = d.send(parent("S1", BEST, qty=200, price=49 * PX, side=SHORT))
    assert children(ev) == [(1, 200, 49 * PX)]
    assert by_type(ev, R.VENUE_ORDER)[0]["side"] == SHORT


def test_best_price_market_order_takes_any_price(d):
    ev = d.send(parent("M1", BEST, qty=100, price=0, ord_type=R.ORD_MARKET))
    assert children(ev) == [(2, 100, 0)]
    assert by_type(ev, R.VENUE_ORDER)[0]["ord_type"] == R.ORD_MARKET


def test_best_price_with_nothing_at_the_limit_rests_at_the_posting_venue(d):
    # no ask at or below 49.95: rest at V1, the venue with the best rebate
    ev = d.send(parent("C1", BEST, qty=100, price=49 * PX + 95 * CENT))
    assert children(ev) == [(1, 100, 49 * PX + 95 * CENT)]


@pytest.mark.parametrize("takes, ratios, prices, strategy, expected", [
    ((30, 25, 30), (1, 1, 1), (0, 0, 0), BEST, 2),           # lower take fee
    ((30, 30, 30), (0.5, 0.9, 0.9), (0, 0, 0), BEST, 2),     # then higher fill ratio, then lower id
    ((30, 30, 30), (1, 1, 1), (0, 0, 0), BEST, 1),           # all equal: lowest venue id
    ((30, 30, 90), (1, 1, 1), (0, 0, -1), BEST, 3),          # price first, whatever the fee
    ((30, 30, 90), (1, 1, 1), (0, 0, -1), COST, 1),          # all-in: 0.0001 better but 0.0060 dearer
    ((30, 30, 30), (0.5, 1, 1), (-1, 0, 0), COST, 2),        # V1's miss penalty outweighs 0.0001
    ((30, 30, 30), (0.5, 1, 1), (-1, 0, 0), BEST, 1),        # ... but not for BEST_PRICE
    ((30, 30, 30), (1, 1, 1), (0, 0, 0), COST, 1),
    ((20, 30, 30), (1, 1, 0.5), (0, 0, 0), COST, 1),
])
def test_ranking_ties(takes, ratios, prices, strategy, expected):
    d = Desk(venues=[add_venue(v, takes[v - 1], 0) for v in (1, 2, 3)])
    d.state.venues["fill_ratio"][1:4] = [int(r * FILL_RATIO_ONE) for r in ratios]
    d.send(*[ask(v, v, 50 * PX + prices[v - 1] * FEE, 100) for v in (1, 2, 3)])
    ev = d.send(parent("C1", strategy, qty=100, price=51 * PX))
    assert children(ev) == [(expected, 100, 51 * PX)]


@pytest.mark.parametrize("makes, ratios, expected", [
    ((0, -5, 0), (1, 1, 1), 2),           # the best rebate
    ((3, 3, 3), (0.9, 0.95, 0.95), 2),    # then the higher fill ratio, then the lower id
    ((3, 3, 3), (1, 1, 1), 1),
])
def test_posting_venue_ties(makes, ratios, expected):
    d = Desk(venues=[add_venue(v, 30, makes[v - 1]) for v in (1, 2, 3)])
    d.state.venues["fill_ratio"][1:4] = [int(r * FILL_RATIO_ONE) for r in ratios]
    d.send(*[bid(v, v, 40 * PX, 100) for v in (1, 2, 3)])  # books, but nothing to buy
    ev = d.send(parent("C1", SWEEP, qty=100, price=45 * PX))
    assert children(ev) == [(expected, 100, 45 * PX)]


def test_sweep_splits_by_displayed_size_and_posts_the_rest(d):
    ev = sweep_500(d)
    assert names(ev) == ["ExecReport", "VenueOrder", "VenueOrder", "VenueOrder"]
    assert report(ev[0]) == ("A", "A", 500, 0, 500)
    p = d.order(1)
    assert (p["children"], p["working"]) == (3, 500)
    assert child_ids(d.state, 1) == [2, 3, 4]


def test_sweep_takes_every_level_inside_the_limit(d):
    # at 50.02 V2 shows 100 + 300, V3 150: nothing is left to post
    ev = d.send(parent("C1", SWEEP, qty=500, price=50 * PX + 2 * CENT))
    assert children(ev) == [(2, 400, 50 * PX + 2 * CENT), (3, 100, 50 * PX + 2 * CENT)]


def test_sweep_remainder_goes_to_a_posting_venue_showing_nothing():
    # V4 pays the best rebate and only has bids: it gets what the asks cannot fill
    d = Desk(venues=VENUES + (add_venue(4, 30, -30),))
    d.send(*BOOKS, bid(4, 41, 49 * PX, 100))
    ev = d.send(parent("C1", SWEEP, qty=500, price=50 * PX))
    assert children(ev) == [(2, 100, 50 * PX), (3, 150, 50 * PX), (4, 250, 50 * PX)]


def test_sweep_sell_short(d):
    # bids at or above 49.98: V1 49.99 x 100, V3 49.99 x 300 (same fee, lower id first), V2 49.98 x 500
    ev = d.send(parent("S1", SWEEP, qty=1000, price=49 * PX + 98 * CENT, side=SHORT))
    px = 49 * PX + 98 * CENT
    assert children(ev) == [(1, 100 + 100, px), (3, 300, px), (2, 500, px)]  # V1 posts the 100 left


def test_sweep_and_cost_rank_differently():
    # V1 50.00 taking 0.0030; V2 49.999 taking 0.0050: cheaper on price, dearer all-in
    venues = (add_venue(1, 30, 0), add_venue(2, 50, 0))
    books = (ask(1, 1, 50 * PX, 100), ask(2, 2, 50 * PX - 10 * FEE, 100))
    d = Desk(venues=venues)
    d.send(*books)
    assert children(d.send(parent("C1", SWEEP, qty=150))) == [(2, 100, 50 * PX), (1, 50, 50 * PX)]
    d = Desk(venues=venues)
    d.send(*books)
    assert children(d.send(parent("C1", COST, qty=150))) == [(1, 100, 50 * PX), (2, 50, 50 * PX)]


@pytest.mark.parametrize("strategy, venue", [(SWEEP, 2), (COST, 2), (BEST, 2)])
def test_fok_goes_whole_to_one_venue(d, strategy, venue):
    ev = d.send(parent("C1", strategy, qty=450, price=50 * PX + CENT, tif=R.TIF_FOK))
    assert children(ev) == [(venue, 450, 50 * PX + CENT)]
    assert by_type(ev, R.VENUE_ORDER)[0]["tif"] == R.TIF_FOK


def test_fok_prefers_the_best_venue_that_shows_the_whole_quantity():
    d = Desk(venues=[add_venue(1, 30, 0), add_venue(2, 30, 0)])
    d.send(ask(1, 1, 50 * PX, 100), ask(2, 2, 50 * PX + CENT, 500))  # V1 is cheaper but too small
    ev = d.send(parent("C1", BEST, qty=300, price=50 * PX + CENT, tif=R.TIF_FOK))
    assert children(ev) == [(2, 300, 50 * PX + CENT)]


def test_ioc_sweep_remainder_still_posts(d):
    ev = d.send(parent("C1", SWEEP, qty=300, price=50 * PX, tif=R.TIF_IOC))
    assert children(ev) == [(2, 100, 50 * PX), (3, 150, 50 * PX), (1, 50, 50 * PX)]
    assert {int(v["tif"]) for v in by_type(ev, R.VENUE_ORDER)} == {R.TIF_IOC}


def test_sweep_uses_at_most_max_live_children():
    # ten venues show 10 each; the best rebate is at V10, which the eight slots do not reach:
    # what is left joins the last child
    d = Desk(venues=[add_venue(v, 30, -30 if v == 10 else 0) for v in range(1, 11)])
    d.send(*[ask(v, v, 50 * PX, 10) for v in range(1, 11)])
    ev = d.send(parent("C1", SWEEP, qty=100))
    assert children(ev) == [(v, 10, 50 * PX) for v in range(1, 8)] + [(8, 30, 50 * PX)]
    assert d.order(1)["children"] == 8


def test_killed_venue_is_skipped(d):
    (al,) = d.send(kill(R.KILL_VENUE, 2))
    assert (al["type"], al["code"], al["a"], al["b"]) == (R.ALERT, R.REASON_KILL_VENUE, 2, 1)
    assert children(d.send(parent("C1", BEST, qty=100, price=51 * PX))) == [(3, 100, 51 * PX)]
    # sweep skips V2's 50.00 and 50.02; V1 (killed next) no longer posts: V3 is the best open rebate
    d.send(kill(R.KILL_VENUE, 1))
    ev = d.send(parent("C2", SWEEP, qty=300, price=51 * PX))
    assert children(ev) == [(3, 300, 51 * PX)]
    # switched back on, V2 is used again
    d.send(kill(R.KILL_VENUE, 2, on=0))
    assert children(d.send(parent("C3", BEST, qty=100, price=51 * PX))) == [(2, 100, 51 * PX)]


def test_no_open_venue_rejects_the_order(d):
    # BBB has no default venue and no book anywhere
    ev = d.send(parent("C1", BEST, symbol_id=2))
    assert names(ev) == ["ExecReport"]
    assert (ev[0]["exec_type"], ev[0]["reason"], ev[0]["order_id"]) == (R.EXEC_REJECTED, R.REASON_NO_VENUE, 0)
    # every venue trading AAA killed (V1 is also its default venue)
    d.send(kill(R.KILL_VENUE, 1), kill(R.KILL_VENUE, 2), kill(R.KILL_VENUE, 3))
    for strategy in (BEST, SWEEP, COST, R.STRATEGY_TWAP):
        (er,) = d.send(parent(f"N{strategy}", strategy, end_ts=10**12))
        assert (er["exec_type"], er["reason"]) == (R.EXEC_REJECTED, R.REASON_NO_VENUE)
    assert d.state.scalars[S_ORDERS] == 0
    # the client may use the ClOrdID again: nothing was registered
    d.send(kill(R.KILL_VENUE, 3, on=0))
    assert children(d.send(parent("C1", BEST, qty=100, price=51 * PX))) == [(3, 100, 51 * PX)]


def test_default_venue_without_a_book_takes_routed_orders():
    d = Desk()  # no venue added, no market data: AAA's default venue 1 is still open
    ev = d.send(parent("C1", SWEEP, qty=100))
    assert children(ev) == [(1, 100, 50 * PX)]


# ------------------------------------------------------------------ roll-up of child answers
def test_child_fills_roll_up_to_the_parent(d):
    sweep_500(d)
    (er,) = d.send(ack(3, venue_id=3))  # the first acknowledgement makes the parent NEW
    assert (er["order_id"], er["exec_type"]) == (1, R.EXEC_NEW) and report(er) == ("0", "0", 500, 0, 500)
    assert d.send(ack(2, venue_id=2)) == [], "later child acks tell the client nothing"
    er, tr = d.send(fill(3, 150, price=50 * PX, fee=150 * 30 * FEE, venue_exec_id=77, venue_id=3,
                         liquidity=R.LIQUIDITY_REMOVED))
    assert er["order_id"] == 1 and text(er["cl_ord_id"]) == "C1"
    assert report(er) == ("F", "1", 350, 150, 350)
    assert (er["last_px"], er["last_qty"], er["avg_px"], er["strategy"]) == (50 * PX, 150, 50 * PX, SWEEP)
    assert (tr["order_id"], tr["exec_id"], tr["venue_id"], tr["venue_exec_id"]) == (1, er["exec_id"], 3, 77)
    assert (tr["qty"], tr["price"], tr["fee"], tr["side"], tr["liquidity"]) == (150, 50 * PX, 4_500 * FEE, BUY, R.LIQUIDITY_REMOVED)
    assert d.order(3)["status"] == FILLED and d.order(1)["children"] == 2
    er, tr = d.send(fill(2, 60, price=50 * PX, venue_id=2))
    assert report(er) == ("F", "1", 290, 210, 290) and tr["venue_id"] == 2
    assert d.order(2)["status"] == PART
    er, tr = d.send(fill(4, 250, price=50 * PX + CENT, venue_id=1))  # before its ack: taken
    assert report(er) == ("F", "1", 40, 460, 40) and tr["venue_id"] == 1
    er, tr = d.send(fill(2, 40, price=50 * PX, venue_id=2))
    assert report(er) == ("F", "2", 0, 500, 0)
    assert er["avg_px"] == (25_000 * PX + 250 * CENT) // 500  # 50.005
    p = d.order(1)
    assert (p["status"], p["children"], p["working"], p["cum"]) == (FILLED, 0, 0, 500)
    assert d.state.position(1, 1) == 500
    c = d.state.clients[1]
    assert (c["open_orders"], c["reserved"], c["open_notional"]) == (0, 0, 0)
    assert c["fees"] == 4_500 * FEE


def test_fill_above_a_childs_leaves_is_refused(d):
    sweep_500(d)
    (al,) = d.send(fill(2, 101, venue_id=2))  # child 2 has 100 (the parent 500)
    assert (al["type"], al["code"], al["a"], al["b"]) == (R.ALERT, R.REASON_OVERFILL, 2, 101)
    assert d.order(1)["cum"] == 0 and d.order(2)["cum"] == 0


def test_venue_messages_naming_the_parent_are_unknown(d):
    sweep_500(d)
    for cmd, of in ((ack(1), R.VENUE_ACK), (fill(1, 10), None), (cancelled(1), R.VENUE_CANCELLED),
                    (venue_reject(1), R.VENUE_REJECT)):
        (al,) = d.send(cmd)
        assert (al["type"], al["code"], al["a"]) == (R.ALERT, R.REASON_UNKNOWN_ORDER, 1)
    assert d.order(1)["status"] == PNEW


def test_parent_cancel_fans_out_and_ends_with_the_last_child(d):
    sweep_500(d)
    d.send(ack(2), ack(3), ack(4))
    d.send(fill(2, 100, venue_id=2))  # child 2 done
    ev = d.send(cancel("X1", orig_cl_ord_id="C1"))
    assert names(ev) == ["ExecReport", "VenueCancel", "VenueCancel"]
    er = ev[0]
    assert report(er) == ("6", "6", 400, 100, 400)
    assert (text(er["cl_ord_id"]), text(er["orig_cl_ord_id"])) == ("X1", "C1")
    assert sorted((int(v["order_id"]), int(v["venue_id"])) for v in ev[1:]) == [(3, 3), (4, 1)]
    assert all((v["client_id"], v["symbol_id"]) == (1, 1) for v in ev[1:])
    assert d.send(cancelled(4, venue_id=1)) == [], "one child left: nothing to tell yet"
    assert d.order(1)["working"] == 150 and d.order(1)["children"] == 1
    er, tr = d.send(fill(3, 50, venue_id=3))  # a fill while the cancel is pending is booked
    assert report(er) == ("F", "6", 350, 150, 100) and tr["venue_id"] == 3
    (er,) = d.send(cancelled(3, venue_id=3))
    assert report(er) == ("4", "4", 0, 150, 0)
    assert (text(er["cl_ord_id"]), text(er["orig_cl_ord_id"])) == ("X1", "C1")
    p = d.order(1)
    assert (p["status"], p["pending"], p["children"], text(p["cl_ord_id"])) == (CANCELED, 0, 0, "X1")
    c = d.state.clients[1]
    assert (c["open_orders"], c["reserved"], c["open_notional"]) == (0, 0, 0)
    (cr,) = d.send(cancel("X2", orig_cl_ord_id="C1"))
    assert (cr["type"], cr["reason"], cr["ord_status"]) == (R.CANCEL_REJECT, R.REASON_TOO_LATE, CANCELED)


def test_cancel_of_a_parent_awaiting_its_first_ack_is_refused(d):
    sweep_500(d)
    (cr,) = d.send(cancel("X1", order_id=1))
    assert (cr["type"], cr["reason"], cr["ord_status"], cr["order_id"]) == (R.CANCEL_REJECT, R.REASON_PENDING, PNEW, 1)


def test_a_child_that_filled_before_its_cancel_does_not_fail_the_parents_cancel(d):
    ev = d.send(parent("C1", SWEEP, qty=250, price=50 * PX))
    assert children(ev) == [(2, 100, 50 * PX), (3, 150, 50 * PX)]
    d.send(ack(2), ack(3))
    d.send(cancel("X1", orig_cl_ord_id="C1"))
    d.send(fill(2, 100, venue_id=2))  # the venue filled child 2 before the cancel reached it
    assert d.send(venue_reject(2, reject_of=R.VENUE_ACTION_CANCEL, venue_id=2)) == []  # too late there
    assert (d.order(1)["status"], d.order(1)["pending"]) == (R.STATUS_PENDING_CANCEL, R.VENUE_ACTION_CANCEL)
    (er,) = d.send(cancelled(3, venue_id=3))
    assert report(er) == ("4", "4", 0, 100, 0) and text(er["cl_ord_id"]) == "X1"


def test_child_cancel_reject_rejects_the_clients_cancel(d):
    ev = d.send(parent("C1", SWEEP, qty=250, price=50 * PX))
    assert children(ev) == [(2, 100, 50 * PX), (3, 150, 50 * PX)]
    d.send(ack(2), ack(3))
    ev = d.send(cancel("X1", orig_cl_ord_id="C1"))
    assert names(ev) == ["ExecReport", "VenueCancel", "VenueCancel"]
    (cr,) = d.send(venue_reject(3, reject_of=R.VENUE_ACTION_CANCEL, venue_id=3))
    assert cr["type"] == R.CANCEL_REJECT
    assert (cr["order_id"], cr["client_id"], cr["reason"], cr["response_to"], cr["ord_status"]) == (
        1, 1, R.REASON_VENUE_REJECT, R.RESPONSE_TO_CANCEL, NEW)
    assert (text(cr["cl_ord_id"]), text(cr["orig_cl_ord_id"])) == ("X1", "C1")
    p = d.order(1)
    assert (p["status"], p["pending"], text(p["cl_ord_id"])) == (NEW, 0, "C1")
    # the other child's cancel still lands; child 3 keeps working
    assert d.send(cancelled(2, venue_id=2)) == []
    assert (d.order(1)["children"], d.order(1)["working"]) == (1, 150)
    # a second request cancels what is left
    er, vc = d.send(cancel("X2", orig_cl_ord_id="C1"))
    assert report(er) == ("6", "6", 250, 0, 150) and vc["order_id"] == 3
    (er,) = d.send(cancelled(3, venue_id=3))
    assert report(er) == ("4", "4", 0, 0, 0) and text(er["cl_ord_id"]) == "X2"


def test_every_child_rejected_before_an_ack_rejects_the_parent(d):
    sweep_500(d)
    assert d.send(venue_reject(2, venue_id=2)) == []
    assert d.send(venue_reject(4, venue_id=1)) == []
    (er,) = d.send(venue_reject(3, venue_id=3))
    assert (er["order_id"], er["exec_type"], er["ord_status"], er["reason"]) == (1, R.EXEC_REJECTED, REJECTED, R.REASON_VENUE_REJECT)
    assert report(er) == ("8", "8", 0, 0, 0)
    c = d.state.clients[1]
    assert (c["open_orders"], c["reserved"], c["open_notional"]) == (0, 0, 0)


def test_a_child_ack_then_rejects_leave_the_parent_working(d):
    sweep_500(d)
    d.send(ack(4, venue_id=1))
    assert d.send(venue_reject(2, venue_id=2), venue_reject(3, venue_id=3)) == []
    p = d.order(1)
    assert (p["status"], p["children"], p["working"], p["leaves"]) == (NEW, 1, 250, 500)
    (er,) = d.send(cancelled(4, venue_id=1))  # unsolicited: nothing more will be sent
    assert report(er) == ("4", "4", 0, 0, 0)


def test_children_all_ended_by_the_venues_end_the_parent(d):
    # IOC: each venue fills what it can and cancels the rest; the parent ends CANCELED
    d.send(parent("C1", SWEEP, qty=300, price=50 * PX, tif=R.TIF_IOC))
    d.send(fill(2, 100, venue_id=2))
    d.send(fill(3, 120, venue_id=3))
    assert d.send(cancelled(3, venue_id=3, qty=30)) == []
    (er,) = d.send(cancelled(4, venue_id=1, qty=50))
    assert report(er) == ("4", "4", 0, 220, 0)
    assert text(er["cl_ord_id"]) == "C1" and text(er["orig_cl_ord_id"]) == ""


def test_replace_of_a_parent_is_refused(d):
    sweep_500(d)
    (cr,) = d.send(replace("R1", orig_cl_ord_id="C1", qty=400))
    assert (cr["reason"], cr["response_to"]) == (R.REASON_PENDING, R.RESPONSE_TO_REPLACE)  # not acked yet
    d.send(ack(2))
    (cr,) = d.send(replace("R2", orig_cl_ord_id="C1", qty=400))
    assert cr["type"] == R.CANCEL_REJECT
    assert (cr["order_id"], cr["reason"], cr["response_to"], cr["ord_status"]) == (1, R.REASON_ROUTED_REPLACE, R.RESPONSE_TO_REPLACE, NEW)
    assert (text(cr["cl_ord_id"]), text(cr["orig_cl_ord_id"])) == ("R2", "C1")
    p = d.order(1)
    assert (p["qty"], p["pending"], p["status"]) == (500, 0, NEW)
    # the refused ClOrdID was not registered: it can name a later request
    er, *_ = d.send(cancel("R2", orig_cl_ord_id="C1"))
    assert er["exec_type"] == R.EXEC_PENDING_CANCEL


@pytest.mark.parametrize("kind", ["cancel", "replace"])
def test_clients_cannot_name_child_orders(d, kind):
    sweep_500(d)
    d.send(ack(2))
    for client in (1, 2):  # the owner of the parent, and another client
        if kind == "cancel":
            (cr,) = d.send(cancel(f"X{client}", order_id=2, client_id=client))
        else:
            (cr,) = d.send(replace(f"X{client}", order_id=2, client_id=client, qty=50))
        assert cr["type"] == R.CANCEL_REJECT and cr["reason"] == R.REASON_UNKNOWN_ORDER
        # a child is not the client's order: the reject names no order and no status
        assert (cr["order_id"], cr["ord_status"]) == (0, 0)
    c = d.order(2)
    assert (c["pending"], c["status"], c["qty"]) == (0, NEW, 100)


def test_venue_kill_with_cancel_all_cancels_the_children_there(d):
    sweep_500(d)
    d.send(ack(2), ack(3), ack(4))
    ev = d.send(kill(R.KILL_VENUE, 3, cancel_all=1))
    assert names(ev) == ["Alert", "VenueCancel", "Alert"]
    assert (ev[1]["order_id"], ev[1]["venue_id"]) == (3, 3)
    assert (ev[2]["code"], ev[2]["a"], ev[2]["b"]) == (R.REASON_KILL_CANCEL, 1, R.KILL_VENUE)
    assert d.order(1)["status"] == NEW, "the parent itself is not cancelled"
    assert d.send(cancelled(3, venue_id=3)) == []
    assert (d.order(1)["children"], d.order(1)["working"], d.order(1)["leaves"]) == (2, 350, 500)


def test_operator_cancel_all_of_a_client_cancels_its_parents(d):
    sweep_500(d)  # not acknowledged yet: only the operator can cancel it now
    ev = d.send(admin(R.ADMIN_CANCEL_ALL, 1, scope=R.KILL_CLIENT))
    assert names(ev) == ["ExecReport", "VenueCancel", "VenueCancel", "VenueCancel", "Alert"]
    er = ev[0]
    assert (er["order_id"], er["exec_type"], er["ord_status"]) == (1, R.EXEC_PENDING_CANCEL, PCXL)
    assert (text(er["cl_ord_id"]), text(er["orig_cl_ord_id"])) == ("C1", ""), "no client request: the order's own"
    assert sorted(int(v["order_id"]) for v in ev[1:4]) == [2, 3, 4]
    assert (ev[4]["code"], ev[4]["a"], ev[4]["b"]) == (R.REASON_KILL_CANCEL, 1, R.KILL_CLIENT)
    assert d.send(cancelled(2, venue_id=2), cancelled(3, venue_id=3)) == []
    assert d.send(ack(4)) == [], "acknowledged while the cancel-all is pending: no NEW report"
    assert d.order(1)["prev_status"] == NEW
    (er,) = d.send(cancelled(4))
    assert report(er) == ("4", "4", 0, 0, 0) and text(er["cl_ord_id"]) == "C1"


# ------------------------------------------------------------------ fill ratio
def test_fill_ratio_moves_on_finished_children(d):
    fr = d.state.venues["fill_ratio"]
    assert list(fr[1:4]) == [FILL_RATIO_ONE] * 3
    sweep_500(d)
    d.send(ack(2), ack(3), ack(4))
    d.send(fill(2, 100, venue_id=2))      # V2: 100 of 100
    d.send(fill(3, 75, venue_id=3))       # V3: 75 of 150, then cancelled
    d.send(cancel("X1", order_id=1))
    d.send(cancelled(3, venue_id=3), cancelled(4, venue_id=1))  # V1: 0 of 250
    one = FILL_RATIO_ONE
    assert fr[2] == one
    assert fr[3] == one + (one // 2 - one) // 8 == 61_440
    assert fr[1] == one + (0 - one) // 8 == 57_344
    # a rejected child counts as sent and not filled
    d.send(parent("C2", BEST, qty=10, price=50 * PX + CENT))  # parent 5, child 6 at V2
    d.send(venue_reject(6, venue_id=2))
    assert fr[2] == one - one // 8


def test_fill_ratio_changes_cost_ranking():
    # V2 50.00 and V3 50.005, same fees: COST and BEST_PRICE both start at V2
    d = Desk(venues=(add_venue(2, 30, 0), add_venue(3, 30, 0)))
    d.send(ask(2, 1, 50 * PX, 100), ask(3, 2, 50 * PX + 50 * FEE, 100))
    assert children(d.send(parent("C1", COST, qty=100, price=51 * PX))) == [(2, 100, 51 * PX)]
    d.send(ack(2, venue_id=2), cancel("X1", order_id=1))
    d.send(cancelled(2, venue_id=2))  # V2 filled nothing: its ratio drops to 7/8
    assert d.state.venues["fill_ratio"][2] == FILL_RATIO_ONE * 7 // 8
    # COST: V2 now costs 50.00 + a miss penalty of 10 bps x 1/8 = 0.00625 > 50.005
    penalty = (50 * PX // 10_000) * MISS_BPS // 8
    assert penalty == 625 * FEE // 10 and penalty > 50 * FEE
    assert children(d.send(parent("C2", COST, qty=100, price=51 * PX))) == [(3, 100, 51 * PX)]
    # BEST_PRICE still looks at the price first
    assert children(d.send(parent("C3", BEST, qty=100, price=51 * PX))) == [(2, 100, 51 * PX)]


@pytest.mark.parametrize("tif", [R.TIF_IOC, R.TIF_FOK])
def test_children_the_venues_cancel_before_an_ack_cancel_the_parent(d, tif):
    # an IOC / FOK the venues kill unfilled without acknowledging it first: CANCELED, as a
    # direct order would be; REJECTED is for refusals
    (er, _) = d.send(new_order("D1", qty=300, tif=tif))
    (er,) = d.send(cancelled(int(er["order_id"])))
    assert (er["exec_type"], er["ord_status"]) == (R.EXEC_CANCELED, CANCELED)
    ev = d.send(parent("C1", SWEEP, qty=300, price=50 * PX, tif=tif))
    kids = [(int(v["order_id"]), int(v["venue_id"])) for v in by_type(ev, R.VENUE_ORDER)]
    for oid, venue in kids[:-1]:
        assert d.send(cancelled(oid, venue_id=venue)) == []
    oid, venue = kids[-1]
    (er,) = d.send(cancelled(oid, venue_id=venue))
    assert (er["exec_type"], er["ord_status"], er["reason"]) == (R.EXEC_CANCELED, CANCELED, R.REASON_NONE)


def test_some_children_refused_and_the_rest_cancelled_before_an_ack_cancel_the_parent(d):
    sweep_500(d)
    d.send(venue_reject(2, venue_id=2), cancelled(3, venue_id=3))
    (er,) = d.send(venue_reject(4, venue_id=1))
    assert (er["exec_type"], er["ord_status"], er["reason"]) == (R.EXEC_CANCELED, CANCELED, R.REASON_NONE)


def test_market_sweep_takes_every_level_and_posts_the_rest(d):
    # V2 400 (50.00, 50.02), V3 150, V1 200 at any price; the 250 left join V1's child
    ev = d.send(parent("M1", SWEEP, qty=1000, price=0, ord_type=R.ORD_MARKET))
    assert children(ev) == [(2, 400, 0), (3, 150, 0), (1, 450, 0)]
    assert report(ev[0]) == ("A", "A", 1000, 0, 1000)


# ------------------------------------------------------------------ late venue answers
def test_late_venue_answers_to_an_order_filled_while_a_cancel_all_was_pending():
    # Found by the parent / child property test: a direct order, cancelled by the
    # operator before its ack and then filled, kept pending = CANCEL and prev_status =
    # PENDING_NEW; a late reject of the new order then "rejected" the FILLED order and
    # released it a second time (the client's open order count went to -1).
    d = Desk()
    d.send(new_order("D1", qty=10))
    ev = d.send(admin(R.ADMIN_CANCEL_ALL, 1, scope=R.KILL_CLIENT))
    assert names(ev) == ["ExecReport", "VenueCancel", "Alert"]
    er, _ = d.send(fill(1, 10))
    assert er["ord_status"] == FILLED and d.state.clients[1]["open_orders"] == 0
    for late in (venue_reject(1), ack(1)):
        (al,) = d.send(late)
        assert (al["type"], al["code"], al["a"]) == (R.ALERT, R.REASON_UNEXPECTED_VENUE_MSG, 1)
    assert d.send(venue_reject(1, reject_of=R.VENUE_ACTION_CANCEL)) == [], "no client request to answer"
    o = d.order(1)
    assert (o["status"], o["cum"], o["leaves"], o["pending"]) == (FILLED, 10, 0, 0)
    c = d.state.clients[1]
    assert (c["open_orders"], c["reserved"], c["open_notional"]) == (0, 0, 0)


def test_late_venue_answers_to_a_child_filled_while_a_cancel_all_was_pending(d):
    ev = d.send(parent("C1", BEST, qty=100, price=51 * PX))
    assert children(ev) == [(2, 100, 51 * PX)]
    d.send(admin(R.ADMIN_CANCEL_ALL, 1, scope=R.KILL_CLIENT))
    er, _ = d.send(fill(2, 100, venue_id=2))
    assert (er["order_id"], er["ord_status"]) == (1, FILLED)
    for late in (venue_reject(2, venue_id=2), ack(2, venue_id=2)):
        (al,) = d.send(late)
        assert (al["code"], al["a"]) == (R.REASON_UNEXPECTED_VENUE_MSG, 2)
    assert (d.order(1)["status"], d.state.clients[1]["open_orders"]) == (FILLED, 0)


def test_a_child_cancel_refused_after_the_parent_filled_is_too_late(d):
    # the venue fills the child while the client's cancel is on its way, then refuses
    # the cancel: the FILLED parent stays FILLED and the client is told "too late"
    d.send(parent("C1", BEST, qty=100, price=51 * PX))
    d.send(ack(2, venue_id=2))
    er, vc = d.send(cancel("X1", orig_cl_ord_id="C1"))
    assert er["exec_type"] == R.EXEC_PENDING_CANCEL and vc["order_id"] == 2
    er, _ = d.send(fill(2, 100, venue_id=2))
    assert (er["ord_status"], er["cum_qty"], er["leaves_qty"]) == (FILLED, 100, 0)
    (cr,) = d.send(venue_reject(2, reject_of=R.VENUE_ACTION_CANCEL, venue_id=2))
    assert (cr["type"], cr["order_id"], cr["reason"], cr["ord_status"]) == (R.CANCEL_REJECT, 1, R.REASON_TOO_LATE, FILLED)
    assert (text(cr["cl_ord_id"]), text(cr["orig_cl_ord_id"])) == ("X1", "C1")
    p = d.order(1)
    assert (p["status"], p["pending"], p["leaves"]) == (FILLED, 0, 0)
    assert d.state.clients[1]["open_orders"] == 0
