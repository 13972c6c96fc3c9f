"""Business-logic state: a fixed set of preallocated numpy arrays.

Everything the kernels know lives here, sized once from a ``Capacity``; nothing grows
while processing. ``arrays()`` lists the arrays in one fixed order; ``used_arrays()``
is the same with the never-written order rows left off, which is what snapshots store
and what the digest hashes, so two processes that applied the same inputs hold
byte-identical arrays and report the same digest.

Ids index the arrays directly: ``order_id = row + 1`` (rows are handed out by a
counter, never reused within a day), ``client_id`` and ``symbol_id`` are the row
numbers of ``clients`` and ``symbols`` (0 is reserved: "none" / "resolve by name").

The trading stages own their arrays: ``positions`` rows found through
``position_table`` (client, symbol), ``venues`` (fees, kill state, fill ratio), ``algos``
(TWAP/VWAP parents), ``book_index`` and the ``book_*`` arrays of the L3 market-data books
(see book.py). ``scalars`` keeps counters and switches (kill, replication) and spare
slots. ``kernel_args()`` adds a scratch array that is not state (the router's ranking).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import xxhash

from . import records as R
from . import book as B
from .book import create_books

# ---------------------------------------------------------------- row layouts
# Packed (no implicit padding), so every byte of every array is written by us and the
# digest never sees uninitialised padding.
ORDER = np.dtype([
    ("client_id", "<u4"), ("symbol_id", "<u4"),
    ("venue_id", "<u2"),
    ("side", "u1"), ("ord_type", "u1"), ("tif", "u1"),
    ("status", "u1"),        # FIX OrdStatus char (records.STATUS_*)
    ("prev_status", "u1"),   # status to return to when a pending cancel/replace ends
    ("pending", "u1"),       # 0 or records.VENUE_ACTION_CANCEL / _REPLACE awaiting the venue
    ("price", "<i8"), ("qty", "<i8"),
    ("leaves", "<i8"), ("cum", "<i8"),
    ("notional", "<i8"),     # sum of fill qty*price (8 decimals): avg_px = notional / cum
    ("pend_price", "<i8"), ("pend_qty", "<i8"),
    ("venue_order_id", "<u8"),
    ("created_ts", "<i8"), ("updated_ts", "<i8"),
    ("cl_ord_id", "u1", (R.CLORD_LEN,)),       # current ClOrdID
    ("orig_cl_ord_id", "u1", (R.CLORD_LEN,)),  # the one it replaced
    ("pend_cl_ord_id", "u1", (R.CLORD_LEN,)),  # ClOrdID of the pending cancel/replace
    ("kind", "u1"),          # KIND_*: a client's direct order, a routed/algo parent, or a child
    ("strategy", "u1"),      # records.STRATEGY_*
    ("children", "<u2"),     # a parent's live children
    ("parent", "<u4"),       # a child's parent order id
    ("first_child", "<u4"),  # a parent's newest child order id (children link by next_sibling)
    ("next_sibling", "<u4"),
    ("algo", "<u4"),         # an algo parent's row in ``algos`` + 1
    ("working", "<i8"),      # a parent's quantity out at venues (live children's leaves)
    ("reserved", "<i8"),     # buying power this order holds (money), released as it fills or ends
    ("value_px", "<i8"),     # price its open quantity is valued at: the limit, else the mark at entry
    ("pos_row", "<i4"),      # a client order's row in ``positions`` (found once, at entry)
    ("_pad", "<i4"),
])
KIND_DIRECT, KIND_PARENT, KIND_CHILD = 0, 1, 2

CLIENT = np.dtype([
    ("active", "u1"), ("killed", "u1"),
    ("margin_call", "u1"),   # 1 while equity is below maintenance (alerted once per breach)
    ("_pad", "u1", (5,)),
    ("max_qty", "<i8"), ("max_notional", "<i8"),
    ("cash", "<i8"),   # 8 decimals; fills move it by -(signed qty*price) - fee
    ("fees", "<i8"),   # 8 decimals, cumulative
    ("account", "u1", (R.ACCOUNT_LEN,)),
    # limits set by ADMIN_SET_RISK (0: not enforced; margin 0: a cash account, 10000 bps)
    ("max_open", "<i8"), ("max_position", "<i8"), ("max_gross", "<i8"), ("max_rate", "<i8"),
    ("im_bps", "<i8"), ("mm_bps", "<i8"),
    ("open_orders", "<i8"),    # live client orders
    ("reserved", "<i8"),       # buying power held by open buys and short sales (money)
    ("open_notional", "<i8"),  # notional of live orders' leaves (money), for the gross limit
    ("gross", "<i8"),          # sum over positions of |qty| x average cost (money)
    ("realized", "<i8"),       # realised P&L (money), fees not included
    ("first_position", "<i4"), ("_pad2", "<i4"),  # head of the client's position rows (-1: none)
    ("rate_bucket", "<i8"),    # the newest 100 ms bucket counted in ``rate_counts``
    ("rate_counts", "<i4", (10,)),  # orders per 100 ms bucket of the rolling second
])

SYMBOL = np.dtype([
    ("active", "u1"), ("restricted", "u1"), ("default_venue", "<u2"),
    ("shortable", "u1"), ("killed", "u1"), ("_pad", "u1", (2,)),
    ("ref_price", "<i8"),   # last trade / admin price: the mark when there is no two-sided book
    ("ref_ts", "<i8"),
    ("name", "u1", (R.SYMBOL_LEN,)),
    ("collar_bps", "<i8"), ("collar_abs", "<i8"),
    ("bid", "<i8"), ("ask", "<i8"),      # best bid / offer over every venue's book (0: none)
    ("volume", "<i8"),                   # shares executed on the venues' feeds today
])

# Per client x symbol, rows handed out by a counter and found by ``position_table``.
POSITION = np.dtype([
    ("client_id", "<u4"), ("symbol_id", "<u4"),
    ("next", "<i4"), ("_pad", "<i4"),   # the client's next position row (-1: none)
    ("qty", "<i8"),                     # signed shares
    ("avg_px", "<i8"),                  # average cost of the open position (8 decimals)
    ("realized", "<i8"), ("fees", "<i8"),
    ("bought", "<i8"), ("sold", "<i8"),            # shares filled, for the invariants
    ("buy_value", "<i8"), ("sell_value", "<i8"),   # money filled
    ("open_buy", "<i8"), ("open_sell", "<i8"),     # leaves of live client orders
])

VENUE = np.dtype([
    ("active", "u1"), ("killed", "u1"), ("_pad", "u1", (6,)),
    ("take_fee", "<i8"), ("make_fee", "<i8"),  # per share, 8 decimals; negative = rebate
    ("children", "<i8"),                       # child orders sent
    ("fill_ratio", "<i8"),  # filled / sent qty of finished children, 1/65536 units, moving average
    ("name", "u1", (R.SYMBOL_LEN,)),
])
MAX_VENUES = 16   # venue ids 1..15
FILL_RATIO_ONE = 1 << 16

ALGO = np.dtype([
    ("active", "u1"), ("strategy", "u1"), ("started", "u1"), ("_pad", "u1", (5,)),
    ("order_id", "<u8"),
    ("start_ts", "<i8"), ("end_ts", "<i8"),
    ("max_pct", "<i8"),
    ("vol_start", "<i8"),   # the symbol's market volume when the window opened
])

# (client_id, ClOrdID) -> order. Open addressing, linear probing, order_id 0 = empty;
# entries are never deleted within a day, so probing never meets a tombstone.
CLORD_ENTRY = np.dtype([
    ("order_id", "<u4"), ("client_id", "<u4"),
    ("cl_ord_id", "u1", (R.CLORD_LEN,)),
])

# ---------------------------------------------------------------- scalars
S_ORDERS = 0          # order rows used (= last order id)
S_EXEC_ID = 1         # last exec id handed out
S_LAST_SEQ = 2
S_LAST_TS = 3
S_INPUTS = 4          # inputs processed
S_CLORD_USED = 5      # entries in the ClOrdID table
S_EVENTS = 6          # events written by the kernels
S_ALERTS = 7
S_ORDER_REJECTS = 8
S_CANCEL_REJECTS = 9
S_TRADES = 10
S_EPOCH = 11          # current epoch (0 until the first ADMIN_EPOCH)
S_REPL_DOWN = 12      # 1 while no standby holds the journal (ADMIN_REPLICATION)
S_REPL_POLICY = 13    # records.POLICY_* in force while down
S_REPL_DOWN_SEQ = 14  # first seq not replicated of the current down range
S_KILL_GLOBAL = 15    # kill switch: everything halted
S_KILL_NEW = 16       # kill switch: new orders halted
S_POSITIONS = 17      # position rows used
S_BOOKS = 18          # market-data books used
S_ALGOS = 19          # algo rows used
S_ALGOS_LIVE = 20
S_CHILDREN = 21       # child orders sent by the router and algos
S_MD_REJECTED = 22    # market-data messages the books could not apply
N_SCALARS = 32        # the rest are spare for later parts

# Where each epoch began: row e = epoch e. A rejoining node keeps its journal only up to
# the seq before the first epoch it did not take part in.
EPOCH_ROW = np.dtype([("first_seq", "<i8"), ("node_id", "<u4"), ("_pad", "<u4")])
MAX_EPOCHS = 256

# The market-data books' arrays (see book.py), in the order the book functions take them.
BOOK_ARRAY_NAMES = tuple(f"book_{n}" for n in B.ARRAY_NAMES)


def book_capacity(books: tuple) -> dict:
    """The Capacity fields a set of book arrays was created with."""
    return {"books": len(books[B.BK_HEADS]), "book_levels": books[B.BK_LEVELS].shape[2],
            "book_orders": len(books[B.BK_ORDERS])}


ARRAY_NAMES = ("scalars", "orders", "clients", "symbols", "positions", "clord_table", "symbol_table",
               "epochs", "position_table", "venues", "algos", "book_index") + BOOK_ARRAY_NAMES

# Kernel tuple positions (``State.kernel_args()``): st[I_ORDERS] is the orders array, etc.
# I_BOOKS is the books' own tuple; I_SCRATCH a small work array that is not state (the
# router's venue ranking), since kernels compiled without NRT cannot allocate.
(I_SCALARS, I_ORDERS, I_CLIENTS, I_SYMBOLS, I_POSITIONS, I_CLORD, I_SYMTAB, I_EPOCHS,
 I_POSTAB, I_VENUES, I_ALGOS, I_BOOK_INDEX, I_BOOKS, I_SCRATCH) = range(14)
SCRATCH_LEN = 256


def _pow2_at_least(n: int) -> int:
    return 1 << max(0, int(n) - 1).bit_length()


@dataclass(frozen=True)
class Capacity:
    orders: int = 1 << 20
    clients: int = 1024    # client ids 1..clients-1
    symbols: int = 4096    # symbol ids 1..symbols-1
    clord_slots: int = field(default=0)   # 0: 2 x orders, rounded up to a power of two
    symbol_slots: int = field(default=0)  # 0: 2 x symbols, rounded up to a power of two
    positions: int = 1 << 16   # client x symbol rows
    algos: int = 1024          # TWAP/VWAP parents of the day
    books: int = 1024          # market-data books, one per (venue, symbol) seen on the feed
    book_levels: int = 64      # price levels kept per book side
    book_orders: int = 1 << 16 # resting orders over all market-data books

    def __post_init__(self):
        if self.clord_slots == 0:
            object.__setattr__(self, "clord_slots", _pow2_at_least(2 * self.orders))
        if self.symbol_slots == 0:
            object.__setattr__(self, "symbol_slots", _pow2_at_least(2 * self.symbols))
        for name in ("orders", "clients", "symbols", "positions", "algos", "books", "book_levels",
                     "book_orders"):
            if getattr(self, name) < 2:
                raise ValueError(f"capacity {name} must be at least 2")
        if self.orders >= 1 << 32:
            raise ValueError("capacity orders must fit in u4 order ids")
        for name in ("clord_slots", "symbol_slots"):
            v = getattr(self, name)
            if v & (v - 1):
                raise ValueError(f"capacity {name} must be a power of two, got {v}")
        if self.clord_slots < self.orders or self.symbol_slots < self.symbols:
            raise ValueError("hash tables need at least as many slots as rows")

    @property
    def position_slots(self) -> int:
        return _pow2_at_least(2 * self.positions)


def clord_load_limit(slots: int) -> int:
    """Most entries the ClOrdID table takes: 3/4 full keeps linear probes short."""
    return slots - slots // 4


def _create_arrays(c: Capacity) -> dict[str, np.ndarray]:
    books = create_books(c.books, c.book_levels, c.book_orders)
    return {
        "scalars": np.zeros(N_SCALARS, np.int64),
        "orders": np.zeros(c.orders, ORDER),
        "clients": np.zeros(c.clients, CLIENT),
        "symbols": np.zeros(c.symbols, SYMBOL),
        "positions": np.zeros(c.positions, POSITION),
        "clord_table": np.zeros(c.clord_slots, CLORD_ENTRY),
        "symbol_table": np.zeros(c.symbol_slots, np.uint32),  # symbol_id, 0 = empty
        "epochs": np.zeros(MAX_EPOCHS, EPOCH_ROW),
        "position_table": np.zeros(c.position_slots, np.uint32),  # position row + 1, 0 = empty
        "venues": np.zeros(MAX_VENUES, VENUE),
        "algos": np.zeros(c.algos, ALGO),
        "book_index": np.zeros((MAX_VENUES, c.symbols), np.int32),  # book + 1 per (venue, symbol)
        **dict(zip(BOOK_ARRAY_NAMES, books)),
    }


class State:
    """All business-logic state. Create with ``State.create`` or ``State.from_arrays``."""

    def __init__(self, arrays: dict[str, np.ndarray]):
        self._arrays = {name: arrays[name] for name in ARRAY_NAMES}
        for name, arr in self._arrays.items():
            setattr(self, name, arr)
        self._scratch = np.zeros(SCRATCH_LEN, np.int64)

    @classmethod
    def create(cls, capacity: Capacity | None = None) -> "State":
        state = cls(_create_arrays(capacity or Capacity()))
        state.clients["first_position"] = -1
        return state

    @property
    def capacity(self) -> Capacity:
        return Capacity(orders=len(self.orders), clients=len(self.clients),
                        symbols=len(self.symbols), clord_slots=len(self.clord_table),
                        symbol_slots=len(self.symbol_table), positions=len(self.positions),
                        algos=len(self.algos), **book_capacity(self.books_tuple()))

    def books_tuple(self) -> tuple:
        return tuple(self._arrays[name] for name in BOOK_ARRAY_NAMES)

    def arrays(self) -> dict[str, np.ndarray]:
        """The live arrays (no copy) in the fixed order of ``ARRAY_NAMES``."""
        return dict(self._arrays)

    def kernel_args(self) -> tuple:
        """The arrays as the tuple the kernels take (positions ``I_*``; the books nested)."""
        flat = tuple(self._arrays[name] for name in ARRAY_NAMES[:I_BOOKS])
        return flat + (self.books_tuple(), self._scratch)

    @classmethod
    def from_used_arrays(cls, d: dict[str, np.ndarray], orders_capacity: int) -> "State":
        """Rebuild from ``used_arrays()`` output (a snapshot) at the given order capacity."""
        used = d["orders"]
        if len(used) > orders_capacity:
            raise ValueError(f"snapshot holds {len(used)} orders, more than the capacity {orders_capacity}")
        orders = np.zeros(orders_capacity, ORDER)
        orders[: len(used)] = used
        return cls.from_arrays({**d, "orders": orders})

    @classmethod
    def from_arrays(cls, d: dict[str, np.ndarray]) -> "State":
        """Rebuild from ``arrays()`` output; the arrays are copied."""
        names = set(d)
        missing = [n for n in ARRAY_NAMES if n not in names]
        extra = sorted(names - set(ARRAY_NAMES))
        if missing or extra:
            raise ValueError(f"state arrays: missing {missing}, unexpected {extra}")
        try:
            cap = Capacity(orders=len(d["orders"]), clients=len(d["clients"]), symbols=len(d["symbols"]),
                           clord_slots=len(d["clord_table"]), symbol_slots=len(d["symbol_table"]),
                           positions=len(d["positions"]), algos=len(d["algos"]),
                           **book_capacity(tuple(d[n] for n in BOOK_ARRAY_NAMES)))
            expected = _create_arrays(cap)
        except (ValueError, TypeError, IndexError) as e:
            raise ValueError(f"state arrays: {e}") from None
        for name in ARRAY_NAMES:
            arr = np.asarray(d[name])
            if arr.dtype != expected[name].dtype:
                raise ValueError(f"state array {name!r}: dtype {arr.dtype}, expected {expected[name].dtype}")
            if arr.shape != expected[name].shape:
                raise ValueError(f"state array {name!r}: shape {arr.shape}, expected {expected[name].shape}")
        return cls({name: np.array(d[name], copy=True, order="C") for name in ARRAY_NAMES})

    def used_arrays(self) -> dict[str, np.ndarray]:
        """``arrays()`` with ``orders`` cut to the rows handed out so far.

        Rows past the order counter are never written (ids are a counter, never reused
        within a day), so they add nothing but cost: the digest and snapshots cover the
        used rows, and the counter itself is in ``scalars``."""
        d = dict(self._arrays)
        d["orders"] = self.orders[: int(self.scalars[S_ORDERS])]
        return d

    def digest(self) -> int:
        """xxhash64 over ``used_arrays()``, in ``ARRAY_NAMES`` order."""
        h = xxhash.xxh64()
        for arr in self.used_arrays().values():
            h.update(memoryview(np.ascontiguousarray(arr)))
        return h.intdigest()

    @property
    def inputs_processed(self) -> int:
        return int(self.scalars[S_INPUTS])

    # Readable accessors for tests and tools (not used on the hot path).
    def live_orders(self) -> int:
        """Orders not yet FILLED, CANCELED or REJECTED."""
        status = self.orders["status"][: self.scalars[S_ORDERS]]
        return int(len(status) - np.isin(status, [R.STATUS_FILLED, R.STATUS_CANCELED, R.STATUS_REJECTED]).sum())

    @property
    def epoch(self) -> int:
        return int(self.scalars[S_EPOCH])

    def epoch_first_seq(self, epoch: int) -> int:
        """First seq of ``epoch`` (0 if it has not begun)."""
        return int(self.epochs["first_seq"][epoch]) if 0 <= epoch < MAX_EPOCHS else 0

    @property
    def replication_down(self) -> bool:
        return bool(self.scalars[S_REPL_DOWN])

    def position_rows(self) -> np.ndarray:
        """The position rows handed out so far (client_id, symbol_id, qty, avg_px, ...)."""
        return self.positions[: int(self.scalars[S_POSITIONS])]

    def position(self, client_id: int, symbol_id: int) -> int:
        """Signed position of a client in a symbol (0 if it never had one)."""
        rows = self.position_rows()
        hit = rows[(rows["client_id"] == client_id) & (rows["symbol_id"] == symbol_id)]
        return int(hit["qty"][0]) if len(hit) else 0

    def order(self, order_id: int) -> np.void:
        if not 0 < order_id <= self.scalars[S_ORDERS]:
            raise KeyError(f"no order {order_id}")
        return self.orders[order_id - 1]
