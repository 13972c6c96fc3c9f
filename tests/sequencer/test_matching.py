"""Matching engine (sequencer/matching.py): one test per rule, then a differential test
against the plain-Python RefMatcher over random op streams."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sequencer import book as B
from sequencer import matching as M
from sequencer import records as R
from sequencer.reference import RefMatcher

BUY, SELL = R.SIDE_BUY, R.SIDE_SELL
LIMIT, MARKET = R.ORD_LIMIT, R.ORD_MARKET
DAY, IOC, FOK = R.TIF_DAY, R.TIF_IOC, R.TIF_FOK
FILL_FIELDS = [n for n in M.FILL.names if n != "_pad"]
RESULT_FIELDS = ["ref", "executed", "resting", "cancelled", "fill_start", "nfills", "status"]


class Engine:
    """Books + a fills buffer; each call runs one op through ``run_ops``."""

    def __init__(self, n_books=2, max_levels=8, max_orders=32, fills=64):
        self.bk = B.create_books(n_books, max_levels, max_orders)
        self.fills = np.zeros(fills, M.FILL)
        self.nf = 0
        self.ts = 0

    def run(self, **fields):
        ops = M.new_ops(1)
        self.ts += 1
        ops[0]["ts"] = self.ts
        for k, v in fields.items():
            ops[0][k] = v
        res = np.zeros(1, M.RESULT)
        n = M.run_ops(self.bk, ops, self.fills[self.nf:], res)
        new_fills = [dict(zip(FILL_FIELDS, f)) for f in self.fills[self.nf:self.nf + n][FILL_FIELDS].tolist()]
        self.nf += n
        B.check_books(self.bk)
        return dict(zip(RESULT_FIELDS, res[0][RESULT_FIELDS].tolist())), new_fills

    def new(self, side, qty, price=0, owner=1, book=0, ord_type=LIMIT, tif=DAY, post_only=0, min_qty=0):
        return self.run(kind=M.OP_NEW, side=side, qty=qty, price=price, owner=owner, book=book,
                        ord_type=ord_type, tif=tif, post_only=post_only, min_qty=min_qty)

    def cancel(self, ref, owner=1, book=0):
        return self.run(kind=M.OP_CANCEL, ref=ref, owner=owner, book=book)[0]

    def replace(self, ref, price, qty, owner=1, book=0):
        return self.run(kind=M.OP_REPLACE, ref=ref, price=price, qty=qty, owner=owner, book=book)

    def depth(self, side, book=0):
        return B.depth(self.bk, book, side)

    def snapshot(self):
        return [a.tobytes() for a in self.bk]


@pytest.fixture
def eng():
    return Engine()


def trades(fills):
    return [(f["maker_ref"], f["price"], f["qty"]) for f in fills]


# ---------------------------------------------------------------- crossing
def test_limit_cross_trades_at_the_maker_price(eng):
    r, _ = eng.new(SELL, 10, 100, owner=2)
    assert r["status"] == M.ACCEPTED and r["ref"] == 1 and r["resting"] == 10
    r, fills = eng.new(BUY, 10, 105, owner=3)
    assert (r["status"], r["ref"], r["executed"], r["resting"]) == (M.ACCEPTED, 2, 10, 0)
    assert fills == [dict(match_id=1, taker_ref=2, maker_ref=1, price=100, qty=10, maker_leaves=0,
                          taker_leaves=0, ts=2, book=0, maker_owner=2, taker_owner=3, taker_side=BUY)]
    assert eng.depth(B.ASK) == [] and eng.depth(B.BID) == []
    h = eng.bk[B.BK_HEADS][0]
    assert (h["last_trade_px"], h["last_trade_qty"], h["volume"], h["trades"]) == (100, 10, 10, 1)


def test_partial_fills_across_levels_then_rest(eng):
    for px in (100, 101, 102):
        eng.new(SELL, 5, px, owner=2)
    r, fills = eng.new(BUY, 12, 101)
    assert (r["executed"], r["resting"], r["nfills"]) == (10, 2, 2)
    assert [(f["price"], f["qty"], f["maker_leaves"], f["taker_leaves"]) for f in fills] == [
        (100, 5, 0, 7), (101, 5, 0, 2)]
    assert eng.depth(B.BID) == [(101, 2, 1)] and eng.depth(B.ASK) == [(102, 5, 1)]
    r, fills = eng.new(SELL, 3, 90)  # a sell through the bid trades at the bid
    assert trades(fills) == [(4, 101, 2)] and r["resting"] == 1 and eng.depth(B.ASK)[0] == (90, 1, 1)


def test_time_priority_within_a_level(eng):
    a, _ = eng.new(SELL, 5, 100, owner=7)
    b, _ = eng.new(SELL, 5, 100, owner=8)
    _, fills = eng.new(BUY, 7, 100)
    assert [(f["maker_ref"], f["maker_owner"], f["qty"], f["maker_leaves"]) for f in fills] == [
        (a["ref"], 7, 5, 0), (b["ref"], 8, 2, 3)]


def test_market_orders_never_rest(eng):
    eng.new(SELL, 10, 100, owner=2)
    eng.new(SELL, 5, 120, owner=2)
    r, fills = eng.new(BUY, 20, ord_type=MARKET)  # no price limit
    assert (r["status"], r["executed"], r["resting"], r["cancelled"]) == (M.CANCELLED_REMAINDER, 15, 0, 5)
    assert trades(fills) == [(1, 100, 10), (2, 120, 5)]
    assert eng.depth(B.BID) == []
    r, fills = eng.new(SELL, 5, ord_type=MARKET, tif=DAY)  # empty book: nothing, still a ref
    assert (r["status"], r["executed"], r["cancelled"], fills) == (M.CANCELLED_REMAINDER, 0, 5, [])
    assert r["ref"] == 4


def test_ioc_remainder_is_cancelled(eng):
    eng.new(SELL, 4, 100, owner=2)
    r, fills = eng.new(BUY, 10, 100, tif=IOC)
    assert (r["status"], r["executed"], r["resting"], r["cancelled"]) == (M.CANCELLED_REMAINDER, 4, 0, 6)
    assert eng.depth(B.BID) == []
    r, _ = eng.new(BUY, 10, 100, tif=IOC)
    assert (r["status"], r["executed"]) == (M.CANCELLED_REMAINDER, 0)


def test_fok_is_all_or_nothing(eng):
    eng.new(SELL, 4, 100, owner=2)
    eng.new(SELL, 4, 101, owner=2)
    before = eng.snapshot()
    r, fills = eng.new(BUY, 9, 101, tif=FOK)
    assert (r["status"], r["ref"], r["executed"], fills) == (M.FOK_NOT_FILLED, 0, 0, [])
    assert eng.snapshot() == before  # not even a ref handed out
    r, fills = eng.new(BUY, 8, 100, tif=FOK)  # enough qty, but not at this price
    assert r["status"] == M.FOK_NOT_FILLED and eng.snapshot() == before
    r, fills = eng.new(BUY, 7, 101, tif=FOK)
    assert (r["status"], r["ref"], r["executed"]) == (M.ACCEPTED, 3, 7)
    assert trades(fills) == [(1, 100, 4), (2, 101, 3)]


def test_post_only_never_takes(eng):
    eng.new(SELL, 5, 100, owner=2)
    before = eng.snapshot()
    r, _ = eng.new(BUY, 5, 100, post_only=1)
    assert (r["status"], r["ref"]) == (M.REJECT_POST_ONLY, 0) and eng.snapshot() == before
    r, _ = eng.new(BUY, 5, 99, post_only=1)
    assert (r["status"], r["resting"]) == (M.ACCEPTED, 5)
    for kw in (dict(tif=IOC), dict(tif=FOK), dict(ord_type=MARKET)):
        assert eng.new(BUY, 5, 99, post_only=1, **kw)[0]["status"] == M.REJECT_BAD_VALUE
    # A post-only order stays post-only when replaced.
    before = eng.snapshot()
    r, _ = eng.replace(r["ref"], 100, 5)
    assert (r["status"], r["resting"]) == (M.REJECT_POST_ONLY, 5) and eng.snapshot() == before


def test_min_qty_is_checked_at_entry(eng):
    eng.new(SELL, 5, 100, owner=2)
    before = eng.snapshot()
    for tif in (IOC, FOK, DAY):  # DAY too: it crosses, so resting untouched would cross the book
        r, _ = eng.new(BUY, 10, 100, tif=tif, min_qty=6)
        assert r["status"] in (M.MIN_QTY_NOT_MET, M.FOK_NOT_FILLED) and r["ref"] == 0
        assert eng.snapshot() == before
    r, _ = eng.new(BUY, 10, 100, ord_type=MARKET, min_qty=6)
    assert r["status"] == M.MIN_QTY_NOT_MET and eng.snapshot() == before
    r, _ = eng.new(BUY, 10, 99, min_qty=6)  # does not cross: rests like any DAY order
    assert (r["status"], r["resting"]) == (M.ACCEPTED, 10)
    r, fills = eng.new(BUY, 10, 100, tif=IOC, min_qty=5)
    assert (r["status"], r["executed"]) == (M.CANCELLED_REMAINDER, 5)
    assert eng.new(BUY, 10, 100, min_qty=11)[0]["status"] == M.REJECT_BAD_VALUE  # above qty


# ---------------------------------------------------------------- cancel and replace
def test_cancel_only_by_its_owner(eng):
    r, _ = eng.new(BUY, 10, 100, owner=5)
    before = eng.snapshot()
    assert eng.cancel(r["ref"], owner=6)["status"] == M.REJECT_UNKNOWN_REF
    assert eng.cancel(r["ref"], owner=5, book=1)["status"] == M.REJECT_UNKNOWN_REF
    assert eng.cancel(99, owner=5)["status"] == M.REJECT_UNKNOWN_REF
    assert eng.snapshot() == before
    c = eng.cancel(r["ref"], owner=5)
    assert (c["status"], c["cancelled"], c["ref"]) == (M.CANCELLED, 10, r["ref"])
    assert eng.cancel(r["ref"], owner=5)["status"] == M.REJECT_UNKNOWN_REF
    assert eng.depth(B.BID) == []


def test_match_cancel_returns_the_qty(eng):
    r, _ = eng.new(BUY, 10, 100, owner=5)
    assert M.match_cancel(eng.bk, 0, r["ref"], 4) == 0
    assert M.match_cancel(eng.bk, 0, r["ref"], 5) == 10
    assert M.match_cancel(eng.bk, 0, r["ref"], 5) == 0


def test_replace_size_down_keeps_priority(eng):
    a, _ = eng.new(SELL, 10, 100, owner=1)
    b, _ = eng.new(SELL, 10, 100, owner=2)
    r, fills = eng.replace(a["ref"], 100, 4, owner=1)
    assert (r["status"], r["resting"], fills) == (M.ACCEPTED, 4, [])
    _, fills = eng.new(BUY, 3, 100, owner=9)
    assert trades(fills) == [(a["ref"], 100, 3)]  # still first in line


def test_replace_size_up_or_price_change_loses_priority(eng):
    a, _ = eng.new(SELL, 10, 100, owner=1)
    b, _ = eng.new(SELL, 10, 100, owner=2)
    assert eng.replace(a["ref"], 100, 11, owner=1)[0]["resting"] == 11
    _, fills = eng.new(BUY, 3, 100, owner=9)
    assert trades(fills) == [(b["ref"], 100, 3)]
    assert eng.replace(b["ref"], 101, 7, owner=2)[0]["status"] == M.ACCEPTED
    assert eng.replace(b["ref"], 100, 7, owner=2)[0]["status"] == M.ACCEPTED  # back, behind a
    _, fills = eng.new(BUY, 12, 100, owner=9)
    assert trades(fills) == [(a["ref"], 100, 11), (b["ref"], 100, 1)]


def test_replace_that_crosses_executes_with_the_same_ref(eng):
    bid, _ = eng.new(BUY, 10, 99, owner=1)
    eng.new(SELL, 4, 100, owner=2)
    r, fills = eng.replace(bid["ref"], 100, 10, owner=1)
    assert (r["status"], r["ref"], r["executed"], r["resting"]) == (M.ACCEPTED, bid["ref"], 4, 6)
    assert [(f["taker_ref"], f["price"], f["qty"], f["taker_side"]) for f in fills] == [(bid["ref"], 100, 4, BUY)]
    assert eng.depth(B.BID) == [(100, 6, 1)] and eng.depth(B.ASK) == []
    assert B.book_find(eng.bk, 0, bid["ref"]) >= 0 and eng.bk[B.BK_HEADS][0]["last_ref"] == 2


def test_replace_to_zero_cancels_and_bad_replace_changes_nothing(eng):
    r, _ = eng.new(BUY, 10, 99, owner=1)
    before = eng.snapshot()
    for price, qty, owner, st_ in ((0, 5, 1, M.REJECT_BAD_VALUE), (99, B.QTY_LIMIT + 1, 1, M.REJECT_BAD_VALUE),
                                   (99, 5, 2, M.REJECT_UNKNOWN_REF)):
        res, _ = eng.replace(r["ref"], price, qty, owner=owner)
        assert res["status"] == st_ and eng.snapshot() == before
    res, _ = eng.replace(r["ref"], 0, 0)
    assert (res["status"], res["cancelled"], res["resting"]) == (M.CANCELLED, 10, 0)
    assert eng.depth(B.BID) == []


# ---------------------------------------------------------------- refusals and capacity
@pytest.mark.parametrize("kw", [
    dict(side=3), dict(side=0), dict(ord_type=3), dict(tif=1), dict(qty=0), dict(qty=-5),
    dict(qty=B.QTY_LIMIT + 1), dict(price=0), dict(price=-1), dict(price=B.PRICE_LIMIT + 1),
    dict(min_qty=-1), dict(book=2), dict(book=-1),
])
def test_bad_values_are_rejected_untouched(eng, kw):
    eng.new(SELL, 5, 100, owner=2)
    before = eng.snapshot()
    args = dict(side=BUY, qty=10, price=100) | kw
    r, _ = eng.new(**args)
    assert (r["status"], r["ref"]) == (M.REJECT_BAD_VALUE, 0) and eng.snapshot() == before
    assert eng.run(kind=9)[0]["status"] == M.REJECT_BAD_VALUE


def test_sell_short_trades_as_a_sell(eng):
    eng.new(BUY, 5, 100, owner=2)
    r, fills = eng.new(R.SIDE_SELL_SHORT, 5, 100)
    assert r["executed"] == 5 and fills[0]["taker_side"] == SELL


def test_a_full_fills_buffer_rejects_before_anything_happens():
    eng = Engine(fills=2)
    for _ in range(3):
        eng.new(SELL, 1, 100, owner=2)
    before = eng.snapshot()
    r, _ = eng.new(BUY, 3, 100)
    assert (r["status"], r["executed"]) == (M.REJECT_FILLS_FULL, 0) and eng.snapshot() == before
    r, fills = eng.new(BUY, 2, 100)
    assert r["executed"] == 2 and len(fills) == 2


def test_no_room_to_rest_rejects_before_executing():
    eng = Engine(max_levels=2, max_orders=4)
    eng.new(BUY, 1, 98)
    eng.new(BUY, 1, 99)
    eng.new(SELL, 1, 101, owner=2)
    before = eng.snapshot()
    r, _ = eng.new(BUY, 5, 101)  # would take the ask, then need a third bid level
    assert (r["status"], r["executed"]) == (M.REJECT_BOOK_FULL, 0) and eng.snapshot() == before
    assert eng.new(BUY, 5, 97)[0]["status"] == M.REJECT_BOOK_FULL
    assert eng.new(BUY, 5, 101, tif=IOC)[0]["executed"] == 1  # IOC needs no room
    assert eng.new(BUY, 5, 99)[0]["status"] == M.ACCEPTED   # existing level: fine
    assert eng.new(BUY, 1, 98)[0]["status"] == M.ACCEPTED
    assert eng.new(SELL, 1, 120, owner=2)[0]["status"] == M.REJECT_BOOK_FULL  # pool: 4 orders live
    r, _ = eng.new(SELL, 7, 99, owner=2)  # takes both 99 bids: their slots make room for the rest
    assert (r["status"], r["executed"], r["resting"]) == (M.ACCEPTED, 6, 1)


def test_refs_are_handed_out_per_book_in_order(eng):
    assert eng.new(BUY, 1, 100)[0]["ref"] == 1
    assert eng.new(BUY, 1, 0)[0]["ref"] == 0  # rejected: no ref used
    assert eng.new(BUY, 1, 100, book=1)[0]["ref"] == 1
    assert eng.new(BUY, 1, 100)[0]["ref"] == 2


def test_match_order_direct_call(eng):
    """The inline API, called from Python: same answers as through run_ops."""
    eng.new(SELL, 5, 100, owner=2)
    st_, ref, executed, resting, nf = M.match_order(eng.bk, 0, 3, BUY, LIMIT, DAY, 0, 0, 101, 8, 7, eng.fills, 0)
    assert (st_, ref, executed, resting, nf) == (M.ACCEPTED, 2, 5, 3, 1)
    st_, executed, resting, cancelled, nf = M.match_replace(eng.bk, 0, ref, 3, 102, 2, 8, eng.fills, nf)
    assert (st_, executed, resting, cancelled, nf) == (M.ACCEPTED, 0, 2, 0, 1)


# ---------------------------------------------------------------- differential
N_BOOKS, MAX_LEVELS, MAX_ORDERS, FILLS = 2, 3, 10, 6  # FILLS: small enough to run out now and then
kinds = st.sampled_from([M.OP_NEW] * 6 + [M.OP_CANCEL] * 2 + [M.OP_REPLACE] * 3)
sides = st.sampled_from([BUY] * 5 + [SELL] * 4 + [R.SIDE_SELL_SHORT])
ord_types = st.sampled_from([LIMIT] * 7 + [MARKET])
tifs = st.sampled_from([DAY] * 6 + [IOC, IOC, FOK, FOK])
post_onlys = st.sampled_from([0] * 7 + [1])
min_qtys = st.sampled_from([0] * 7 + [1, 5, 20])
prices = st.sampled_from([98, 99, 99, 100, 100, 100, 101, 101, 102])
qtys = st.sampled_from([1, 3, 5, 5, 10, 10, 20])
# One field of about one op in ten gets a value the engine must refuse.
BAD_FIELDS = st.sampled_from([("kind", 0), ("kind", 9), ("book", 2), ("side", 0), ("side", 4), ("ord_type", 9),
                              ("tif", 7), ("price", 0), ("price", -1), ("qty", 0), ("qty", -1), ("min_qty", -1),
                              ("owner", 9), ("ref", 0), ("ref", 40)])


@st.composite
def op_streams(draw, max_size=50):
    """(ops, picks): picks[i] >= 0 asks the test to aim cancel / replace i at the
    picks[i]-th live order of its book (refs are the engine's, known only as it runs)."""
    rows, picks = [], []
    for i in range(draw(st.integers(1, max_size))):
        kind = draw(kinds)
        row = dict(kind=kind, book=draw(st.sampled_from([0, 0, 0, 1])), owner=draw(st.sampled_from([1, 2, 3])),
                   side=draw(sides), ord_type=draw(ord_types), tif=draw(tifs), post_only=draw(post_onlys),
                   min_qty=draw(min_qtys), price=draw(prices), qty=draw(qtys), ref=draw(st.integers(1, 12)), ts=i + 1)
        pick = -1
        if kind != M.OP_NEW:
            pick = draw(st.integers(-1, 8))
            if kind == M.OP_REPLACE and draw(st.booleans()):
                row["qty"] = draw(st.sampled_from([1, 3, 10, 0]))
        if draw(st.integers(0, 9)) == 0:
            field, value = draw(BAD_FIELDS)
            row[field] = value
            pick = -1 if field in ("ref", "owner") else pick
        rows.append(row)
        picks.append(pick)
    ops = M.new_ops(len(rows))
    for i, row in enumerate(rows):
        for k, v in row.items():
            ops[i][k] = v
    return ops, picks


def as_dict(op):
    return {k: int(op[k]) for k in M.OPS.names if k != "_pad"}


def book_state(eng_bk, ref, b):
    rb = ref.books[b]
    mine = (B.depth(eng_bk, b, B.BID), B.depth(eng_bk, b, B.ASK),
            [[B.level_orders(eng_bk, b, s, p) for p, _, _ in B.depth(eng_bk, b, s)] for s in (B.BID, B.ASK)],
            {k: int(eng_bk[B.BK_HEADS][b][k]) for k in rb.head()})
    theirs = (rb.depth(B.BID), rb.depth(B.ASK),
              [[list(rb.levels[s][p]) for p in rb.prices(s)] for s in (B.BID, B.ASK)], rb.head())
    return mine, theirs


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(op_streams())
def test_run_ops_matches_the_reference_after_every_op(stream):
    ops, picks = stream
    bk = B.create_books(N_BOOKS, MAX_LEVELS, MAX_ORDERS)
    fills = np.zeros(FILLS, M.FILL)
    ref = RefMatcher(N_BOOKS, MAX_LEVELS, MAX_ORDERS, fills_capacity=FILLS)
    res = np.zeros(1, M.RESULT)
    nf = 0
    for i in range(len(ops)):
        b = int(ops[i]["book"])
        if picks[i] >= 0 and b < N_BOOKS and ref.books[b].orders:
            live = sorted(ref.books[b].orders)
            target = live[picks[i] % len(live)]
            ops[i]["ref"], ops[i]["owner"] = target, ref.books[b].orders[target].owner
        n = M.run_ops(bk, ops[i:i + 1], fills[nf:], res)
        got = tuple(res[0][RESULT_FIELDS].tolist())
        got = got[:4] + (got[4] + nf,) + got[5:]  # fill_start within the whole buffer
        expected = ref.run(as_dict(ops[i]))
        assert got == expected, f"op {i}: {as_dict(ops[i])}"
        assert fills[nf:nf + n][FILL_FIELDS].tolist() == ref.fills[nf:nf + n]
        nf += n
        for b in range(N_BOOKS):
            mine, theirs = book_state(bk, ref, b)
            assert mine == theirs, f"op {i}, book {b}"
    B.check_books(bk)

    # The whole stream in one call: the same results, fills and bytes.
    bk2 = B.create_books(N_BOOKS, MAX_LEVELS, MAX_ORDERS)
    fills2 = np.zeros(FILLS, M.FILL)
    results = np.zeros(len(ops), M.RESULT)
    assert M.run_ops(bk2, ops, fills2, results) == nf
    assert [a.tobytes() for a in bk2] == [a.tobytes() for a in bk]
    assert fills2.tobytes() == fills.tobytes()
