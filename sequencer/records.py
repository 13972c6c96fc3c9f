"""Every command (input) and event (output) record, declared once.

Each record is a fixed-size little-endian numpy structured dtype. All records share
one 32-byte header, so a batch of mixed types is one contiguous buffer: viewed as
``HEADER`` it tells each record's type, and viewed as any per-type dtype it gives
that type's fields. Commands are ``COMMAND_SIZE`` bytes, events ``EVENT_SIZE``.

Rules (see docs/records.md):
- money and prices are int64 with 8 implied decimals (``PRICE_SCALE``);
- identifiers that cross the boundary (ClOrdID, symbol, account) are fixed-width
  ASCII, space-free and NUL-padded, stored as ``u1`` arrays so kernels can hash and
  compare them;
- a field added later carries the version it appeared in (``FIELD_VERSIONS``) and
  goes at the end of the record's body; type codes are never reused.
"""

from __future__ import annotations

import numpy as np

SCHEMA_VERSION = 1
PRICE_SCALE = 100_000_000  # 8 implied decimals

COMMAND_SIZE = 128
EVENT_SIZE = 192

CLORD_LEN = 20
SYMBOL_LEN = 8
ACCOUNT_LEN = 16
TEXT_LEN = 32

HEADER_FIELDS = [
    ("type", "<u2"),
    ("version", "<u2"),
    ("source_id", "<u4"),   # gateway / adapter that produced a command (0 = internal)
    ("source_seq", "<u8"),  # the producer's own sequence number, for de-duplication
    ("seq", "<u8"),         # journal seq; on an event, the input seq that caused it
    ("ts", "<i8"),          # sequencer clock, ns: the only clock business logic reads
]
HEADER_SIZE = 32


def _record(fields, size):
    """A packed dtype with the common header, padded to ``size`` bytes."""
    packed = np.dtype(HEADER_FIELDS + fields)
    if packed.itemsize > size:
        raise ValueError(f"record fields take {packed.itemsize} bytes, more than {size}")
    return np.dtype({
        "names": list(packed.names),
        "formats": [packed.fields[n][0] for n in packed.names],
        "offsets": [packed.fields[n][1] for n in packed.names],
        "itemsize": size,
    })


def _ascii(name, width):
    return (name, "u1", (width,))


# The header seen through a whole record (viewing a 128-byte record as a 32-byte dtype
# would cut the buffer into four records): use ``header(raw)``.
COMMAND_HEADER = _record([], COMMAND_SIZE)
EVENT_HEADER = _record([], EVENT_SIZE)
RAW_COMMAND = np.dtype((np.void, COMMAND_SIZE))
RAW_EVENT = np.dtype((np.void, EVENT_SIZE))

# ---------------------------------------------------------------- command types
NEW_ORDER = 1
CANCEL = 2
REPLACE = 3
VENUE_ACK = 4
VENUE_FILL = 5
VENUE_CANCELLED = 6
VENUE_REJECT = 7
MARKET_DATA = 8
TIMER = 9
ADMIN = 10
SESSION_EVENT = 11

# ------------------------------------------------------------------ event types
EXEC_REPORT = 101
CANCEL_REJECT = 102
VENUE_ORDER = 103
VENUE_CANCEL = 104
TRADE = 105
ALERT = 106
STATE_DIGEST = 107

NewOrder = _record([
    ("client_id", "<u4"), ("symbol_id", "<u4"),  # symbol_id 0: resolve by symbol name
    ("price", "<i8"), ("qty", "<i8"),
    ("side", "u1"), ("ord_type", "u1"), ("tif", "u1"), ("flags", "u1"),
    ("venue_id", "<u2"),  # 0: the symbol's default venue
    ("_pad", "<u2"),
    _ascii("cl_ord_id", CLORD_LEN), _ascii("symbol", SYMBOL_LEN), _ascii("account", ACCOUNT_LEN),
    # version 2: how the order is worked (STRATEGY_*) and the algo parameters
    ("strategy", "u1"), ("_pad2", "u1"),
    ("max_pct", "<u2"),                          # algo participation cap, bps of market volume (0: none)
    ("start_ts", "<i8"), ("end_ts", "<i8"),      # algo window on the sequencer clock, ns
], COMMAND_SIZE)

