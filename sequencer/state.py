"""Business-logic state: a fixed set of preallocated numpy arrays.

Everything the kernels know lives here, sized once from a ``Capacity``; nothing grows
while processing. ``arrays()`` lists the arrays in one fixed order; ``used_arrays()``
is the same with the never-written order rows left off, which is what snapshots store
and what the digest hashes, so two processes that applied the same inputs hold
byte-identical arrays and report the same digest.

Ids index the arrays directly: ``order_id = row + 1`` (rows are handed out by a
counter, never reused within a day), ``client_id`` and ``symbol_id`` are the row
numbers of ``clients`` and ``symbols`` (0 is reserved: "none" / "resolve by name").

Later parts slot in as new arrays appended to ``ARRAY_NAMES`` (and kernel arguments):
order books (per-symbol price levels + order links), full risk limits (per-client
position / gross / rate-window arrays next to ``clients``), the kill switch (a small
flags array: global, new-orders-only, per symbol / client / venue), the SOR (per
symbol x venue stats) and algos (parent-order and timer tables). ``scalars`` keeps
spare slots for counters they need.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import xxhash

from . import records as R

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
    ("_pad", "u1", (4,)),
])

CLIENT = np.dtype([
    ("active", "u1"), ("_pad", "u1", (7,)),
    ("max_qty", "<i8"), ("max_notional", "<i8"),
    ("cash", "<i8"),   # 8 decimals; fills move it by -(signed qty*price) - fee
    ("fees", "<i8"),   # 8 decimals, cumulative
    ("account", "u1", (R.ACCOUNT_LEN,)),
])

SYMBOL = np.dtype([
    ("active", "u1"), ("_pad", "u1"), ("default_venue", "<u2"), ("_pad2", "u1", (4,)),
    ("ref_price", "<i8"),   # last trade / admin price, values market orders
    ("ref_ts", "<i8"),
    ("name", "u1", (R.SYMBOL_LEN,)),
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
N_SCALARS = 32        # the rest are spare for later parts

# Where each epoch began: row e = epoch e. A rejoining node keeps its journal only up to
# the seq before the first epoch it did not take part in.
EPOCH_ROW = np.dtype([("first_seq", "<i8"), ("node_id", "<u4"), ("_pad", "<u4")])
MAX_EPOCHS = 256

ARRAY_NAMES = ("scalars", "orders", "clients", "symbols", "positions", "clord_table", "symbol_table",
               "epochs")


def _pow2_at_least(n: int) -> int:
    return 1 << max(0, int(n) - 1).bit_length()


@dataclass(frozen=True)
class Capacity:
    orders: int = 1 << 20
    clients: int = 1024    # client ids 1..clients-1
    symbols: int = 4096    # symbol ids 1..symbols-1
    clord_slots: int = field(default=0)   # 0: 2 x orders, rounded up to a power of two
    symbol_slots: int = field(default=0)  # 0: 2 x symbols, rounded up to a power of two

    def __post_init__(self):
        if self.clord_slots == 0:
            object.__setattr__(self, "clord_slots", _pow2_at_least(2 * self.orders))
        if self.symbol_slots == 0:
            object.__setattr__(self, "symbol_slots", _pow2_at_least(2 * self.symbols))
        for name in ("orders", "clients", "symbols"):
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


def clord_load_limit(slots: int) -> int:
    """Most entries the ClOrdID table takes: 3/4 full keeps linear probes short."""
    return slots - slots // 4


class State:
    """All business-logic state. Create with ``State.create`` or ``State.from_arrays``."""

    def __init__(self, arrays: dict[str, np.ndarray]):
        self._arrays = {name: arrays[name] for name in ARRAY_NAMES}
        for name, arr in self._arrays.items():
            setattr(self, name, arr)

    @classmethod
    def create(cls, capacity: Capacity | None = None) -> "State":
        c = capacity or Capacity()
        return cls({
            "scalars": np.zeros(N_SCALARS, np.int64),
            "orders": np.zeros(c.orders, ORDER),
            "clients": np.zeros(c.clients, CLIENT),
            "symbols": np.zeros(c.symbols, SYMBOL),
            "positions": np.zeros((c.clients, c.symbols), np.int64),
            "clord_table": np.zeros(c.clord_slots, CLORD_ENTRY),
            "symbol_table": np.zeros(c.symbol_slots, np.uint32),  # symbol_id, 0 = empty
            "epochs": np.zeros(MAX_EPOCHS, EPOCH_ROW),
        })

    @property
    def capacity(self) -> Capacity:
        return Capacity(orders=len(self.orders), clients=len(self.clients),
                        symbols=len(self.symbols), clord_slots=len(self.clord_table),
                        symbol_slots=len(self.symbol_table))

    def arrays(self) -> dict[str, np.ndarray]:
        """The live arrays (no copy) in the fixed order of ``ARRAY_NAMES``."""
        return dict(self._arrays)

    def kernel_args(self) -> tuple:
        """The arrays as the tuple ``kernels.process_batch`` takes."""
        return tuple(self._arrays[name] for name in ARRAY_NAMES)

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
        expected = cls.create(Capacity(orders=2, clients=2, symbols=2)).arrays()
        for name in ARRAY_NAMES:
            arr = np.asarray(d[name])
            if arr.dtype != expected[name].dtype:
                raise ValueError(f"state array {name!r}: dtype {arr.dtype}, expected {expected[name].dtype}")
            if arr.ndim != expected[name].ndim:
                raise ValueError(f"state array {name!r}: {arr.ndim} dimensions, expected {expected[name].ndim}")
        if d["scalars"].shape != (N_SCALARS,):
            raise ValueError(f"state array 'scalars': shape {d['scalars'].shape}, expected ({N_SCALARS},)")
        shape = (len(d["clients"]), len(d["symbols"]))
        if d["positions"].shape != shape:
            raise ValueError(f"state array 'positions': shape {d['positions'].shape}, expected {shape}")
        if d["epochs"].shape != (MAX_EPOCHS,):
            raise ValueError(f"state array 'epochs': shape {d['epochs'].shape}, expected ({MAX_EPOCHS},)")
        try:
            Capacity(orders=len(d["orders"]), clients=len(d["clients"]), symbols=len(d["symbols"]),
                     clord_slots=len(d["clord_table"]), symbol_slots=len(d["symbol_table"]))
        except ValueError as e:
            raise ValueError(f"state arrays: {e}") from None
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

    def order(self, order_id: int) -> np.void:
        if not 0 < order_id <= self.scalars[S_ORDERS]:
            raise KeyError(f"no order {order_id}")
        return self.orders[order_id - 1]
