"""L3 book arrays (sequencer/book.py): ITCH actions, level order, FIFO, the ref table,
the free list, bad input; differential against the plain-Python RefBooks."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sequencer import book as B
from sequencer import records as R
from sequencer.reference import RefBooks

BUY, SELL = R.SIDE_BUY, R.SIDE_SELL
BID, ASK = B.BID, B.ASK


def msgs(*rows):
    """MarketData records from (book, action letter, side, ref, new_ref, price, qty) rows;
    ts = row index + 1."""
    m = B.market_data(len(rows))
    for i, (b, a, side, ref, new_ref, price, qty) in enumerate(rows):
        m[i]["symbol_id"], m[i]["action"], m[i]["side"] = b, ord(a), side
        m[i]["ref"], m[i]["new_ref"], m[i]["price"], m[i]["qty"], m[i]["ts"] = ref, new_ref, price, qty, i + 1
    return m


def apply(bk, *rows):
    m = msgs(*rows)
    codes = np.zeros(len(m), np.int64)
    B.md_apply_batch(bk, m, codes)
    B.check_books(bk)
    return codes.tolist()


def add(b, ref, side, price, qty):
    return (b, "A", side, ref, 0, price, qty)


def snapshot(bk):
    return [a.tobytes() for a in bk]


def head(bk, b):
    h = bk[B.BK_HEADS][b]
    return {k: int(h[k]) for k in ("orders", "dropped", "last_trade_px", "last_trade_qty", "last_trade_ts",
                                    "volume", "trades", "last_ref")}


@pytest.fixture
def bk():
    return B.create_books(2, 8, 32)


# ---------------------------------------------------------------- levels and FIFO
def test_levels_sorted_best_last_and_depth_best_first(bk):
    assert apply(bk, add(0, 1, BUY, 100, 5), add(0, 2, BUY, 102, 1), add(0, 3, BUY, 101, 2),
                 add(0, 4, SELL, 105, 5), add(0, 5, SELL, 103, 1), add(0, 6, SELL, 104, 2)) == [0] * 6
    lv, h = bk[B.BK_LEVELS], bk[B.BK_HEADS]
    assert list(lv[0, BID, :3]["price"]) == [100, 101, 102]   # ascending: best bid last
    assert list(lv[0, ASK, :3]["price"]) == [105, 104, 103]   # descending: best ask last
    assert list(h[0]["nlevels"]) == [3, 3]
    assert B.depth(bk, 0, BID) == [(102, 1, 1), (101, 2, 1), (100, 5, 1)]
    assert B.depth(bk, 0, ASK) == [(103, 1, 1), (104, 2, 1), (105, 5, 1)]
    assert B.book_best(bk, 0, BID) == (102, 1) and B.book_best(bk, 0, ASK) == (103, 1)
    assert B.book_mid(bk, 0) == 102  # (102 + 103) // 2
    assert B.book_best(bk, 1, BID) == (0, 0) and B.book_mid(bk, 1) == 0


def test_depth_output_is_cut_to_the_buffer(bk):
    apply(bk, *[add(0, r, SELL, 100 + r, 1) for r in range(1, 6)])
    px, qty, cnt = np.zeros(2, np.int64), np.zeros(2, np.int64), np.zeros(2, np.int32)
    assert B.depth_of(bk, 0, ASK, px, qty, cnt) == 2
    assert list(px) == [101, 102]


def test_deep_levels_use_the_bisection(bk):
    bk = B.create_books(1, 64, 128)
    prices = list(range(1000, 1040))
    rng = np.random.default_rng(7)
    rng.shuffle(prices)
    assert apply(bk, *[add(0, i + 1, BUY, p, 1) for i, p in enumerate(prices)]) == [0] * 40
    assert [d[0] for d in B.depth(bk, 0, BID)] == list(range(1039, 999, -1))
    assert apply(bk, add(0, 100, BUY, 1005, 3), (0, "D", 0, 1 + prices.index(1001), 0, 0, 0)) == [0, 0]
    d = dict((p, q) for p, q, _ in B.depth(bk, 0, BID))
    assert d[1005] == 4 and 1001 not in d and len(d) == 39


def test_same_price_aggregates_in_time_priority(bk):
    apply(bk, add(0, 7, BUY, 100, 5), add(0, 3, BUY, 100, 2), add(0, 9, BUY, 100, 4))
    assert B.depth(bk, 0, BID) == [(100, 11, 3)]
    assert B.level_orders(bk, 0, BID, 100) == [7, 3, 9]
    assert apply(bk, (0, "E", 0, 7, 0, 0, 5)) == [0]  # the head goes: next in line is 3
    assert B.level_orders(bk, 0, BID, 100) == [3, 9]
    assert apply(bk, (0, "D", 0, 9, 0, 0, 0), add(0, 1, BUY, 100, 1)) == [0, 0]
    assert B.level_orders(bk, 0, BID, 100) == [3, 1]
    assert B.depth(bk, 0, BID) == [(100, 3, 2)]


def test_books_are_independent(bk):
    apply(bk, add(0, 1, BUY, 100, 5), add(1, 1, SELL, 200, 7))  # the same ref in two books
    assert B.book_find(bk, 0, 1) != B.book_find(bk, 1, 1)
    assert apply(bk, (1, "D", 0, 1, 0, 0, 0)) == [0]
    assert B.depth(bk, 0, BID) == [(100, 5, 1)] and B.depth(bk, 1, ASK) == []


# ---------------------------------------------------------------- ITCH actions
def test_executions_update_last_trade_and_volume(bk):
    apply(bk, add(0, 1, SELL, 100, 10), add(0, 2, SELL, 101, 10))
    assert apply(bk, (0, "E", 0, 1, 0, 999, 4)) == [0]  # E trades at the order's price
    h = head(bk, 0)
    assert (h["last_trade_px"], h["last_trade_qty"], h["last_trade_ts"], h["volume"], h["trades"]) == (100, 4, 1, 4, 1)
    assert apply(bk, (0, "C", 0, 2, 0, 105, 3)) == [0]  # C carries its own price
    h = head(bk, 0)
    assert (h["last_trade_px"], h["last_trade_qty"], h["volume"], h["trades"]) == (105, 3, 7, 2)
    assert B.depth(bk, 0, ASK) == [(100, 6, 1), (101, 7, 1)]


def test_execution_beyond_remaining_is_clipped(bk):
    apply(bk, add(0, 1, SELL, 100, 10))
    assert apply(bk, (0, "E", 0, 1, 0, 0, 25)) == [B.MD_QTY_CLIPPED]
    assert B.book_find(bk, 0, 1) == -1 and B.depth(bk, 0, ASK) == []
    assert head(bk, 0)["volume"] == 10 and head(bk, 0)["last_trade_qty"] == 10


def test_partial_cancel_then_cancel_beyond_remaining(bk):
    apply(bk, add(0, 1, BUY, 100, 10), add(0, 2, BUY, 100, 5))
    assert apply(bk, (0, "X", 0, 1, 0, 0, 4)) == [0]
    assert B.depth(bk, 0, BID) == [(100, 11, 2)]
    assert B.level_orders(bk, 0, BID, 100) == [1, 2]  # a partial cancel keeps priority
    assert apply(bk, (0, "X", 0, 1, 0, 0, 6)) == [0]  # exactly the remainder: gone
    assert apply(bk, (0, "X", 0, 2, 0, 0, 9)) == [B.MD_QTY_CLIPPED]
    assert B.depth(bk, 0, BID) == [] and head(bk, 0)["orders"] == 0
    assert head(bk, 0)["volume"] == 0  # cancels are not trades


def test_delete(bk):
    apply(bk, add(0, 1, BUY, 100, 10))
    assert apply(bk, (0, "D", 0, 1, 0, 0, 0), (0, "D", 0, 1, 0, 0, 0)) == [0, B.MD_UNKNOWN_REF]
    assert B.depth(bk, 0, BID) == []


def test_replace_moves_to_the_tail_with_a_new_ref(bk):
    apply(bk, add(0, 1, BUY, 100, 10), add(0, 2, BUY, 100, 5), add(0, 3, SELL, 110, 1))
    # Same price: the order loses priority. The side stays the order's whatever the message says.
    assert apply(bk, (0, "U", SELL, 1, 11, 100, 10)) == [0]
    assert B.level_orders(bk, 0, BID, 100) == [2, 11]
    assert B.book_find(bk, 0, 1) == -1
    assert apply(bk, (0, "U", 0, 11, 12, 101, 7)) == [0]
    assert B.depth(bk, 0, BID) == [(101, 7, 1), (100, 5, 1)]
    # The new ref must be free; a refused replace changes nothing.
    before = snapshot(bk)
    assert apply(bk, (0, "U", 0, 12, 3, 102, 1)) == [B.MD_DUPLICATE_REF]
    assert apply(bk, (0, "U", 0, 99, 13, 102, 1)) == [B.MD_UNKNOWN_REF]
    assert snapshot(bk) == before
    assert apply(bk, (0, "U", 0, 12, 12, 102, 2)) == [0]  # reusing its own ref is fine
    assert B.depth(bk, 0, BID) == [(102, 2, 1), (100, 5, 1)]


def test_trade_messages_touch_only_last_trade_and_volume(bk):
    apply(bk, add(0, 1, BUY, 100, 10))
    before = bk[B.BK_LEVELS].tobytes()
    assert apply(bk, (0, "P", BUY, 0, 0, 99, 30), (0, "Q", 0, 0, 0, 98, 5)) == [0, 0]
    assert bk[B.BK_LEVELS].tobytes() == before
    h = head(bk, 0)
    assert (h["last_trade_px"], h["last_trade_qty"], h["last_trade_ts"], h["volume"], h["trades"]) == (98, 5, 2, 35, 2)


@pytest.mark.parametrize("row, code", [
    ((2, "A", BUY, 1, 0, 100, 1), B.MD_BAD_BOOK),
    ((0, "Z", BUY, 1, 0, 100, 1), B.MD_UNKNOWN_ACTION),
    ((0, "B", BUY, 1, 0, 100, 1), B.MD_UNKNOWN_ACTION),  # broken trade: not handled
    ((0, "A", 0, 1, 0, 100, 1), B.MD_BAD_VALUE),
    ((0, "A", R.SIDE_SELL_SHORT, 1, 0, 100, 1), B.MD_BAD_VALUE),
    ((0, "A", BUY, 1, 0, 0, 1), B.MD_BAD_VALUE),
    ((0, "A", BUY, 1, 0, -100, 1), B.MD_BAD_VALUE),
    ((0, "A", BUY, 1, 0, B.PRICE_LIMIT + 1, 1), B.MD_BAD_VALUE),
    ((0, "A", BUY, 1, 0, 100, 0), B.MD_BAD_VALUE),
    ((0, "A", BUY, 1, 0, 100, B.QTY_LIMIT + 1), B.MD_BAD_VALUE),
    ((0, "A", BUY, 5, 0, 100, 1), B.MD_DUPLICATE_REF),
    ((0, "E", 0, 5, 0, 0, 0), B.MD_BAD_VALUE),
    ((0, "E", 0, 6, 0, 0, 1), B.MD_UNKNOWN_REF),
    ((0, "C", 0, 5, 0, 0, 1), B.MD_BAD_VALUE),
    ((0, "X", 0, 5, 0, 0, -3), B.MD_BAD_VALUE),
    ((0, "U", 0, 5, 6, 0, 1), B.MD_BAD_VALUE),
    ((0, "U", 0, 5, 6, 100, 0), B.MD_BAD_VALUE),
    ((0, "P", 0, 0, 0, 0, 5), B.MD_BAD_VALUE),
])
def test_bad_messages_return_a_code_and_change_nothing(bk, row, code):
    apply(bk, add(0, 5, BUY, 100, 10))
    before = snapshot(bk)
    assert apply(bk, row) == [code]
    assert snapshot(bk) == before


# ---------------------------------------------------------------- capacity
def test_full_side_drops_new_levels_only():
    bk = B.create_books(1, 2, 16)
    assert apply(bk, add(0, 1, BUY, 100, 1), add(0, 2, BUY, 101, 1), add(0, 3, BUY, 99, 1),
                 add(0, 4, BUY, 102, 1), add(0, 5, BUY, 100, 1), add(0, 6, SELL, 105, 1)) == [
        0, 0, B.MD_BOOK_FULL, B.MD_BOOK_FULL, 0, 0]
    assert head(bk, 0)["dropped"] == 2
    assert apply(bk, (0, "D", 0, 3, 0, 0, 0)) == [B.MD_UNKNOWN_REF]  # never got in
    # A replace to a price that no longer fits still removes the old order.
    assert apply(bk, (0, "U", 0, 5, 7, 98, 1)) == [B.MD_BOOK_FULL]
    assert B.depth(bk, 0, BID) == [(101, 1, 1), (100, 1, 1)] and head(bk, 0)["dropped"] == 3
    # A replace that empties its own level frees room for the new one.
    assert apply(bk, (0, "U", 0, 2, 8, 98, 4)) == [0]
    assert B.depth(bk, 0, BID) == [(100, 1, 1), (98, 4, 1)]


def test_full_pool_drops_adds_across_books():
    bk = B.create_books(2, 8, 3)
    assert apply(bk, add(0, 1, BUY, 100, 1), add(1, 1, BUY, 100, 1), add(1, 2, SELL, 101, 1),
                 add(0, 2, SELL, 101, 1)) == [0, 0, 0, B.MD_BOOK_FULL]
    assert head(bk, 0)["dropped"] == 1
    assert apply(bk, (1, "E", 0, 2, 0, 0, 1), add(0, 2, SELL, 101, 1)) == [0, 0]


def test_create_books_checks_its_arguments():
    with pytest.raises(ValueError):
        B.create_books(1, 4, 8, ref_slots=12)
    with pytest.raises(ValueError):
        B.create_books(1, 4, 8, ref_slots=8)  # must exceed max_orders: the table keeps an empty entry
    with pytest.raises(ValueError):
        B.create_books(0, 4, 8)
    assert len(B.create_books(1, 4, 9)[B.BK_REFS]) == 32


def test_all_zero_arrays_are_an_empty_set_of_books():
    bk = B.create_books(3, 4, 8)
    assert all(a.tobytes() == bytes(a.nbytes) for a in bk)
    B.check_books(bk)


# ---------------------------------------------------------------- slots and refs
def test_free_slots_are_zeroed_and_reused_last_in_first_out(bk):
    apply(bk, add(0, 1, BUY, 100, 1), add(0, 2, BUY, 100, 1), add(0, 3, BUY, 100, 1))
    assert [B.book_find(bk, 0, r) for r in (1, 2, 3)] == [0, 1, 2]
    apply(bk, (0, "D", 0, 2, 0, 0, 0), (0, "D", 0, 1, 0, 0, 0))
    orders, meta = bk[B.BK_ORDERS], bk[B.BK_META]
    freed = orders[1].copy()
    freed["next"] = 0
    assert freed.tobytes() == bytes(B.BOOK_ORDER.itemsize)  # all but the free-list link zeroed
    assert meta[B.META_FREE] == 1 and orders[0]["next"] == 1 and orders[1]["next"] == -1
    apply(bk, add(0, 4, SELL, 101, 1), add(0, 5, SELL, 101, 1), add(0, 6, SELL, 101, 1))
    assert [B.book_find(bk, 0, r) for r in (4, 5, 6)] == [0, 1, 3]
    assert meta[B.META_USED] == 4 and meta[B.META_LIVE] == 4


def test_direct_book_operations(bk):
    slot = B.book_add(bk, 1, 42, ASK, 250, 10, 7, 5)
    assert slot == 0 and B.book_add(bk, 1, 42, ASK, 251, 1, 7, 5) == B.ADD_DUPLICATE
    assert B.book_add(bk, 1, 43, 2, 250, 1, 7, 5) == B.ADD_BAD_VALUE
    assert B.book_find(bk, 1, 42) == slot and B.book_find(bk, 0, 42) == -1 and B.book_find(bk, 9, 42) == -1
    assert bk[B.BK_ORDERS][slot]["owner"] == 7
    assert B.book_reduce(bk, slot, 4) == 4 and B.book_best(bk, 1, ASK) == (250, 6)
    assert B.book_reduce(bk, slot, 0) == 0
    assert B.book_remove(bk, slot) == 6 and B.book_best(bk, 1, ASK) == (0, 0)
    assert B.book_remove(bk, slot) == 0 and B.book_reduce(bk, -1, 1) == 0  # free or bad slots: no-ops
    B.check_books(bk)


def test_ref_table_stays_consistent_under_heavy_churn():
    """A table one entry larger than the pool: long probe runs that wrap around, every
    deletion shifting entries back. After each op the table must agree with a dict."""
    n_orders = 31
    bk = B.create_books(3, 64, n_orders, ref_slots=32)
    rng = np.random.default_rng(2026)
    live: dict[tuple[int, int], int] = {}
    one = lambda v, t=np.int64: np.array([v], t)  # noqa: E731
    out = np.zeros(1, np.int64)
    for step in range(2000):
        b = int(rng.integers(0, 3))
        ref = int(rng.integers(0, 80)) * 1_000_003  # spread refs, with repeats
        if (b, ref) in live and rng.random() < 0.7 or len(live) == n_orders:
            if not live:
                continue
            b, ref = list(live)[int(rng.integers(0, len(live)))]
            B.reduce_batch(bk, one(b), one(ref, np.uint64), one(0), out)
            assert out[0] == live.pop((b, ref))
        else:
            qty = int(rng.integers(1, 50))
            B.add_batch(bk, one(b), one(ref, np.uint64), one(int(rng.integers(0, 2))), one(100 + int(rng.integers(0, 40))),
                        one(qty), one(0, np.uint32), one(step), out)
            if (b, ref) in live:
                assert out[0] == B.ADD_DUPLICATE
            else:
                assert out[0] >= 0
                live[(b, ref)] = qty
        if step % 10 == 0 or len(live) >= n_orders - 1:
            B.check_books(bk)
        for (lb, lr) in list(live)[:3]:
            assert B.book_find(bk, lb, lr) >= 0
    B.check_books(bk)
    assert bk[B.BK_META][B.META_LIVE] == len(live)


# ---------------------------------------------------------------- differential
N_BOOKS, MAX_LEVELS, MAX_ORDERS = 3, 3, 10
# Small domains weighted towards valid values, so refs collide, levels fill up and
# most messages find their order, with the odd invalid field among them.
actions = st.sampled_from("AAAAAAFEEECXXXDDUUUPQZ")
books_ = st.sampled_from([0, 0, 0, 0, 1, 1, 2, 3])
refs_ = st.sampled_from([1, 2, 3, 4, 5, 6, 7, 8, 0])
prices_ = st.sampled_from([100, 101, 101, 102, 102, 102, 103, 103, 104, 105] * 2 + [0, -1, B.PRICE_LIMIT + 1])
qtys_ = st.sampled_from([1, 2, 5, 5, 10, 10, 10, 50] * 2 + [0, -1, B.QTY_LIMIT + 1])
sides_ = st.sampled_from([BUY] * 6 + [SELL] * 6 + [0, R.SIDE_SELL_SHORT])


@st.composite
def md_streams(draw, max_size=80):
    """Messages; those naming an order mostly name one added before (maybe gone since)."""
    rows, added = [], []
    for _ in range(draw(st.integers(1, max_size))):
        b, a, side, ref, new_ref, price, qty = draw(st.tuples(books_, actions, sides_, refs_, refs_, prices_, qtys_))
        if a in "ECXDU" and added and draw(st.integers(0, 5)):
            b, ref = added[draw(st.integers(0, len(added) - 1))]
        if a in "AF":
            added.append((b, ref))
        elif a == "U":
            added.append((b, new_ref))
        rows.append((b, a, side, ref, new_ref, price, qty))
    return msgs(*rows)


def ref_state(ref, b):
    """Depth, the refs of every level in priority order, and the head counters."""
    rb = ref.books[b]
    queues = [[list(rb.levels[side][p]) for p in rb.prices(side)] for side in (BID, ASK)]
    return rb.depth(BID), rb.depth(ASK), queues, rb.head()


def kernel_state(bk, b):
    queues = [[B.level_orders(bk, b, side, p) for p, _, _ in B.depth(bk, b, side)] for side in (BID, ASK)]
    return B.depth(bk, b, BID), B.depth(bk, b, ASK), queues, head(bk, b)


SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(md_streams())
def test_md_apply_matches_the_reference_after_every_message(stream):
    bk = B.create_books(N_BOOKS, MAX_LEVELS, MAX_ORDERS)
    ref = RefBooks(N_BOOKS, MAX_LEVELS, MAX_ORDERS)
    code = np.zeros(1, np.int64)
    for i in range(len(stream)):
        m = stream[i]
        B.md_apply_batch(bk, stream[i:i + 1], code)
        expected = ref.md_apply(int(m["symbol_id"]), int(m["action"]), int(m["side"]), int(m["ref"]),
                                int(m["new_ref"]), int(m["price"]), int(m["qty"]), int(m["ts"]))
        assert code[0] == expected, f"message {i}: {chr(m['action'])}"
        for b in range(N_BOOKS):
            assert kernel_state(bk, b) == ref_state(ref, b), f"message {i}, book {b}"
            assert B.book_best(bk, b, BID) == ref.books[b].best(BID)
            assert B.book_best(bk, b, ASK) == ref.books[b].best(ASK)
        assert bk[B.BK_META][B.META_LIVE] == ref.pool.live
    B.check_books(bk)


@SETTINGS
@given(md_streams(max_size=60), st.integers(0, 60))
def test_same_stream_gives_byte_identical_arrays(stream, cut):
    """Fresh arrays, the same messages: the same bytes, whether in one batch or two."""
    runs = []
    for split in (len(stream), min(cut, len(stream))):
        bk = B.create_books(N_BOOKS, MAX_LEVELS, MAX_ORDERS)
        codes = np.zeros(len(stream), np.int64)
        B.md_apply_batch(bk, stream[:split], codes[:split])
        B.md_apply_batch(bk, stream[split:], codes[split:])
        runs.append((snapshot(bk), codes.tolist()))
    assert runs[0] == runs[1]