Cancel = _record([
    ("client_id", "<u4"), ("symbol_id", "<u4"),
    ("order_id", "<u8"),  # 0: find the order by orig_cl_ord_id
    ("side", "u1"), ("_pad", "u1", (7,)),
    _ascii("cl_ord_id", CLORD_LEN), _ascii("orig_cl_ord_id", CLORD_LEN), _ascii("symbol", SYMBOL_LEN),
], COMMAND_SIZE)

Replace = _record([
    ("client_id", "<u4"), ("symbol_id", "<u4"),
    ("order_id", "<u8"),
    ("price", "<i8"), ("qty", "<i8"),
    ("side", "u1"), ("ord_type", "u1"), ("tif", "u1"), ("_pad", "u1", (5,)),
    _ascii("cl_ord_id", CLORD_LEN), _ascii("orig_cl_ord_id", CLORD_LEN), _ascii("symbol", SYMBOL_LEN),
], COMMAND_SIZE)

VenueAck = _record([
    ("order_id", "<u8"), ("venue_order_id", "<u8"),
    ("price", "<i8"), ("qty", "<i8"),  # the venue's view after the ack (replace: new values)
    ("venue_id", "<u2"), ("ack_of", "u1"), ("_pad", "u1", (5,)),  # ack_of: VENUE_ACTION_*
    # version 2: the venue's own message sequence number this record was decoded from
    # (SoupBinTCP sequence, FIX MsgSeqNum, MoldUDP64 sequence): adapters resume from it
    ("venue_seq", "<u8"),
], COMMAND_SIZE)

VenueFill = _record([
    ("order_id", "<u8"), ("venue_exec_id", "<u8"),
    ("price", "<i8"), ("qty", "<i8"), ("fee", "<i8"),  # fee: 8 decimals, negative = rebate
    ("venue_id", "<u2"), ("liquidity", "u1"), ("_pad", "u1", (5,)),
    # version 2: the venue's own message sequence number this record was decoded from
    # (SoupBinTCP sequence, FIX MsgSeqNum, MoldUDP64 sequence): adapters resume from it
    ("venue_seq", "<u8"),
], COMMAND_SIZE)

VenueCancelled = _record([
    ("order_id", "<u8"), ("qty", "<i8"),  # qty: what the venue cancelled
    ("venue_id", "<u2"), ("reason", "<u2"), ("_pad", "u1", (4,)),
    # version 2: the venue's own message sequence number this record was decoded from
    # (SoupBinTCP sequence, FIX MsgSeqNum, MoldUDP64 sequence): adapters resume from it
    ("venue_seq", "<u8"),
], COMMAND_SIZE)

VenueReject = _record([
    ("order_id", "<u8"),
    ("venue_id", "<u2"), ("reason", "<u2"), ("reject_of", "u1"), ("_pad", "u1", (3,)),
    _ascii("text", TEXT_LEN),
    # version 2: the venue's own message sequence number this record was decoded from
    # (SoupBinTCP sequence, FIX MsgSeqNum, MoldUDP64 sequence): adapters resume from it
    ("venue_seq", "<u8"),
], COMMAND_SIZE)

MarketData = _record([
    ("symbol_id", "<u4"), ("venue_id", "<u2"),
    ("action", "u1"),  # ITCH 5.0 message type letter (ord): A F E C X D U P ...
    ("side", "u1"),    # SIDE_BUY / SIDE_SELL (the feed adapter maps ITCH 'B' / 'S')
    ("ref", "<u8"), ("new_ref", "<u8"), ("price", "<i8"), ("qty", "<i8"),
    _ascii("mpid", 4),
    # version 2: the venue's own message sequence number this record was decoded from
    # (SoupBinTCP sequence, FIX MsgSeqNum, MoldUDP64 sequence): adapters resume from it
    ("venue_seq", "<u8"),
], COMMAND_SIZE)

Timer = _record([
    ("timer_id", "<u4"), ("kind", "<u2"), ("_pad", "<u2"), ("param", "<i8"),
], COMMAND_SIZE)

