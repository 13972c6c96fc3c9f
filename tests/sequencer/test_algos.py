"""TWAP / VWAP parents worked on journaled Timer ticks (sequencer/algos.py): the
schedule, the participation cap, when no slice goes out, expiry, cancels, and replay
determinism across batch cuts and snapshots."""

import numpy as np
import pytest

from sequencer import records as R
from sequencer.algos import VWAP_PROFILE_BPS
from sequencer.kernel_base import MAX_LIVE_CHILDREN
from sequencer.logic import BusinessLogic
from sequencer.state import Capacity, S_ALGOS, S_ALGOS_LIVE, State

from parent_testkit import (
    CENT, MID, Desk, ack, add_venue, algo, ask, by_type, cancelled, child_ids, executed, fill, kill, names,
    parent, printed, tick, venue_reject,
)
from seq_testkit import PX, admin, cancel, new_order, text

TWAP, VWAP = R.STRATEGY_TWAP, R.STRATEGY_VWAP
S = 1_000_000_000  # ns
START, END = 10 * S, 20 * S
LIMIT = 51 * PX

# V2 offers 50.00 (best), V1 50.01: BEST_PRICE slices go to V2.
VENUES = (add_venue(1, 30, -20), add_venue(2, 25, -10))
BOOKS = (ask(1, 11, 50 * PX + CENT, 5000), ask(2, 21, 50 * PX, 5000))


def desk(**kw):
    d = Desk(venues=VENUES, **kw)
    d.send(*BOOKS)
    return d


def accept(d, strategy=TWAP, qty=1000, max_pct=0, start=START, end=END, cl="C1", at=1 * S):
    (er,) = d.at(at, algo(cl, strategy, start, end, qty=qty, price=LIMIT, max_pct=max_pct))
    assert (er["exec_type"], er["ord_status"], er["strategy"]) == (R.EXEC_NEW, R.STATUS_NEW, strategy)
    return int(er["order_id"])


def slices(events):
    """(venue, qty) of each VenueOrder."""
    return [(int(v["venue_id"]), int(v["qty"])) for v in by_type(events, R.VENUE_ORDER)]


def sliced(d, ts):
    """Tick at ts; the qty of the one child it sends (0: none)."""
    ev = d.at(ts, tick())
    s = slices(ev)
    assert names(ev) == ["VenueOrder"] * len(s) and len(s) <= 1, names(ev)
    assert all(v == 2 for v, _ in s)
    return s[0][1] if s else 0


# ------------------------------------------------------------------ acceptance
def test_algo_is_new_at_once_and_sends_nothing_until_a_tick():
    d = desk()
    (er,) = d.at(1 * S, algo("C1", TWAP, START, END, qty=1000, price=LIMIT, max_pct=2500))
    assert (er["order_id"], er["exec_type"], er["ord_status"], er["leaves_qty"], er["working_qty"]) == (
        1, R.EXEC_NEW, R.STATUS_NEW, 1000, 0)
    assert (er["strategy"], er["venue_id"], text(er["cl_ord_id"])) == (TWAP, 0, "C1")
    a = d.state.algos[0]
    assert (a["active"], a["strategy"], a["order_id"], a["start_ts"], a["end_ts"], a["max_pct"]) == (
        1, TWAP, 1, START, END, 2500)
    assert d.order(1)["algo"] == 1 and d.state.scalars[S_ALGOS_LIVE] == 1
    assert d.state.clients[1]["open_orders"] == 1


def test_a_window_that_already_began_starts_now():
    d = desk()
    accept(d, start=0, end=END, at=12 * S)   # 8 s left of the window
    assert d.state.algos[0]["start_ts"] == 12 * S
    assert sliced(d, 16 * S) == 500


