"""L3 order books as plain numpy arrays, shared by market-data books and the matcher.

A set of books is the tuple ``create_books`` returns, in the order of the ``BK_*``
constants: ``(heads, levels, orders, refs, meta)``.

- ``heads[b]`` (``BOOK``): per-book counters, last trade, cumulative volume.
- ``levels[b, side, :]`` (``LEVEL``): the price levels of one side, sorted with the
  BEST price at the END of the used part (``heads[b].nlevels[side]`` entries): bids
  ascending, asks descending. Most changes happen near the touch, so keeping the touch
  at the end means an insert or removal there shifts few entries. A level holds the
  FIFO (head/tail order slots) of its orders and their summed qty.
- ``orders`` (``BOOK_ORDER``): one pool of order slots for all books. Freed slots are
  zeroed and pushed on a free list (``meta[META_FREE]``, slot + 1, 0 = none) and
  reused last-in first-out; ``meta[META_USED]`` is the high-water mark.
- ``refs`` (``REF_ENTRY``): open-addressing table (book, ref) -> slot + 1 (0 = empty),
  linear probing, a fixed multiply-xorshift hash and backward-shift deletion, so there
  are no tombstones and probes never get longer with churn.

Everything is packed and zero-initialised, every write is a function of the inputs
only, and freed slots / levels are zeroed: two processes that applied the same
messages hold byte-identical arrays (they are snapshotted and digested as state).
An all-zero set of arrays is a valid empty set of books.

Sides: the ``book_*`` functions take 0 = bid (``BID``) / 1 = ask (``ASK``); ``md_apply``
and the matcher take ``records.SIDE_*``. The ``book_*`` functions and ``md_apply`` are
``inline="always"`` so kernels can inline them; ``*_batch`` drivers are plain kernels for
tests and benchmarks (``_reduce_at``, the removal, is a plain call: see there). As in
kernels.py everything is compiled with ``_nrt=False``, so no function here can allocate.

Market data (``md_apply``, ITCH 5.0 message letters as in ``records.MarketData``):
A/F add, E executed (at the order's price), C executed with price, X partial cancel,
D delete, U replace (new ref, price and qty; side and owner kept; the new order joins
its level's tail), P non-displayed trade and Q cross trade (last trade and volume
only). Decisions:

- Nothing is ever raised; a message that does not fit returns a ``MD_*`` code and
  changes nothing, except as listed here.
- E, C or X for more than the order's remaining qty: the order is removed (the feed
  says at least that much is gone) and ``MD_QTY_CLIPPED`` is returned. E and C count
  only the qty the book held in volume and last trade qty.
- C's printable flag is not carried by ``records.MarketData``: every C counts.
- Capacity: an add with no free order slot, or at a new price on a side that already
  has ``max_levels`` levels, is dropped (``heads[b].dropped``, ``MD_BOOK_FULL``); later
  messages for that ref then return ``MD_UNKNOWN_REF``. A U whose new order is dropped
  still removes the old order.
- Values: qty must be in (0, QTY_LIMIT], prices in (0, PRICE_LIMIT]; with
  max_orders <= MAX_ORDERS no level sum can overflow int64.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from . import records as R

# ---------------------------------------------------------------- layouts
BOOK = np.dtype([
    ("nlevels", "<i4", (2,)),   # used levels per side
    ("orders", "<i4"),          # live orders in this book
    ("dropped", "<i4"),         # adds refused for capacity (no order slot / side full)
    ("last_trade_px", "<i8"), ("last_trade_qty", "<i8"), ("last_trade_ts", "<i8"),
    ("volume", "<i8"),          # cumulative executed qty
    ("trades", "<i8"),          # executions counted in volume (the matcher's match ids)
    ("last_ref", "<u8"),        # last ref the matcher handed out in this book (refs start at 1)
])

LEVEL = np.dtype([
    ("price", "<i8"),
    ("qty", "<i8"),             # sum of the orders' remaining qty
    ("count", "<i4"),           # orders at this level
    ("head", "<i4"), ("tail", "<i4"),  # FIFO of order slots: head trades first
    ("_pad", "<i4"),
])

BOOK_ORDER = np.dtype([
    ("ref", "<u8"),
    ("price", "<i8"),
    ("qty", "<i8"),             # remaining
    ("ts", "<i8"),              # when it joined its level (priority)
    ("book", "<i4"),
    ("owner", "<u4"),           # client / agent id; 0 for market data
    ("prev", "<i4"), ("next", "<i4"),  # FIFO links (-1 none); next chains the free list
    ("side", "u1"),             # BID / ASK
    ("flags", "u1"),            # FLAG_*
    ("_pad", "u1", (6,)),
])

REF_ENTRY = np.dtype([("ref", "<u8"), ("book", "<i4"), ("slot1", "<i4")])  # slot1 = slot + 1, 0 = empty

# Tuple positions of a set of books.
BK_HEADS, BK_LEVELS, BK_ORDERS, BK_REFS, BK_META = range(5)
ARRAY_NAMES = ("heads", "levels", "orders", "refs", "meta")

# meta (int64) entries.
META_FREE = 0        # first free slot + 1 (0: the free list is empty)
META_USED = 1        # slots ever handed out (high-water mark)
META_LIVE = 2        # live orders, all books
N_META = 4

BID, ASK = 0, 1
FLAG_LIVE = 1
FLAG_POST_ONLY = 2   # set by the matcher, honoured on replace

QTY_LIMIT = 1 << 36
PRICE_LIMIT = 1 << 60
MAX_ORDERS = 1 << 26          # x QTY_LIMIT stays below 2**63: level sums cannot overflow
LINEAR_LEVELS = 8             # levels scanned from the touch before a binary search

# book_add errors (negative, so a slot >= 0 means success).
ADD_DUPLICATE = -1
ADD_POOL_FULL = -2
ADD_SIDE_FULL = -3
ADD_BAD_VALUE = -4

# md_apply codes.
MD_OK = 0
MD_UNKNOWN_REF = 1
MD_DUPLICATE_REF = 2
MD_BAD_VALUE = 3
MD_BOOK_FULL = 4
MD_UNKNOWN_ACTION = 5
MD_QTY_CLIPPED = 6   # applied: E/C/X for more than the remaining qty removed the order
MD_BAD_BOOK = 7
MD_CODE_NAMES = {MD_OK: "ok", MD_UNKNOWN_REF: "unknown ref", MD_DUPLICATE_REF: "duplicate ref",
                 MD_BAD_VALUE: "bad value", MD_BOOK_FULL: "book full", MD_UNKNOWN_ACTION: "unknown action",
                 MD_QTY_CLIPPED: "qty clipped", MD_BAD_BOOK: "bad book"}

MD_ADD, MD_ADD_MPID, MD_EXECUTED, MD_EXECUTED_PRICE = ord("A"), ord("F"), ord("E"), ord("C")
MD_CANCEL, MD_DELETE, MD_REPLACE, MD_TRADE, MD_CROSS = ord("X"), ord("D"), ord("U"), ord("P"), ord("Q")
SIDE_BUY, SIDE_SELL = R.SIDE_BUY, R.SIDE_SELL

_HASH_MUL = np.uint64(0x9E3779B97F4A7C15)


def _pow2_at_least(n: int) -> int:
    return 1 << max(0, int(n) - 1).bit_length()


def create_books(n_books: int, max_levels: int, max_orders: int, ref_slots: int = 0) -> tuple:
    """Zeroed arrays for ``n_books`` books sharing a pool of ``max_orders`` order slots.

    ``ref_slots`` (a power of two above ``max_orders``) defaults to 2 x max_orders
    rounded up, which keeps the ref table at most half full."""
    if n_books < 1 or max_levels < 1 or max_orders < 1:
        raise ValueError("n_books, max_levels and max_orders must be positive")
    if max_orders > MAX_ORDERS:
        raise ValueError(f"max_orders above {MAX_ORDERS}")
    if ref_slots == 0:
        ref_slots = _pow2_at_least(2 * max_orders)
    if ref_slots & (ref_slots - 1) or ref_slots <= max_orders:
        raise ValueError(f"ref_slots must be a power of two above max_orders, got {ref_slots}")
    return (np.zeros(n_books, BOOK), np.zeros((n_books, 2, max_levels), LEVEL),
            np.zeros(max_orders, BOOK_ORDER), np.zeros(ref_slots, REF_ENTRY), np.zeros(N_META, np.int64))


def copy_books(bk: tuple) -> tuple:
    return tuple(a.copy() for a in bk)


# ---------------------------------------------------------------- ref table
@njit(cache=True, inline="always", _nrt=False)
def _home(b, ref, mask):
    """Home position of (b, ref): two multiply-xorshift rounds, a fixed function
    (Python's hash() is salted per process); each shift folds the well-mixed high
    bits into the low ones the mask keeps."""
    h = np.uint64(b) * _HASH_MUL
    h ^= h >> np.uint64(29)
    h = (h ^ np.uint64(ref)) * _HASH_MUL
    h ^= h >> np.uint64(29)
    return np.int64(h & np.uint64(mask))


@njit(cache=True, inline="always", _nrt=False)
def _ref_pos(refs, b, ref):
    """Table position of (b, ref), or -1. The table always has an empty entry."""
    mask = len(refs) - 1
    p = _home(b, ref, mask)
    while refs[p].slot1 != 0:
        if refs[p].ref == ref and refs[p].book == b:
            return p
        p = (p + 1) & mask
    return -1


@njit(cache=True, inline="always", _nrt=False)
def _ref_insert(refs, b, ref, slot):
    """Insert (b, ref) -> slot; the caller checked it is absent."""
    mask = len(refs) - 1
    p = _home(b, ref, mask)
    while refs[p].slot1 != 0:
        p = (p + 1) & mask
    e = refs[p]
    e.ref = ref
    e.book = b
    e.slot1 = slot + 1


@njit(cache=True, inline="always", _nrt=False)
def _ref_delete(refs, p):
    """Empty position p, then pull back later entries of the probe run that would no
    longer be reachable from their home position (backward-shift deletion)."""
    mask = len(refs) - 1
    j = p
    while True:
        j = (j + 1) & mask
        if refs[j].slot1 == 0:
            break
        k = _home(refs[j].book, refs[j].ref, mask)
        # The entry at j may move to the hole p unless its home lies cyclically in (p, j].
        if (j > p and (k <= p or k > j)) or (j < p and k <= p and k > j):
            refs[p] = refs[j]
            p = j
    e = refs[p]
    e.ref = 0
    e.book = 0
    e.slot1 = 0


# ---------------------------------------------------------------- levels
@njit(cache=True, inline="always", _nrt=False)
def _locate(lv, n, side, price):
    """(index, found): the level at ``price`` among the n used, or where it would go.

    Scans from the touch first (where nearly all activity is), then bisects. Keys are
    price for bids and -price for asks: ascending on both sides, best last."""
    sign = 1 if side == BID else -1
    k = sign * price
    i = n
    stop = max(n - LINEAR_LEVELS, 0)
    while i > stop:
        kk = sign * lv[i - 1].price
        if kk <= k:
            if kk == k:
                return i - 1, True
            return i, False
        i -= 1
    lo, hi = 0, i   # every key in [i, n) is above k
    while lo < hi:
        mid = (lo + hi) >> 1
        if sign * lv[mid].price < k:
            lo = mid + 1
        else:
            hi = mid
    if lo < i and lv[lo].price == price:
        return lo, True
    return lo, False


@njit(cache=True, inline="always", _nrt=False)
def _open_level(lv, n, i, price):
    for j in range(n, i, -1):
        lv[j] = lv[j - 1]
    L = lv[i]
    L.price = price
    L.qty = 0
    L.count = 0
    L.head = -1
    L.tail = -1
    L._pad = 0


@njit(cache=True, inline="always", _nrt=False)
def _close_level(lv, n, i):
    for j in range(i, n - 1):
        lv[j] = lv[j + 1]
    L = lv[n - 1]
    L.price = 0
    L.qty = 0
    L.count = 0
    L.head = 0
    L.tail = 0
    L._pad = 0


# ---------------------------------------------------------------- order slots
@njit(cache=True, inline="always", _nrt=False)
def _free_slot(orders, meta, slot):
    o = orders[slot]
    o.ref = 0
    o.price = 0
    o.qty = 0
    o.ts = 0
    o.book = 0
    o.owner = 0
    o.prev = 0
    o.side = 0
    o.flags = 0
    o.next = meta[META_FREE] - 1
    meta[META_FREE] = slot + 1
    meta[META_LIVE] -= 1


@njit(cache=True, inline="always", _nrt=False)
def _take_slot(orders, meta):
    """A free slot (the caller checked the pool is not full): last freed first."""
    meta[META_LIVE] += 1
    if meta[META_FREE] != 0:
        slot = meta[META_FREE] - 1
        meta[META_FREE] = orders[slot].next + 1
        return slot
    slot = meta[META_USED]
    meta[META_USED] += 1
    return slot


@njit(cache=True, _nrt=False)
def _reduce_at(bk, b, side, i, slot, q):
    """Take q (0 < q <= remaining) off order ``slot`` at level i; remove it at 0.

    A plain call, not inlined: it has several call sites in every kernel that uses
    books, inlining each copy doubled compile times, and the call costs nothing
    measurable next to the cache misses of a removal."""
    heads, levels, orders, refs, meta = bk
    lv = levels[b, side]
    L = lv[i]
    o = orders[slot]
    o.qty -= q
    L.qty -= q
    if o.qty > 0:
        return
    prv, nxt = o.prev, o.next
    if prv >= 0:
        orders[prv].next = nxt
    else:
        L.head = nxt
    if nxt >= 0:
        orders[nxt].prev = prv
    else:
        L.tail = prv
    L.count -= 1
    h = heads[b]
    if L.count == 0:
        n = h.nlevels[side]
        _close_level(lv, n, i)
        h.nlevels[side] = n - 1
    _ref_delete(refs, _ref_pos(refs, b, o.ref))
    h.orders -= 1
    _free_slot(orders, meta, slot)


@njit(cache=True, inline="always", _nrt=False)
def _record_trade(h, px, qty, ts):
    h.last_trade_px = px
    h.last_trade_qty = qty
    h.last_trade_ts = ts
    h.volume += qty
    h.trades += 1


# ---------------------------------------------------------------- operations
@njit(cache=True, inline="always", _nrt=False)
def book_add(bk, b, ref, side, price, qty, owner, ts):
    """Rest a new order at the tail of its level: its slot, or an ``ADD_*`` error."""
    heads, levels, orders, refs, meta = bk
    if (b < 0 or b >= len(heads) or (side != BID and side != ASK)
            or price <= 0 or price > PRICE_LIMIT or qty <= 0 or qty > QTY_LIMIT):
        return ADD_BAD_VALUE
    if _ref_pos(refs, b, ref) >= 0:
        return ADD_DUPLICATE
    h = heads[b]
    if meta[META_LIVE] >= len(orders):
        h.dropped += 1
        return ADD_POOL_FULL
    lv = levels[b, side]
    n = h.nlevels[side]
    i, found = _locate(lv, n, side, price)
    if not found:
        if n >= lv.shape[0]:
            h.dropped += 1
            return ADD_SIDE_FULL
        _open_level(lv, n, i, price)
        h.nlevels[side] = n + 1
    slot = _take_slot(orders, meta)
    o = orders[slot]
    o.ref = ref
    o.price = price
    o.qty = qty
    o.ts = ts
    o.book = b
    o.owner = owner
    o.side = side
    o.flags = FLAG_LIVE
    o.next = -1
    L = lv[i]
    o.prev = L.tail
    if L.tail >= 0:
        orders[L.tail].next = slot
    else:
        L.head = slot
    L.tail = slot
    L.qty += qty
    L.count += 1
    _ref_insert(refs, b, ref, slot)
    h.orders += 1
    return slot


@njit(cache=True, inline="always", _nrt=False)
def book_find(bk, b, ref):
    """Slot of order ``ref`` in book b, or -1."""
    refs = bk[BK_REFS]
    if b < 0 or b >= len(bk[BK_HEADS]):
        return -1
    p = _ref_pos(refs, b, ref)
    if p < 0:
        return -1
    return np.int64(refs[p].slot1) - 1


@njit(cache=True, inline="always", _nrt=False)
def book_reduce(bk, slot, qty):
    """Take up to qty off the order in ``slot`` (partial cancel or execution); the order
    goes at 0. Returns the qty taken (0 for a free slot or qty <= 0)."""
    levels, orders = bk[BK_LEVELS], bk[BK_ORDERS]
    if slot < 0 or slot >= len(orders) or orders[slot].flags & FLAG_LIVE == 0 or qty <= 0:
        return 0
    o = orders[slot]
    q = min(np.int64(qty), o.qty)
    b, side = np.int64(o.book), np.int64(o.side)
    i, _ = _locate(levels[b, side], bk[BK_HEADS][b].nlevels[side], side, o.price)
    _reduce_at(bk, b, side, i, slot, q)
    return q


@njit(cache=True, inline="always", _nrt=False)
def book_remove(bk, slot):
    """Remove the order in ``slot``; returns its remaining qty (0 for a free slot)."""
    orders = bk[BK_ORDERS]
    if slot < 0 or slot >= len(orders):
        return 0
    return book_reduce(bk, slot, orders[slot].qty)


@njit(cache=True, inline="always", _nrt=False)
def book_best(bk, b, side):
    """(price, qty) of the best level of a side, (0, 0) if it is empty."""
    n = bk[BK_HEADS][b].nlevels[side]
    if n == 0:
        return np.int64(0), np.int64(0)
    L = bk[BK_LEVELS][b, side, n - 1]
    return L.price, L.qty


@njit(cache=True, inline="always", _nrt=False)
def book_mid(bk, b):
    """(best bid + best ask) // 2, or 0 if a side is empty."""
    bid, _ = book_best(bk, b, BID)
    ask, _ = book_best(bk, b, ASK)
    if bid == 0 or ask == 0:
        return np.int64(0)
    return (bid + ask) // 2


@njit(cache=True, inline="always", _nrt=False)
def book_depth(bk, b, side, out_prices, out_qtys, out_counts):
    """Write the levels of a side best first; returns how many (at most len(out_prices))."""
    n = bk[BK_HEADS][b].nlevels[side]
    lv = bk[BK_LEVELS][b, side]
    m = min(n, len(out_prices))
    for j in range(m):
        L = lv[n - 1 - j]
        out_prices[j] = L.price
        out_qtys[j] = L.qty
        out_counts[j] = L.count
    return m


# ---------------------------------------------------------------- ITCH
@njit(cache=True, inline="always", _nrt=False)
def _qty_ok(qty):
    return 0 < qty <= QTY_LIMIT


@njit(cache=True, inline="always", _nrt=False)
def _price_ok(price):
    return 0 < price <= PRICE_LIMIT


@njit(cache=True, inline="always", _nrt=False)
def _add_code(r):
    """md_apply code of a book_add result."""
    if r >= 0:
        return MD_OK
    if r == ADD_DUPLICATE:
        return MD_DUPLICATE_REF
    if r == ADD_BAD_VALUE:
        return MD_BAD_VALUE
    return MD_BOOK_FULL


@njit(cache=True, inline="always", _nrt=False)
def md_apply(bk, b, action, side, ref, new_ref, price, qty, ts):
    """Apply one ITCH 5.0 message to book b; returns ``MD_OK`` or another ``MD_*`` code."""
    # Written so that book_add and book_reduce each appear once: callers inline this
    # whole function, and every extra inlined copy costs compile time.
    heads, orders = bk[BK_HEADS], bk[BK_ORDERS]
    if b < 0 or b >= len(heads):
        return MD_BAD_BOOK
    is_add = action == MD_ADD or action == MD_ADD_MPID
    is_exec = action == MD_EXECUTED or action == MD_EXECUTED_PRICE
    is_print = action == MD_TRADE or action == MD_CROSS
    on_order = is_exec or action == MD_CANCEL or action == MD_DELETE or action == MD_REPLACE
    if not (is_add or is_print or on_order):
        return MD_UNKNOWN_ACTION
    # Fields each message carries: qty for all but D; price for A, F, C, U, P, Q.
    if action != MD_DELETE and not _qty_ok(qty):
        return MD_BAD_VALUE
    priced = action != MD_EXECUTED and action != MD_CANCEL and action != MD_DELETE
    if priced and not _price_ok(price):
        return MD_BAD_VALUE
    if is_print:
        _record_trade(heads[b], np.int64(price), np.int64(qty), ts)
        return MD_OK
    s = np.int64(BID)
    if side == SIDE_SELL:
        s = np.int64(ASK)
    elif is_add and side != SIDE_BUY:
        return MD_BAD_VALUE
    owner = np.uint32(0)
    add_ref = np.uint64(ref)
    if on_order:
        slot = book_find(bk, b, ref)
        if slot < 0:
            return MD_UNKNOWN_REF
        if action == MD_REPLACE and new_ref != ref and _ref_pos(bk[BK_REFS], b, new_ref) >= 0:
            return MD_DUPLICATE_REF
        o = orders[slot]
        px = o.price if action == MD_EXECUTED else np.int64(price)
        s = np.int64(o.side)
        owner = o.owner
        take = o.qty if action == MD_DELETE or action == MD_REPLACE else np.int64(qty)
        done = book_reduce(bk, slot, take)
        if is_exec:
            _record_trade(heads[b], px, done, ts)
        if action != MD_REPLACE:
            return MD_QTY_CLIPPED if done < take else MD_OK
        add_ref = np.uint64(new_ref)
    return _add_code(book_add(bk, b, add_ref, s, price, qty, owner, ts))


# ---------------------------------------------------------------- batch drivers
@njit(cache=True, _nrt=False)
def md_apply_batch(bk, msgs, codes):
    """Apply ``records.MarketData`` messages in order (book index = symbol_id, clock =
    the header ts); code of each in ``codes``. Returns how many were not ``MD_OK``."""
    bad = 0
    for i in range(len(msgs)):
        m = msgs[i]
        c = md_apply(bk, np.int64(m.symbol_id), m.action, m.side, m.ref, m.new_ref, m.price, m.qty, m.ts)
        codes[i] = c
        if c != MD_OK:
            bad += 1
    return bad


@njit(cache=True, _nrt=False)
def add_batch(bk, books, refs, sides, prices, qtys, owners, ts, out):
    """book_add over arrays (sides 0/1); slot or error code in ``out``."""
    for i in range(len(books)):
        out[i] = book_add(bk, books[i], refs[i], sides[i], prices[i], qtys[i], owners[i], ts[i])


@njit(cache=True, _nrt=False)
def reduce_batch(bk, books, refs, qtys, out):
    """Find each (book, ref) and take qty off it (qty <= 0: remove); qty taken in ``out``."""
    for i in range(len(books)):
        slot = book_find(bk, books[i], refs[i])
        if slot < 0:
            out[i] = -1
        elif qtys[i] <= 0:
            out[i] = book_remove(bk, slot)
        else:
            out[i] = book_reduce(bk, slot, qtys[i])


@njit(cache=True, _nrt=False)
def best_batch(bk, books, sides, out_px, out_qty):
    for i in range(len(books)):
        out_px[i], out_qty[i] = book_best(bk, books[i], sides[i])


@njit(cache=True, _nrt=False)
def depth_of(bk, b, side, out_prices, out_qtys, out_counts):
    """book_depth as a plain kernel (for Python callers)."""
    return book_depth(bk, b, side, out_prices, out_qtys, out_counts)


# ---------------------------------------------------------------- Python helpers
def market_data(n: int) -> np.ndarray:
    """n zeroed ``records.MarketData`` records (a view of a command buffer)."""
    msgs = R.new_commands(n).view(R.MarketData)
    msgs["type"], msgs["version"] = R.MARKET_DATA, 1
    return msgs


def depth(bk: tuple, b: int, side: int) -> list[tuple[int, int, int]]:
    """[(price, qty, count)] of a side, best first."""
    m = bk[BK_LEVELS].shape[2]
    px, qty, cnt = np.zeros(m, np.int64), np.zeros(m, np.int64), np.zeros(m, np.int32)
    k = depth_of(bk, b, side, px, qty, cnt)
    return [(int(px[j]), int(qty[j]), int(cnt[j])) for j in range(k)]


def level_orders(bk: tuple, b: int, side: int, price: int) -> list[int]:
    """Refs resting at a price, in priority (FIFO) order."""
    heads, levels, orders = bk[BK_HEADS], bk[BK_LEVELS], bk[BK_ORDERS]
    for L in levels[b, side, : heads[b]["nlevels"][side]]:
        if L["price"] == price:
            out, s = [], int(L["head"])
            while s >= 0:
                out.append(int(orders[s]["ref"]))
                s = int(orders[s]["next"])
            return out
    return []


def check_books(bk: tuple) -> None:
    """Check every structural invariant (slow, for tests); raise ValueError on the first break."""
    heads, levels, orders, refs, meta = bk

    def fail(msg):
        raise ValueError(msg)

    live_slots = set()
    for b in range(len(heads)):
        h = heads[b]
        n_orders = 0
        for side in (BID, ASK):
            n = int(h["nlevels"][side])
            lv = levels[b, side]
            keys = [(p if side == BID else -p) for p in lv["price"][:n]]
            if keys != sorted(set(keys)):
                fail(f"book {b} side {side}: levels not strictly sorted: {lv['price'][:n]}")
            if lv[n:].tobytes() != bytes(lv[n:].nbytes):
                fail(f"book {b} side {side}: unused levels not zeroed")
            for L in lv[:n]:
                s, prev, total, cnt = int(L["head"]), -1, 0, 0
                while s >= 0:
                    o = orders[s]
                    if o["prev"] != prev or o["price"] != L["price"] or o["book"] != b or o["side"] != side:
                        fail(f"book {b}: order slot {s} does not belong where it is linked")
                    if o["qty"] <= 0 or not o["flags"] & FLAG_LIVE:
                        fail(f"book {b}: order slot {s} is linked but not live")
                    p = _py_ref_pos(refs, b, int(o["ref"]))
                    if p < 0 or refs[p]["slot1"] != s + 1:
                        fail(f"book {b}: ref {o['ref']} not mapped to slot {s}")
                    live_slots.add(s)
                    total += int(o["qty"])
                    cnt += 1
                    prev, s = s, int(o["next"])
                if prev != L["tail"] or total != L["qty"] or cnt != L["count"] or cnt == 0:
                    fail(f"book {b} level {L['price']}: tail/qty/count disagree with its FIFO")
                n_orders += cnt
        if n_orders != h["orders"]:
            fail(f"book {b}: {n_orders} linked orders, head says {h['orders']}")
    if len(live_slots) != meta[META_LIVE]:
        fail(f"{len(live_slots)} live orders, meta says {meta[META_LIVE]}")
    entries = 0
    for p in range(len(refs)):
        e = refs[p]
        if e["slot1"] == 0:
            if e["ref"] != 0 or e["book"] != 0:
                fail(f"ref table position {p}: empty but not zeroed")
            continue
        entries += 1
        if e["slot1"] - 1 not in live_slots:
            fail(f"ref table position {p} points at a slot that is not live")
        if _py_ref_pos(refs, int(e["book"]), int(e["ref"])) != p:
            fail(f"ref table position {p}: entry not reachable from its home")
    if entries != len(live_slots):
        fail(f"{entries} ref entries for {len(live_slots)} live orders")
    free, s = set(), int(meta[META_FREE]) - 1
    while s >= 0:
        if s in free or s in live_slots or s >= meta[META_USED]:
            fail(f"free list broken at slot {s}")
        free.add(s)
        s = int(orders[s]["next"])
    if len(free) + len(live_slots) != meta[META_USED]:
        fail("slots lost: neither live nor free")


def _py_ref_pos(refs, b, ref):
    mask = len(refs) - 1
    p = int(_home(b, ref, mask))
    while refs[p]["slot1"] != 0:
        if int(refs[p]["ref"]) == ref and int(refs[p]["book"]) == b:
            return p
        p = (p + 1) & mask
    return -1