Admin = _record([
    ("action", "<u2"), ("scope", "<u2"), ("target_id", "<u4"),
    ("v0", "<i8"), ("v1", "<i8"), ("v2", "<i8"), ("v3", "<i8"), ("v4", "<i8"),
    _ascii("name", ACCOUNT_LEN), _ascii("operator", 8),
    # version 2: the operator's credential, an HMAC of the command (``admin_auth``)
    ("auth", "u1", (16,)),
], COMMAND_SIZE)

SessionEvent = _record([
    ("session_id", "<u4"), ("client_id", "<u4"), ("event", "<u2"), ("_pad", "u1", (6,)),
], COMMAND_SIZE)

ExecReport = _record([
    ("order_id", "<u8"), ("exec_id", "<u8"),
    ("client_id", "<u4"), ("symbol_id", "<u4"),
    ("side", "u1"), ("exec_type", "u1"), ("ord_status", "u1"), ("ord_type", "u1"),  # FIX chars
    ("reason", "<u2"), ("venue_id", "<u2"),
    ("price", "<i8"), ("qty", "<i8"),
    ("last_px", "<i8"), ("last_qty", "<i8"),
    ("leaves_qty", "<i8"), ("cum_qty", "<i8"), ("avg_px", "<i8"),
    _ascii("cl_ord_id", CLORD_LEN), _ascii("orig_cl_ord_id", CLORD_LEN), _ascii("symbol", SYMBOL_LEN),
    # version 2: how a routed / algo parent is being worked
    ("working_qty", "<i8"),  # quantity out at venues now (child orders' leaves)
    ("strategy", "u1"), ("_pad2", "u1", (7,)),
], EVENT_SIZE)

CancelReject = _record([
    ("order_id", "<u8"), ("exec_id", "<u8"),
    ("client_id", "<u4"), ("reason", "<u2"),
    ("response_to", "u1"),  # FIX 434: ord('1') cancel, ord('2') cancel/replace
    ("ord_status", "u1"),   # FIX 39 char of the order, 0 if unknown
    _ascii("cl_ord_id", CLORD_LEN), _ascii("orig_cl_ord_id", CLORD_LEN),
], EVENT_SIZE)

VenueOrder = _record([
    ("order_id", "<u8"),
    ("client_id", "<u4"), ("symbol_id", "<u4"),
    ("price", "<i8"), ("qty", "<i8"),
    ("venue_id", "<u2"), ("action", "u1"),  # VENUE_ACTION_NEW / VENUE_ACTION_REPLACE
    ("side", "u1"), ("ord_type", "u1"), ("tif", "u1"), ("_pad", "u1", (2,)),
    _ascii("symbol", SYMBOL_LEN),
], EVENT_SIZE)

VenueCancel = _record([
    ("order_id", "<u8"),
    ("client_id", "<u4"), ("symbol_id", "<u4"),
    ("venue_id", "<u2"), ("_pad", "u1", (6,)),
], EVENT_SIZE)

Trade = _record([
    ("exec_id", "<u8"), ("order_id", "<u8"), ("venue_exec_id", "<u8"),
    ("client_id", "<u4"), ("symbol_id", "<u4"),
    ("price", "<i8"), ("qty", "<i8"), ("fee", "<i8"),
    ("venue_id", "<u2"), ("side", "u1"), ("liquidity", "u1"), ("_pad", "u1", (4,)),
], EVENT_SIZE)

Alert = _record([
    ("code", "<u2"), ("severity", "u1"), ("_pad", "u1", (5,)),
    ("a", "<i8"), ("b", "<i8"),
    _ascii("text", TEXT_LEN),
], EVENT_SIZE)

StateDigest = _record([
    ("digest", "<u8"), ("inputs", "<u8"), ("reason", "u1"), ("_pad", "u1", (7,)),
], EVENT_SIZE)