@pytest.mark.parametrize("kw", [
    dict(start_ts=20 * S, end_ts=10 * S),      # ends before it starts
    dict(start_ts=20 * S, end_ts=20 * S),      # empty
    dict(start_ts=0, end_ts=1 * S),            # over when it arrives (now = 1 s)
    dict(start_ts=0, end_ts=S // 2),
    dict(start_ts=START, end_ts=END, max_pct=10_001),
    dict(start_ts=START, end_ts=END, tif=R.TIF_IOC),
    dict(start_ts=START, end_ts=END, tif=R.TIF_FOK),
])
@pytest.mark.parametrize("strategy", [TWAP, VWAP])
def test_invalid_window_is_refused(strategy, kw):
    d = desk()
    (er,) = d.at(1 * S, parent("C1", strategy, qty=1000, price=LIMIT, **kw))
    assert (er["exec_type"], er["reason"], er["order_id"]) == (R.EXEC_REJECTED, R.REASON_ALGO_WINDOW, 0)
    assert d.state.scalars[S_ALGOS] == 0


def test_algo_table_capacity():
    d = Desk(Capacity(orders=64, clients=8, symbols=8, algos=2), venues=VENUES)
    d.send(*BOOKS)
    accept(d, cl="A1")
    accept(d, cl="A2")
    (er,) = d.at(1 * S, algo("A3", TWAP, START, END, qty=10, price=LIMIT))
    assert (er["exec_type"], er["reason"]) == (R.EXEC_REJECTED, R.REASON_CAPACITY)


# ------------------------------------------------------------------ schedules
def test_twap_releases_the_linear_shortfall_on_each_tick():
    d = desk()
    accept(d)
    assert sliced(d, 5 * S) == 0                 # before the window
    assert sliced(d, START) == 0                 # 0% elapsed
    assert sliced(d, 11 * S) == 100              # 10% of 1000
    assert sliced(d, 11 * S) == 0                # same time again: nothing short
    assert sliced(d, 11 * S + S // 2) == 50      # 15%: 150 less 100 working
    d.send(fill(2, 100, venue_id=2))             # the first child fills
    # 33.3333333 s... resolved to the microsecond: 333,333 ppm of 1000 = 333, less 100 filled, 50 working
    assert sliced(d, START + 3_333_333_333) == 183
    assert sliced(d, START + 3_333_333_999) == 0  # same microsecond
    assert sliced(d, START + 3_339_999_999) == 0  # 333.9999 -> 333
    assert sliced(d, START + 3_340_000_000) == 1  # 334
    assert sliced(d, END - 1_000) == 999 - 100 - 50 - 183 - 1   # 99.9999% -> 999
    p = d.order(1)
    assert (p["cum"], p["working"], p["leaves"], p["children"]) == (100, 899, 900, 4)
    assert [d.order(c)["qty"] for c in child_ids(d.state, 1)] == [100, 50, 183, 1, 665]


def test_vwap_follows_the_volume_profile():
    d = desk()
    accept(d, VWAP)
    assert list(VWAP_PROFILE_BPS) == [0, 1400, 2500, 3400, 4200, 4900, 5600, 6400, 7300, 8400, 10000]
    assert sliced(d, START) == 0
    assert sliced(d, 11 * S) == 140              # end of the first tenth: 14%
    assert sliced(d, 11 * S + S // 2) == 55      # halfway through the second: 19.5%
    assert sliced(d, 15 * S) == 295              # 49%
    assert sliced(d, 19 * S + S // 2) == 430     # 84% + half of 16% = 92%
    assert d.order(1)["working"] == 920


@pytest.mark.parametrize("strategy, at, qty, expected", [
    (VWAP, 11 * S + S // 2, 777, 151),           # 777 x 19.5% = 151.5
    (VWAP, 10 * S + 1_000, 777, 0),              # 1 us of 10 s: 0.1 ppm of the window -> 0
    (VWAP, 12 * S + 250_000_000, 1000, 272),     # 25% through the third tenth: 25% + 0.25 x 9% = 27.25%
    (VWAP, 19 * S + 999_999_999, 1000, 999),     # 99.9999% of the window: 84% + 0.99999 x 16%
    (TWAP, 10 * S + 9_999_999, 1000, 0),         # 9,999 us of 10 s = 999 ppm: 0.999 -> 0
    (TWAP, 10 * S + 10_000_000, 1000, 1),        # 10 ms: 1 share
    (TWAP, 19 * S + 999_999_999, 1000, 999),     # 9,999,999 us -> 999,999 ppm
])
def test_schedule_rounding(strategy, at, qty, expected):
    d = desk()
    accept(d, strategy, qty=qty)
    d.at(START, tick())
    assert sliced(d, at) == expected


def test_participation_cap_counts_market_volume_since_the_window_opened():
    d = desk()
    accept(d, TWAP, max_pct=2500)  # at most 25% of what the market trades
    d.at(2 * S, printed(1, 50 * PX, 10_000))     # before the window: not counted
    assert sliced(d, START) == 0
    assert d.state.algos[0]["vol_start"] == 10_000
    d.at(START + S // 2, executed(2, 21, 200), printed(1, 50 * PX, 120))  # 320 traded
    assert d.state.symbols[1]["volume"] == 10_320
    assert sliced(d, 11 * S) == 80               # TWAP says 100, 25% of 320 = 80
    assert sliced(d, 12 * S) == 0                # TWAP says 200, the cap still 80
    d.at(12 * S, printed(2, 50 * PX, 400))       # 720 traded: cap 180
    assert sliced(d, 12 * S) == 100
    d.at(12 * S, executed(1, 11, 10_000))        # plenty of volume: TWAP binds again
    assert sliced(d, 13 * S) == 300 - 180
    # market data on another symbol does not count
    d.at(13 * S, printed(1, 50 * PX, 10_000, symbol=2))
    assert sliced(d, 14 * S) == 100


def test_participation_cap_applies_to_vwap_and_rounds_down():
    d = desk()
    accept(d, VWAP, max_pct=1)  # 0.01%
    d.at(START, tick())
    d.at(START, printed(1, 50 * PX, 1_999_999))   # 199.9999 -> 199
    assert sliced(d, 11 * S) == 140                # the profile (140) binds
    d.at(11 * S, printed(1, 50 * PX, 1))
    assert sliced(d, 15 * S) == 60                 # the cap: 200 less 140 working


def test_volume_before_the_first_tick_in_the_window_is_not_counted():
    # vol_start is taken by the first tick inside the window
    d = desk()
    accept(d, TWAP, max_pct=10_000)
    d.at(START + S // 2, printed(1, 50 * PX, 1000))
    assert sliced(d, 11 * S) == 0
    assert d.state.algos[0]["vol_start"] == 1000


# ------------------------------------------------------------------ when no slice goes out
@pytest.mark.parametrize("scope, target", [
    (R.KILL_GLOBAL, 0), (R.KILL_NEW_ORDERS, 0), (R.KILL_SYMBOL, 1), (R.KILL_CLIENT, 1),
])
def test_no_slice_while_a_kill_switch_covers_the_order(scope, target):
    d = desk()
    accept(d)
    assert sliced(d, 11 * S) == 100
    (al,) = d.at(11 * S, kill(scope, target))
    assert al["type"] == R.ALERT
    assert sliced(d, 12 * S) == 0
    assert sliced(d, 15 * S) == 0
    d.at(15 * S, kill(scope, target, on=0))
    assert sliced(d, 16 * S) == 500, "the whole shortfall goes once the switch is off"


def test_a_killed_venue_is_routed_around():
    d = desk()
    accept(d)
    d.at(10 * S, kill(R.KILL_VENUE, 2))
    ev = d.at(11 * S, tick())
    assert slices(ev) == [(1, 100)]
    d.at(11 * S, kill(R.KILL_VENUE, 1))  # nothing open for AAA: the slice waits
    assert names(d.at(12 * S, tick())) == []
    d.at(12 * S, kill(R.KILL_VENUE, 2, on=0))
    assert slices(d.at(13 * S, tick())) == [(2, 200)]


def test_only_clock_ticks_work_the_algos():
    d = desk()
    accept(d)
    assert d.at(12 * S, tick(kind=0), tick(kind=7)) == []
    assert sliced(d, 12 * S) == 200


def test_a_venue_kill_that_cancels_moves_the_next_slice_elsewhere():
    d = desk()
    accept(d)
    assert sliced(d, 11 * S) == 100
    ev = d.at(11 * S, kill(R.KILL_VENUE, 2, cancel_all=1))
    assert names(ev) == ["Alert", "VenueCancel", "Alert"] and ev[1]["order_id"] == 2
    assert d.send(cancelled(2, venue_id=2)) == [], "the algo works on"
    assert slices(d.at(12 * S, tick())) == [(1, 200)]


def test_no_slice_while_a_cancel_is_pending():
    d = desk()
    accept(d)
    assert sliced(d, 11 * S) == 100
    d.send(ack(2, venue_id=2))
    er, vc = d.at(11 * S, cancel("X1", orig_cl_ord_id="C1"))
    assert (er["exec_type"], er["ord_status"], er["working_qty"]) == (R.EXEC_PENDING_CANCEL, R.STATUS_PENDING_CANCEL, 100)
    assert vc["order_id"] == 2
    assert sliced(d, 12 * S) == 0
    # the venue refuses the cancel: the algo works on
    (cr,) = d.at(12 * S, venue_reject(2, reject_of=R.VENUE_ACTION_CANCEL, venue_id=2))
    assert (cr["type"], cr["order_id"], cr["ord_status"]) == (R.CANCEL_REJECT, 1, R.STATUS_NEW)
    assert sliced(d, 13 * S) == 200
    d.at(13 * S, cancel("X2", orig_cl_ord_id="C1"))
    assert sliced(d, 14 * S) == 0
    assert d.at(14 * S, cancelled(3, venue_id=2)) == []
    (er,) = d.at(14 * S, cancelled(2, venue_id=2))
    assert (er["exec_type"], er["ord_status"], text(er["cl_ord_id"]), text(er["orig_cl_ord_id"])) == (
        R.EXEC_CANCELED, R.STATUS_CANCELED, "X2", "C1")
    assert sliced(d, 15 * S) == 0
    assert d.state.scalars[S_ALGOS_LIVE] == 0 and d.state.algos[0]["active"] == 0


def test_at_most_max_live_children():
    d = desk()
    accept(d)
    for t in range(1, MAX_LIVE_CHILDREN + 1):   # a 100-share child every second, none filled
        assert sliced(d, START + t * S) == 100
    assert d.order(1)["children"] == MAX_LIVE_CHILDREN
    assert sliced(d, START + 9 * S) == 0, "no room for a ninth child"
    d.send(fill(2, 100, venue_id=2))  # one child done: room for one
    assert d.order(1)["children"] == MAX_LIVE_CHILDREN - 1
    assert sliced(d, START + 9 * S + S // 2) == 950 - 100 - 700
    assert d.order(1)["children"] == MAX_LIVE_CHILDREN


# ------------------------------------------------------------------ end of the window
def test_expiry_cancels_the_children_then_the_parent_expires():
    d = desk()
    accept(d)
    assert sliced(d, 11 * S) == 100
    assert sliced(d, 12 * S) == 100
    d.send(ack(2, venue_id=2), ack(3, venue_id=2))
    d.send(fill(2, 60, venue_id=2))
    ev = d.at(END, tick())
    assert names(ev) == ["VenueCancel", "VenueCancel"]
    assert [int(v["order_id"]) for v in ev] == [3, 2]
    assert names(d.at(END + S, tick())) == [], "nothing more while the cancels are out"
    assert d.send(cancelled(3, venue_id=2)) == []
    er, tr = d.send(fill(2, 10, venue_id=2))  # a late fill is booked
    assert (er["cum_qty"], er["working_qty"], er["ord_status"]) == (70, 30, R.STATUS_PARTIAL)
    (er,) = d.send(cancelled(2, venue_id=2))
    assert (er["exec_type"], er["ord_status"], er["reason"]) == (R.EXEC_EXPIRED, R.STATUS_EXPIRED, 0)
    assert (er["cum_qty"], er["leaves_qty"], er["working_qty"], er["avg_px"]) == (70, 0, 0, 50 * PX)
    assert chr(er["exec_type"]) == "C" and text(er["cl_ord_id"]) == "C1"
    p = d.order(1)
    assert (p["status"], p["leaves"], p["working"], p["children"]) == (R.STATUS_EXPIRED, 0, 0, 0)
    c = d.state.clients[1]
    assert (c["open_orders"], c["reserved"], c["open_notional"]) == (0, 0, 0)
    assert d.state.scalars[S_ALGOS_LIVE] == 0
    assert d.at(END + 2 * S, tick()) == []


def test_expiry_with_nothing_working_is_at_once():
    d = desk()
    accept(d)
    assert sliced(d, 11 * S) == 100
    d.send(fill(2, 100, venue_id=2))
    (er,) = d.at(END + 5 * S, tick())  # the first tick at or after the end
    assert (er["exec_type"], er["ord_status"], er["cum_qty"], er["leaves_qty"]) == (R.EXEC_EXPIRED, R.STATUS_EXPIRED, 100, 0)
    (cr,) = d.send(cancel("X1", orig_cl_ord_id="C1"))
    assert (cr["reason"], cr["ord_status"]) == (R.REASON_TOO_LATE, R.STATUS_EXPIRED)


def test_expiry_of_an_algo_that_never_started():
    d = desk()
    accept(d, start=END - S)
    (er,) = d.at(END, tick())
    assert (er["exec_type"], er["cum_qty"]) == (R.EXEC_EXPIRED, 0)


def test_the_schedule_reaches_the_whole_quantity_only_at_the_end():
    # As documented: the target is qty x the elapsed fraction, and the tick at end_ts
    # expires the algo instead of sending the last slice, so slicing alone never
    # completes the order (see the report: a broker would expect the last slice to go
    # out before the end).
    d = desk()
    accept(d, qty=100)
    assert sliced(d, 15 * S) == 50
    assert sliced(d, 19 * S) == 40
    d.send(fill(2, 50, venue_id=2))
    er, _ = d.send(fill(3, 40, venue_id=2))
    assert (er["ord_status"], er["cum_qty"], er["leaves_qty"]) == (R.STATUS_PARTIAL, 90, 10)
    assert sliced(d, END - 1000) == 9  # 99.9999% of 100 = 99, less 90 filled
    er, _ = d.send(fill(4, 9, venue_id=2))
    assert (er["cum_qty"], er["leaves_qty"]) == (99, 1)
    (er,) = d.at(END, tick())
    assert (er["exec_type"], er["cum_qty"], er["leaves_qty"]) == (R.EXEC_EXPIRED, 99, 0)


def test_ticks_that_carry_their_period_finish_the_schedule_by_the_last_tick():
    # The sequencer's ticks say how often they come: each slice aims one tick ahead, so
    # the tick one period before the end sends the rest and nothing is left to expire.
    d = desk()
    accept(d, qty=100)
    sent = [slices(d.at(ts, tick(period=2 * S))) for ts in range(12 * S, 20 * S, 2 * S)]
    assert [q for s in sent for _, q in s] == [40, 20, 20, 20]  # to 40% by 14 s, ... 100% by 20 s
    assert d.order(1)["working"] == 100


def test_a_client_cancel_during_expiry_wins():
    d = desk()
    accept(d)
    assert sliced(d, 11 * S) == 100
    d.send(ack(2, venue_id=2))
    assert names(d.at(END, tick())) == ["VenueCancel"]
    er, = d.send(cancel("X1", orig_cl_ord_id="C1"))  # nothing more to send to the venue
    assert er["exec_type"] == R.EXEC_PENDING_CANCEL
    (er,) = d.send(cancelled(2, venue_id=2))
    assert (er["exec_type"], text(er["cl_ord_id"])) == (R.EXEC_CANCELED, "X1")


# ------------------------------------------------------------------ cancel
def test_cancel_between_slices_ends_at_once():
    d = desk()
    accept(d)
    assert sliced(d, 11 * S) == 100
    d.send(fill(2, 100, venue_id=2))  # nothing at any venue now
    (er,) = d.at(11 * S, cancel("X1", orig_cl_ord_id="C1"))
    assert (er["exec_type"], er["ord_status"], er["cum_qty"], er["leaves_qty"], er["working_qty"]) == (
        R.EXEC_CANCELED, R.STATUS_CANCELED, 100, 0, 0)
    assert (text(er["cl_ord_id"]), text(er["orig_cl_ord_id"])) == ("X1", "C1")
    assert d.at(12 * S, tick()) == [] and d.state.scalars[S_ALGOS_LIVE] == 0


def test_cancel_before_the_window_ends_at_once():
    d = desk()
    accept(d)
    (er,) = d.at(2 * S, cancel("X1", order_id=1))
    assert (er["exec_type"], er["cum_qty"]) == (R.EXEC_CANCELED, 0)
    assert d.at(11 * S, tick()) == []


def test_operator_cancel_all_of_an_algo():
    d = desk()
    accept(d)
    assert sliced(d, 11 * S) == 100
    ev = d.at(11 * S, admin(R.ADMIN_CANCEL_ALL, 1, scope=R.KILL_SYMBOL))
    assert names(ev) == ["ExecReport", "VenueCancel", "Alert"]
    assert sliced(d, 12 * S) == 0
    (er,) = d.send(cancelled(2, venue_id=2))
    assert (er["exec_type"], text(er["cl_ord_id"])) == (R.EXEC_CANCELED, "C1")


def test_rejected_children_are_sent_again_on_the_next_tick():
    d = desk()
    accept(d)
    assert sliced(d, 11 * S) == 100
    assert d.send(venue_reject(2, venue_id=2)) == [], "an algo parent is not rejected"
    assert d.order(1)["status"] == R.STATUS_NEW
    assert sliced(d, 12 * S) == 200


# ------------------------------------------------------------------ replay determinism
LIVE = (R.STATUS_PENDING_NEW, R.STATUS_NEW, R.STATUS_PARTIAL)


def live_children(d, *parents):
    return [c for p in parents for c in child_ids(d.state, p) if d.order(c)["status"] in LIVE]


def rich_stream() -> Desk:
    """Two algos, a routed order and a direct one, market data, venue answers, a cancel
    and an expiry, with periodic digests in the output."""
    d = Desk(venues=VENUES, digest_every=7)
    d.send(*BOOKS)
    accept(d, TWAP, qty=600, cl="T1", at=1 * S)                 # order 1
    accept(d, VWAP, qty=900, max_pct=5000, cl="V1", at=1 * S)   # order 2
    d.at(2 * S, parent("R1", R.STRATEGY_SWEEP, qty=300, price=50 * PX + CENT), printed(1, 50 * PX, 50))
    (r1,) = live_children(d, 3)
    d.send(ack(r1, venue_id=2), fill(r1, 200, venue_id=2))
    for i in range(1, 12):
        t = START + i * S * 9 // 10
        d.at(t, executed(2, 21, 30 * i), printed(1, 50 * PX + CENT, 70), tick())
        for j, c in enumerate(live_children(d, 1, 2)):
            v = int(d.order(c)["venue_id"])
            if d.order(c)["status"] == R.STATUS_PENDING_NEW and (i + j) % 4 != 1:
                d.send(ack(c, venue_id=v))
            if (i + j) % 3 == 0:
                d.send(fill(c, max(1, int(d.order(c)["leaves"]) // 2), price=50 * PX, venue_id=v))
            elif (i + j) % 5 == 0:
                d.send(cancelled(c, venue_id=v))
            elif (i + j) % 7 == 0:
                d.send(venue_reject(c, venue_id=v))
        if i == 6:
            d.send(cancel("X1", orig_cl_ord_id="R1"))
            d.send(cancelled(r1, venue_id=2))
            d.send(new_order("D1", qty=10))
    d.at(END + S, tick())
    for c in live_children(d, 1, 2):
        d.send(cancelled(c, venue_id=int(d.order(c)["venue_id"])))
    d.send(admin(R.ADMIN_DIGEST))
    return d


def replay(stream, cuts=(), digest_every=7):
    bl = BusinessLogic(State.create(MID), digest_every)
    bounds = [0, *sorted(set(cuts)), len(stream)]
    return np.concatenate([bl.apply(stream[a:b]) for a, b in zip(bounds, bounds[1:])]), bl


def test_replay_is_byte_identical_whatever_the_batches_and_from_snapshots():
    d = rich_stream()
    stream, ref = d.stream(), d.events()
    h = ref.view(R.EVENT_HEADER)["type"]
    # the stream did what it says: both algos sliced and ended, digests were written
    assert (h == R.VENUE_ORDER).sum() > 10 and (h == R.STATE_DIGEST).sum() > 5
    assert d.order(1)["status"] in (R.STATUS_EXPIRED, R.STATUS_FILLED)
    assert d.order(2)["status"] in (R.STATUS_EXPIRED, R.STATUS_FILLED)
    assert (d.order(3)["status"], d.order(3)["cum"]) == (R.STATUS_CANCELED, 200)
    digest = d.state.digest()
    one, bl = replay(stream)
    assert one.tobytes() == ref.tobytes() and bl.state.digest() == digest
    rng = np.random.default_rng(7)
    for _ in range(4):
        cuts = rng.integers(0, len(stream), rng.integers(1, 30))
        out, bl = replay(stream, cuts)
        assert out.tobytes() == ref.tobytes() and bl.state.digest() == digest
    for at in (len(stream) // 3, len(stream) // 2, len(stream) - 5):
        a = BusinessLogic(State.create(MID), 7)
        first = a.apply(stream[:at])
        for restored in (State.from_used_arrays(a.state.used_arrays(), MID.orders),
                         State.from_arrays(a.state.arrays())):
            b = BusinessLogic(restored, 7)
            rest = b.apply(stream[at:])
            assert np.concatenate([first, rest]).tobytes() == ref.tobytes()
            assert b.state.digest() == digest