COMMAND_DTYPES = {
    NEW_ORDER: NewOrder, CANCEL: Cancel, REPLACE: Replace,
    VENUE_ACK: VenueAck, VENUE_FILL: VenueFill, VENUE_CANCELLED: VenueCancelled,
    VENUE_REJECT: VenueReject, MARKET_DATA: MarketData, TIMER: Timer,
    ADMIN: Admin, SESSION_EVENT: SessionEvent,
}
EVENT_DTYPES = {
    EXEC_REPORT: ExecReport, CANCEL_REJECT: CancelReject, VENUE_ORDER: VenueOrder,
    VENUE_CANCEL: VenueCancel, TRADE: Trade, ALERT: Alert, STATE_DIGEST: StateDigest,
}
TYPE_NAMES = {t: d for d, t in [
    ("NewOrder", NEW_ORDER), ("Cancel", CANCEL), ("Replace", REPLACE),
    ("VenueAck", VENUE_ACK), ("VenueFill", VENUE_FILL), ("VenueCancelled", VENUE_CANCELLED),
    ("VenueReject", VENUE_REJECT), ("MarketData", MARKET_DATA), ("Timer", TIMER),
    ("Admin", ADMIN), ("SessionEvent", SESSION_EVENT),
    ("ExecReport", EXEC_REPORT), ("CancelReject", CANCEL_REJECT), ("VenueOrder", VENUE_ORDER),
    ("VenueCancel", VENUE_CANCEL), ("Trade", TRADE), ("Alert", ALERT), ("StateDigest", STATE_DIGEST),
]}

# The highest version of each record type this build reads. A field added in a later
# version is listed in FIELD_VERSIONS with that version; readers of an older record
# treat it as zero.
RECORD_VERSIONS = {t: 1 for t in list(COMMAND_DTYPES) + list(EVENT_DTYPES)}
RECORD_VERSIONS[NEW_ORDER] = 2
RECORD_VERSIONS[EXEC_REPORT] = 2
for _t in (VENUE_ACK, VENUE_FILL, VENUE_CANCELLED, VENUE_REJECT, MARKET_DATA, ADMIN):
    RECORD_VERSIONS[_t] = 2
FIELD_VERSIONS: dict[int, dict[str, int]] = {
    NEW_ORDER: {"strategy": 2, "max_pct": 2, "start_ts": 2, "end_ts": 2},
    EXEC_REPORT: {"working_qty": 2, "strategy": 2},
    **{t: {"venue_seq": 2} for t in (VENUE_ACK, VENUE_FILL, VENUE_CANCELLED, VENUE_REJECT, MARKET_DATA)},
    ADMIN: {"auth": 2},
}

# ------------------------------------------------------------- enumerated values
SIDE_BUY = 1            # FIX 54 '1'
SIDE_SELL = 2           # FIX 54 '2'
SIDE_SELL_SHORT = 5     # FIX 54 '5'

ORD_MARKET = 1          # FIX 40 '1'
ORD_LIMIT = 2           # FIX 40 '2'

TIF_DAY = 0             # FIX 59 '0'
TIF_IOC = 3             # FIX 59 '3'
TIF_FOK = 4             # FIX 59 '4'

VENUE_ACTION_NEW = 1
VENUE_ACTION_REPLACE = 2
VENUE_ACTION_CANCEL = 3

# FIX ExecType (150) / OrdStatus (39) characters, as bytes values.
EXEC_NEW = ord("0")
EXEC_PARTIAL_FILL = ord("1")  # 4.2 only; 4.4 gateways map trades to 'F'
EXEC_FILL = ord("2")          # 4.2 only
EXEC_CANCELED = ord("4")
EXEC_REPLACED = ord("5")
EXEC_PENDING_CANCEL = ord("6")
EXEC_REJECTED = ord("8")
EXEC_PENDING_NEW = ord("A")
EXEC_PENDING_REPLACE = ord("E")
EXEC_TRADE = ord("F")

STATUS_NEW = ord("0")
STATUS_PARTIAL = ord("1")
STATUS_FILLED = ord("2")
STATUS_CANCELED = ord("4")
STATUS_PENDING_CANCEL = ord("6")
STATUS_REJECTED = ord("8")
STATUS_PENDING_NEW = ord("A")
STATUS_PENDING_REPLACE = ord("E")

# Admin actions.
ADMIN_ADD_CLIENT = 1      # target_id=client_id, v0=max order qty, v1=max notional, v2=cash, name=account
ADMIN_ADD_SYMBOL = 2      # target_id=symbol_id, v0=reference price, v1=default venue, name=symbol
ADMIN_SET_LIMITS = 3      # target_id=client_id, v0=max order qty, v1=max notional
ADMIN_DIGEST = 4          # emit a StateDigest now
ADMIN_SNAPSHOT = 5        # the sequencer snapshots at the end of this input's batch (no state change)
# Written by the sequencer itself (source id 0), never admitted from the inbound stream:
ADMIN_EPOCH = 6           # v0=new epoch, target_id=node id of the primary that starts it
ADMIN_REPLICATION = 7     # v0=REPLICATION_UP/DOWN, v1=policy while down, v2=first seq not replicated, scope=why
ADMIN_STANDBY_DIVERGED = 8  # v0=seq whose digests differ, v1=standby digest, v2=primary digest, target_id=node
SEQUENCER_ONLY_ADMIN = (ADMIN_EPOCH, ADMIN_REPLICATION, ADMIN_STANDBY_DIVERGED)

# ADMIN_REPLICATION values.
REPLICATION_UP = 0
REPLICATION_DOWN = 1
POLICY_REJECT_NEW = 1     # while down: new orders and replaces rejected, cancels and venue messages pass
POLICY_DEGRADE = 2        # while down: everything processed unreplicated (the range is marked)
WHY_ACK_TIMEOUT = 1       # the standby stopped acknowledging
WHY_NO_STANDBY = 2        # no standby had joined when inputs arrived
WHY_PROMOTED = 3          # this node was promoted: the old primary is gone (DR mode)
WHY_CAUGHT_UP = 4         # a standby has every record again

# Reject / alert reason codes (gateways map them to FIX Text and OrdRejReason).
REASON_NONE = 0
REASON_UNKNOWN_CLIENT = 1
REASON_UNKNOWN_SYMBOL = 2
REASON_MAX_QTY = 3
REASON_MAX_NOTIONAL = 4
REASON_DUPLICATE_CLORDID = 5
REASON_UNKNOWN_ORDER = 6
REASON_TOO_LATE = 7          # order already in a final state
REASON_PENDING = 8           # a cancel or replace is already pending
REASON_INVALID_FIELD = 9     # bad side, type, price or qty
REASON_CAPACITY = 10         # order or id table full
REASON_VENUE_REJECT = 11
REASON_NOT_OWNER = 12
REASON_UNKNOWN_RECORD = 13   # alert: an input the kernels do not handle

REASON_TEXT = {
    REASON_NONE: "",
    REASON_UNKNOWN_CLIENT: "unknown client",
    REASON_UNKNOWN_SYMBOL: "unknown symbol",
    REASON_MAX_QTY: "order quantity above limit",
    REASON_MAX_NOTIONAL: "order notional above limit",
    REASON_DUPLICATE_CLORDID: "duplicate ClOrdID",
    REASON_UNKNOWN_ORDER: "unknown order",
    REASON_TOO_LATE: "order already done",
    REASON_PENDING: "cancel or replace already pending",
    REASON_INVALID_FIELD: "invalid field value",
    REASON_CAPACITY: "capacity exhausted",
    REASON_VENUE_REJECT: "rejected by venue",
    REASON_NOT_OWNER: "order belongs to another client",
    REASON_UNKNOWN_RECORD: "unknown record type or version",
}

# StateDigest reasons.
DIGEST_PERIODIC = 1
DIGEST_ON_DEMAND = 2
DIGEST_FINAL = 3


class RecordError(ValueError):
    """A record that this build cannot read: unknown type, version or size."""


def ascii_field(text: str | bytes, width: int) -> np.ndarray:
    """Encode an identifier into a NUL-padded ``u1`` array, refusing what does not fit."""
    raw = text.encode("ascii") if isinstance(text, str) else bytes(text)
    if len(raw) > width:
        raise ValueError(f"{raw!r} is longer than {width} bytes")
    if any(b < 0x21 or b > 0x7E for b in raw):
        raise ValueError(f"{raw!r} is not printable ASCII without spaces")
    out = np.zeros(width, np.uint8)
    out[: len(raw)] = np.frombuffer(raw, np.uint8)
    return out


def ascii_text(field: np.ndarray) -> str:
    """Decode a NUL-padded ``u1`` identifier field."""
    return bytes(field).rstrip(b"\0").decode("ascii", "replace")


def new_commands(n: int) -> np.ndarray:
    """A zeroed buffer for ``n`` commands (view it with a per-type dtype to fill)."""
    return np.zeros(n, RAW_COMMAND)


def admin_command(action: int, target_id: int = 0, v0: int = 0, v1: int = 0, v2: int = 0,
                  scope: int = 0, operator: str = "") -> np.ndarray:
    """One Admin command (unstamped: source, seq and ts are the sender's and sequencer's)."""
    raw = new_commands(1)
    a = raw.view(Admin)
    a["type"], a["version"], a["action"], a["scope"], a["target_id"] = ADMIN, 1, action, scope, target_id
    a["v0"], a["v1"], a["v2"] = v0, v1, v2
    a["operator"][0] = ascii_field(operator, 8)
    return raw


_AUTH_AT = Admin.fields["auth"][1]


def admin_auth(raw: np.ndarray, key: bytes) -> np.ndarray:
    """The credential of each Admin command of ``raw``: HMAC-SHA256 with the operator key
    over what the sender writes (type, version, source id and seq, the body), not the
    seq and ts the sequencer stamps; 16 bytes of it."""
    import hashlib
    import hmac

    b = raw.view(np.uint8).reshape(len(raw), COMMAND_SIZE)
    out = np.zeros((len(raw), 16), np.uint8)
    for i in range(len(raw)):
        msg = b[i, :16].tobytes() + b[i, HEADER_SIZE:_AUTH_AT].tobytes()
        out[i] = np.frombuffer(hmac.new(key, msg, hashlib.sha256).digest()[:16], np.uint8)
    return out


def sign_admin(raw: np.ndarray, key: bytes | None) -> np.ndarray:
    """Set version 2 and the credential on every Admin command of ``raw`` (in place; its
    source id and seq must be final). No key: left as it is."""
    if key:
        is_admin = header(raw)["type"] == ADMIN
        if is_admin.any():
            a = raw.view(Admin)
            a["version"][is_admin] = 2
            a["auth"][is_admin] = admin_auth(raw[is_admin], key)
    return raw


def new_events(n: int) -> np.ndarray:
    return np.zeros(n, RAW_EVENT)


def header(raw: np.ndarray) -> np.ndarray:
    """The common header fields of a batch of commands or events (a view, not a copy)."""
    size = raw.dtype.itemsize
    if size == COMMAND_SIZE:
        return raw.view(COMMAND_HEADER)
    if size == EVENT_SIZE:
        return raw.view(EVENT_HEADER)
    raise RecordError(f"{size}-byte records are neither commands ({COMMAND_SIZE}) nor events ({EVENT_SIZE})")


# Highest readable version by command type code (0: not a command), for one-pass checks.
_COMMAND_MAX_VERSION = np.zeros(1 << 16, np.uint16)
for _t in COMMAND_DTYPES:
    _COMMAND_MAX_VERSION[_t] = RECORD_VERSIONS[_t]


def check_commands(raw: np.ndarray) -> np.ndarray:
    """Boolean mask of records this build can sequence (known type, supported version)."""
    hdr = header(raw)
    v = hdr["version"]
    return (v >= 1) & (v <= _COMMAND_MAX_VERSION[hdr["type"]])


def describe_bad(raw: np.ndarray, index: int, kinds=None) -> str:
    """A sentence naming what is wrong with record ``index`` of a batch."""
    kinds = COMMAND_DTYPES if kinds is None else kinds
    hdr = header(raw)[index]
    t, v = int(hdr["type"]), int(hdr["version"])
    if t not in kinds:
        return f"unknown record type {t}"
    return f"{TYPE_NAMES[t]} version {v} is not supported (this build reads up to {RECORD_VERSIONS[t]})"


# ------------------------------------------------ additions for the business logic
REASON_NO_REFERENCE_PRICE = 14   # market order on a symbol without a reference price
REASON_OVERFILL = 15             # alert: venue fill above the order's leaves quantity
REASON_UNEXPECTED_VENUE_MSG = 16 # alert: venue message that does not fit the order's state
REASON_OVERFLOW = 17             # value too large for int64 fixed point
REASON_INVALID_ADMIN = 18        # alert: admin command with a bad target or value
REASON_TEXT.update({
    REASON_NO_REFERENCE_PRICE: "no reference price for market order",
    REASON_OVERFILL: "fill above leaves quantity",
    REASON_UNEXPECTED_VENUE_MSG: "venue message does not fit order state",
    REASON_OVERFLOW: "value out of range",
    REASON_INVALID_ADMIN: "invalid admin command",
})

REASON_NOT_REPLICATED = 19      # new order/replace refused: no standby holds the journal
REASON_REPLICATION_DOWN = 20    # alert: replication lost (a=first seq not replicated, b=policy)
REASON_REPLICATION_UP = 21      # alert: a standby holds every record again (a=seq)
REASON_EPOCH = 22               # alert: a new epoch begins (a=epoch, b=node id)
REASON_STANDBY_DIVERGED = 23    # alert: standby digest differs (a=seq, b=standby digest)
REASON_TEXT.update({
    REASON_NOT_REPLICATED: "standby unavailable: new orders refused",
    REASON_REPLICATION_DOWN: "replication to the standby lost",
    REASON_REPLICATION_UP: "replication to the standby restored",
    REASON_EPOCH: "new epoch: a node was promoted to primary",
    REASON_STANDBY_DIVERGED: "standby state digest differs from the primary",
})

# Alert severities.
SEVERITY_INFO = 1
SEVERITY_WARNING = 2
SEVERITY_ERROR = 3

# ExecReport / CancelReject FIX 434 CxlRejResponseTo values.
RESPONSE_TO_CANCEL = ord("1")
RESPONSE_TO_REPLACE = ord("2")

# VenueFill.liquidity
LIQUIDITY_ADDED = 1
LIQUIDITY_REMOVED = 2


# ------------------------------------------------ trading logic: risk, kill switch, SOR, algos
# NewOrder.strategy: how the order is worked. DIRECT sends it as one order to its venue
# (venue_id, else the symbol's default venue); the others make it a parent whose child
# orders the router or the algo sends.
STRATEGY_DIRECT = 0
STRATEGY_BEST_PRICE = 1   # whole order to the best venue by price, then fee, fill ratio, id
STRATEGY_SWEEP = 2        # split across venues by displayed size at or better than the limit
STRATEGY_COST = 3         # like SWEEP, venues ranked by all-in cost (fees, rebates, fill ratio)
STRATEGY_TWAP = 10        # time slices on Timer records between start_ts and end_ts
STRATEGY_VWAP = 11        # slices following the intraday volume profile, capped by max_pct
ROUTED_STRATEGIES = (STRATEGY_BEST_PRICE, STRATEGY_SWEEP, STRATEGY_COST)
ALGO_STRATEGIES = (STRATEGY_TWAP, STRATEGY_VWAP)

EXEC_EXPIRED = ord("C")   # FIX 150/39 'C': an algo parent whose window ended unfilled
STATUS_EXPIRED = ord("C")

TIMER_TICK = 1            # Timer.kind: the sequencer's periodic clock tick (algo slices, margin sweep)

ADMIN_SET_RISK = 9        # target_id=client, scope=RISK_*, v0 (v1) = value(s); 0 = not enforced
ADMIN_SET_SYMBOL = 10     # target_id=symbol, scope=SYM_*, v0 (v1) = value(s)
ADMIN_KILL = 11           # scope=KILL_*, target_id=symbol/client/venue, v0=1 on / 0 off, v1=1 also cancel all in scope
ADMIN_CANCEL_ALL = 12     # scope=KILL_*, target_id: cancel every open order in scope (switches unchanged)
ADMIN_ADD_VENUE = 13      # target_id=venue, v0=take fee/share, v1=make fee/share (negative: rebate), name

RISK_MAX_OPEN_ORDERS = 1  # live client orders
RISK_MAX_POSITION = 2     # |position| per symbol in shares, counting open orders on the side
RISK_MAX_GROSS = 3        # gross exposure at cost + open order notional, money
RISK_ORDER_RATE = 4       # new orders and replaces per rolling second
RISK_MARGIN = 5           # v0 = initial, v1 = maintenance requirement, bps (10000 = cash account)

SYM_COLLAR = 1            # v0 = collar in bps of the reference price, v1 = absolute collar (money)
SYM_RESTRICTED = 2        # v0 = 1 restricted (no new orders), 0 not
SYM_SHORTABLE = 3         # v0 = 1 easy to borrow (short sales allowed), 0 hard to borrow
SYM_REFERENCE_PRICE = 4   # v0 = reference price

KILL_GLOBAL = 1           # every client new order, replace and cancel refused
KILL_NEW_ORDERS = 2       # new orders and replaces refused; cancels allowed
KILL_SYMBOL = 3
KILL_CLIENT = 4
KILL_VENUE = 5

REASON_KILL_GLOBAL = 24
REASON_KILL_NEW_ORDERS = 25
REASON_KILL_SYMBOL = 26
REASON_KILL_CLIENT = 27
REASON_KILL_VENUE = 28
REASON_MAX_OPEN_ORDERS = 29
REASON_MAX_POSITION = 30
REASON_MAX_GROSS = 31
REASON_BUYING_POWER = 32
REASON_ORDER_RATE = 33
REASON_PRICE_COLLAR = 34
REASON_RESTRICTED = 35
REASON_NOT_SHORTABLE = 36
REASON_SELL_EXCEEDS_POSITION = 37
REASON_MARGIN_CALL = 38         # alert: equity below maintenance (a=equity, b=requirement)
REASON_MARGIN_RESTORED = 39     # alert: equity back above maintenance
REASON_NO_VENUE = 40            # no venue open for the symbol (all killed / none known)
REASON_ROUTED_REPLACE = 41      # replace of a routed or algo parent: cancel and re-enter
REASON_ALGO_WINDOW = 42         # algo with an end before its start or already over
REASON_KILL_CANCEL = 43         # alert: cancel-all sent (a=orders cancelled, b=scope)
REASON_TEXT.update({
    REASON_KILL_GLOBAL: "kill switch: all trading halted",
    REASON_KILL_NEW_ORDERS: "kill switch: new orders halted",
    REASON_KILL_SYMBOL: "kill switch: symbol halted",
    REASON_KILL_CLIENT: "kill switch: client halted",
    REASON_KILL_VENUE: "kill switch: venue halted",
    REASON_MAX_OPEN_ORDERS: "too many open orders",
    REASON_MAX_POSITION: "position limit exceeded",
    REASON_MAX_GROSS: "gross exposure limit exceeded",
    REASON_BUYING_POWER: "insufficient buying power",
    REASON_ORDER_RATE: "order rate limit exceeded",
    REASON_PRICE_COLLAR: "price outside collar",
    REASON_RESTRICTED: "restricted symbol",
    REASON_NOT_SHORTABLE: "short sale not allowed",
    REASON_SELL_EXCEEDS_POSITION: "sell exceeds long position: mark short",
    REASON_MARGIN_CALL: "equity below maintenance margin",
    REASON_MARGIN_RESTORED: "equity back above maintenance margin",
    REASON_NO_VENUE: "no venue available",
    REASON_ROUTED_REPLACE: "replace not supported for routed orders",
    REASON_ALGO_WINDOW: "invalid algo time window",
    REASON_KILL_CANCEL: "kill switch: open orders cancelled",
})

# SessionEvent.event: what a gateway saw of a client session. Journaled for the audit
# trail; only SESSION_CANCEL_ON_DISCONNECT changes state.
SESSION_LOGON = 1
SESSION_LOGOUT = 2                 # ended by a Logout handshake
SESSION_DISCONNECT = 3             # connection lost
SESSION_CANCEL_ON_DISCONNECT = 4   # the session is configured so: cancel the client's open orders
REASON_SESSION_CANCEL = 44         # alert: cancel-on-disconnect applied (a=orders cancelled, b=session id)
REASON_TEXT[REASON_SESSION_CANCEL] = "session lost: open orders cancelled"
