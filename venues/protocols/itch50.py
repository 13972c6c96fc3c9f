"""NASDAQ TotalView-ITCH 5.0: message dtypes, encoders and a batch decoder.

Every ITCH 5.0 message starts with the same 11 bytes: Message Type (1 ASCII letter),
Stock Locate (u16), Tracking Number (u16) and Timestamp (6 bytes, nanoseconds since
midnight). All integers are big-endian and unsigned; Price(4) fields carry 4 implied
decimals, Price(8) fields (the MWCB levels) carry 8; Alpha fields are ASCII,
left-justified and space padded. Each message type has one fixed length (``LENGTHS``).

The dtypes below are packed big-endian numpy structured dtypes whose itemsize is the
spec length; the 6-byte timestamp is split into ``ts_hi`` (u16) and ``ts_lo`` (u32), so
``timestamp = ts_hi << 32 | ts_lo`` (see ``timestamp_of``).

Framing: the batch decoder reads the usual ITCH stream layout, each message preceded by
its length as a big-endian u16 (the layout of MoldUDP64 message blocks and of NASDAQ's
binary ITCH files). ``frame`` builds such a buffer from a list of payloads.

``decode_batch`` turns a buffer into ``sequencer.records.MarketData`` command records in
one Numba pass (no per-message Python objects). Stock Directory ('R') messages fill the
caller's locate -> symbol_id table; order/trade messages of a locate not in the table are
dropped and counted, unknown message types are skipped and counted; a message shorter or
longer than its type's length raises ``ItchError``.
"""

from __future__ import annotations

import struct
import time
from dataclasses import dataclass
from typing import Iterable, Mapping

import numba
import numpy as np

from sequencer import records as R


class ItchError(ValueError):
    """Malformed ITCH 5.0 input (truncated frame, wrong message length, bad field)."""


PRICE4_TO_TANDEM = R.PRICE_SCALE // 10_000  # ITCH Price(4) -> Tandem 8 implied decimals
_SIDE_BUY, _SIDE_SELL = R.SIDE_BUY, R.SIDE_SELL
LOCATE_SLOTS = 1 << 16                      # Stock Locate is a u16

_HEAD = [
    ("message_type", "S1"),
    ("stock_locate", ">u2"),
    ("tracking_number", ">u2"),
    ("ts_hi", ">u2"),   # timestamp bits 47..32
    ("ts_lo", ">u4"),   # timestamp bits 31..0
]
HEAD_SIZE = 11

# type letter -> (name, body fields after the common 11 bytes, spec length)
_SPEC: dict[str, tuple[str, list, int]] = {
    "S": ("SystemEvent", [("event_code", "S1")], 12),
    "R": ("StockDirectory", [
        ("stock", "S8"), ("market_category", "S1"), ("financial_status", "S1"),
        ("round_lot_size", ">u4"), ("round_lots_only", "S1"), ("issue_classification", "S1"),
        ("issue_subtype", "S2"), ("authenticity", "S1"), ("short_sale_threshold", "S1"),
        ("ipo_flag", "S1"), ("luld_reference_price_tier", "S1"), ("etp_flag", "S1"),
        ("etp_leverage_factor", ">u4"), ("inverse_indicator", "S1"),
    ], 39),
    "H": ("StockTradingAction", [
        ("stock", "S8"), ("trading_state", "S1"), ("reserved", "S1"), ("reason", "S4"),
    ], 25),
    "Y": ("RegShoRestriction", [("stock", "S8"), ("reg_sho_action", "S1")], 20),
    "L": ("MarketParticipantPosition", [
        ("mpid", "S4"), ("stock", "S8"), ("primary_market_maker", "S1"),
        ("market_maker_mode", "S1"), ("market_participant_state", "S1"),
    ], 26),
    "V": ("MwcbDeclineLevel", [("level1", ">u8"), ("level2", ">u8"), ("level3", ">u8")], 35),
    "W": ("MwcbStatus", [("breached_level", "S1")], 12),
    "K": ("IpoQuotingPeriodUpdate", [
        ("stock", "S8"), ("ipo_quotation_release_time", ">u4"),
        ("ipo_quotation_release_qualifier", "S1"), ("ipo_price", ">u4"),
    ], 28),
    "J": ("LuldAuctionCollar", [
        ("stock", "S8"), ("auction_collar_reference_price", ">u4"),
        ("upper_auction_collar_price", ">u4"), ("lower_auction_collar_price", ">u4"),
        ("auction_collar_extension", ">u4"),
    ], 35),
    "h": ("OperationalHalt", [
        ("stock", "S8"), ("market_code", "S1"), ("operational_halt_action", "S1"),
    ], 21),
    "A": ("AddOrder", [
        ("order_ref", ">u8"), ("side", "S1"), ("shares", ">u4"), ("stock", "S8"),
        ("price", ">u4"),
    ], 36),
    "F": ("AddOrderMpid", [
        ("order_ref", ">u8"), ("side", "S1"), ("shares", ">u4"), ("stock", "S8"),
        ("price", ">u4"), ("attribution", "S4"),
    ], 40),
    "E": ("OrderExecuted", [
        ("order_ref", ">u8"), ("executed_shares", ">u4"), ("match_number", ">u8"),
    ], 31),
    "C": ("OrderExecutedWithPrice", [
        ("order_ref", ">u8"), ("executed_shares", ">u4"), ("match_number", ">u8"),
        ("printable", "S1"), ("execution_price", ">u4"),
    ], 36),
    "X": ("OrderCancel", [("order_ref", ">u8"), ("cancelled_shares", ">u4")], 23),
    "D": ("OrderDelete", [("order_ref", ">u8")], 19),
    "U": ("OrderReplace", [
        ("original_order_ref", ">u8"), ("new_order_ref", ">u8"), ("shares", ">u4"),
        ("price", ">u4"),
    ], 35),
    "P": ("Trade", [
        ("order_ref", ">u8"), ("side", "S1"), ("shares", ">u4"), ("stock", "S8"),
        ("price", ">u4"), ("match_number", ">u8"),
    ], 44),
    "Q": ("CrossTrade", [
        ("shares", ">u8"), ("stock", "S8"), ("cross_price", ">u4"), ("match_number", ">u8"),
        ("cross_type", "S1"),
    ], 40),
    "B": ("BrokenTrade", [("match_number", ">u8")], 19),
    "I": ("Noii", [
        ("paired_shares", ">u8"), ("imbalance_shares", ">u8"), ("imbalance_direction", "S1"),
        ("stock", "S8"), ("far_price", ">u4"), ("near_price", ">u4"),
        ("current_reference_price", ">u4"), ("cross_type", "S1"),
        ("price_variation_indicator", "S1"),
    ], 50),
    "N": ("RetailPriceImprovement", [("stock", "S8"), ("interest_flag", "S1")], 20),
    "O": ("DirectListingCapitalRaise", [
        ("stock", "S8"), ("open_eligibility_status", "S1"), ("minimum_allowable_price", ">u4"),
        ("maximum_allowable_price", ">u4"), ("near_execution_price", ">u4"),
        ("near_execution_time", ">u8"), ("lower_price_range_collar", ">u4"),
        ("upper_price_range_collar", ">u4"),
    ], 48),
}

DTYPES: dict[str, np.dtype] = {}
NAMES: dict[str, str] = {}
LENGTHS: dict[str, int] = {}
for _t, (_name, _body, _len) in _SPEC.items():
    _dt = np.dtype(_HEAD + _body)
    if _dt.itemsize != _len:  # pragma: no cover - a typo in the table above
        raise AssertionError(f"ITCH {_t!r}: dtype is {_dt.itemsize} bytes, spec says {_len}")
    DTYPES[_t], NAMES[_t], LENGTHS[_t] = _dt, _name, _len
del _t, _name, _body, _len, _dt

SystemEvent = DTYPES["S"]
StockDirectory = DTYPES["R"]
AddOrder = DTYPES["A"]
AddOrderMpid = DTYPES["F"]
OrderExecuted = DTYPES["E"]
OrderExecutedWithPrice = DTYPES["C"]
OrderCancel = DTYPES["X"]
OrderDelete = DTYPES["D"]
OrderReplace = DTYPES["U"]
Trade = DTYPES["P"]
CrossTrade = DTYPES["Q"]

# Message length by type byte (0: not an ITCH 5.0 type), for the kernel.
LENGTH_TABLE = np.zeros(256, np.int64)
for _t, _n in LENGTHS.items():
    LENGTH_TABLE[ord(_t)] = _n
del _t, _n

# The types that become MarketData records (the book's MD actions).
MD_TYPES = "AFECXDUPQ"

# ------------------------------------------------------------------------ encoding
def _alpha(value, width: int, field: str) -> bytes:
    raw = value.encode("ascii") if isinstance(value, str) else bytes(value)
    if len(raw) > width or any(b > 0x7E or b < 0x20 for b in raw):
        raise ItchError(f"{field}: {value!r} is not printable ASCII of at most {width} chars")
    return raw.ljust(width, b" ")


def encode(msg_type: str, **fields) -> bytes:
    """One ITCH 5.0 message (no length prefix). ``timestamp`` is ns since midnight (48
    bits); prices are the raw ITCH integers (4 implied decimals; MWCB levels 8); Alpha
    fields take str/bytes and are space padded. Fields not given are 0 / spaces."""
    dt = DTYPES.get(msg_type)
    if dt is None:
        raise ItchError(f"unknown ITCH 5.0 message type {msg_type!r}")
    rec = np.zeros(1, dt)
    for name in dt.names:
        if dt.fields[name][0].kind == "S":
            rec[name] = dt.fields[name][0].itemsize * b" "
    rec["message_type"] = msg_type.encode()
    ts = int(fields.pop("timestamp", 0))
    if not 0 <= ts < 1 << 48:
        raise ItchError(f"timestamp {ts} does not fit 6 bytes")
    rec["ts_hi"], rec["ts_lo"] = ts >> 32, ts & 0xFFFFFFFF
    for name, value in fields.items():
        if name not in dt.names or name in ("message_type", "ts_hi", "ts_lo"):
            raise ItchError(f"{NAMES[msg_type]} has no field {name!r}")
        ft = dt.fields[name][0]
        if ft.kind == "S":
            rec[name] = _alpha(value, ft.itemsize, name)
        else:
            v = int(value)
            if not 0 <= v < 1 << (8 * ft.itemsize):
                raise ItchError(f"{name}={v} does not fit u{8 * ft.itemsize}")
            rec[name] = v
    return rec.tobytes()


def encode_system_event(**f) -> bytes:
    return encode("S", **f)


def encode_stock_directory(**f) -> bytes:
    return encode("R", **f)


def encode_add_order(**f) -> bytes:
    return encode("A", **f)


def encode_add_order_mpid(**f) -> bytes:
    return encode("F", **f)


def encode_order_executed(**f) -> bytes:
    return encode("E", **f)


def encode_order_executed_with_price(**f) -> bytes:
    return encode("C", **f)


def encode_order_cancel(**f) -> bytes:
    return encode("X", **f)


def encode_order_delete(**f) -> bytes:
    return encode("D", **f)


def encode_order_replace(**f) -> bytes:
    return encode("U", **f)


def encode_trade(**f) -> bytes:
    return encode("P", **f)


def encode_cross_trade(**f) -> bytes:
    return encode("Q", **f)


def frame(payloads: Iterable[bytes]) -> bytes:
    """Concatenate messages, each preceded by its u16 big-endian length."""
    out = []
    for p in payloads:
        if len(p) > 0xFFFF:
            raise ItchError(f"message of {len(p)} bytes does not fit a u16 length")
        out.append(struct.pack(">H", len(p)))
        out.append(bytes(p))
    return b"".join(out)


# ------------------------------------------------------------------------ decoding
def decode_message(payload: bytes) -> np.record:
    """One message (no length prefix) as a record of its type's dtype."""
    if len(payload) == 0:
        raise ItchError("empty ITCH message")
    t = chr(payload[0])
    dt = DTYPES.get(t)
    if dt is None:
        raise ItchError(f"unknown ITCH 5.0 message type {t!r}")
    if len(payload) != dt.itemsize:
        raise ItchError(f"ITCH {t!r} ({NAMES[t]}) message: expected {dt.itemsize} bytes, "
                        f"got {len(payload)}")
    return np.frombuffer(bytes(payload), dt)[0]


def timestamp_of(rec) -> int:
    """The 48-bit timestamp (ns since midnight) of a decoded record or record array."""
    if isinstance(rec, np.ndarray):
        return (rec["ts_hi"].astype(np.uint64) << np.uint64(32)) | rec["ts_lo"].astype(np.uint64)
    return (int(rec["ts_hi"]) << 32) | int(rec["ts_lo"])


def stock_key(symbol: str | bytes) -> int:
    """An 8-char space-padded stock symbol as the big-endian u64 the kernel compares."""
    return int.from_bytes(_alpha(symbol, 8, "stock"), "big")


@dataclass(frozen=True)
class SymbolKeys:
    """Sorted stock keys -> symbol_id, for Stock Directory lookups inside the kernel."""
    keys: np.ndarray  # uint64, sorted
    ids: np.ndarray   # uint32

    @classmethod
    def from_mapping(cls, symbols: Mapping[str, int]) -> "SymbolKeys":
        pairs = sorted((stock_key(s), int(i)) for s, i in symbols.items())
        keys = np.array([k for k, _ in pairs], np.uint64)
        ids = np.array([i for _, i in pairs], np.uint32)
        return cls(keys, ids)


def new_locate_table() -> np.ndarray:
    """An empty locate -> symbol_id table (0 = not mapped)."""
    return np.zeros(LOCATE_SLOTS, np.uint32)


# counters (index into DecodeResult.counts)
C_MESSAGES, C_RECORDS, C_UNKNOWN_TYPE, C_UNMAPPED, C_IGNORED, C_DIRECTORY, C_DIRECTORY_UNKNOWN = range(7)
N_COUNTS = 7

# kernel error codes
E_OK, E_FRAME_LENGTH, E_FRAME_BODY, E_MESSAGE_LENGTH, E_EMPTY = 0, 1, 2, 3, 4


@numba.njit(cache=True, inline="always")
def _be(buf, off, n):
    v = np.uint64(0)
    for j in range(n):
        v = (v << np.uint64(8)) | np.uint64(buf[off + j])
    return v


@numba.njit(cache=True)
def _decode_kernel(buf, lengths, locate, keys, ids,
                   o_sym, o_act, o_side, o_ref, o_new, o_px, o_qty, o_mpid, o_ts, o_idx,
                   counts, err):
    n = len(buf)
    pos = 0
    k = 0
    index = 0
    while pos < n:
        if pos + 2 > n:
            err[0], err[1], err[2], err[3], err[4], err[5] = E_FRAME_LENGTH, pos, -1, 2, n - pos, index
            return k
        mlen = (np.int64(buf[pos]) << 8) | np.int64(buf[pos + 1])
        body = pos + 2
        if body + mlen > n:
            t = np.int64(buf[body]) if body < n else np.int64(-1)
            err[0], err[1], err[2], err[3], err[4], err[5] = E_FRAME_BODY, pos, t, mlen, n - body, index
            return k
        if mlen == 0:
            err[0], err[1], err[2], err[3], err[4], err[5] = E_EMPTY, pos, -1, 1, 0, index
            return k
        t = np.int64(buf[body])
        expected = lengths[t]
        counts[C_MESSAGES] += 1
        pos = body + mlen
        index += 1
        if expected == 0:
            counts[C_UNKNOWN_TYPE] += 1
            continue
        if mlen != expected:
            err[0], err[1], err[2], err[3], err[4], err[5] = E_MESSAGE_LENGTH, body - 2, t, expected, mlen, index - 1
            return k
        loc = np.int64(_be(buf, body + 1, 2))
        if t == 82:  # 'R' Stock Directory: fill the locate table
            key = _be(buf, body + 11, 8)
            lo = 0
            hi = len(keys)
            while lo < hi:
                mid = (lo + hi) >> 1
                if keys[mid] < key:
                    lo = mid + 1
                else:
                    hi = mid
            if lo < len(keys) and keys[lo] == key:
                locate[loc] = ids[lo]
                counts[C_DIRECTORY] += 1
            else:
                counts[C_DIRECTORY_UNKNOWN] += 1
            continue
        # A F E C X D U P Q
        if not (t == 65 or t == 70 or t == 69 or t == 67 or t == 88 or t == 68
                or t == 85 or t == 80 or t == 81):
            counts[C_IGNORED] += 1
            continue
        sym = locate[loc]
        if sym == 0:
            counts[C_UNMAPPED] += 1
            continue
        o_sym[k] = sym
        o_act[k] = t
        o_ts[k] = (_be(buf, body + 5, 6))
        o_idx[k] = index - 1
        side = np.uint8(0)
        ref = np.uint64(0)
        new = np.uint64(0)
        px = np.int64(0)
        qty = np.int64(0)
        b = body + 11
        for j in range(4):
            o_mpid[k, j] = 0
        if t == 65 or t == 70 or t == 80:  # A F P: ref, side, shares, stock, price
            ref = _be(buf, b, 8)
            s = buf[b + 8]
            if s == 66:
                side = np.uint8(_SIDE_BUY)
            elif s == 83:
                side = np.uint8(_SIDE_SELL)
            qty = np.int64(_be(buf, b + 9, 4))
            px = np.int64(_be(buf, b + 21, 4)) * PRICE4_TO_TANDEM
            if t == 70:
                for j in range(4):
                    c = buf[b + 25 + j]
                    o_mpid[k, j] = 0 if c == 32 else c
        elif t == 69 or t == 67:  # E C: ref, executed shares, match (C: printable, price)
            ref = _be(buf, b, 8)
            qty = np.int64(_be(buf, b + 8, 4))
            if t == 67:
                px = np.int64(_be(buf, b + 21, 4)) * PRICE4_TO_TANDEM
        elif t == 88:  # X
            ref = _be(buf, b, 8)
            qty = np.int64(_be(buf, b + 8, 4))
        elif t == 68:  # D
            ref = _be(buf, b, 8)
        elif t == 85:  # U
            ref = _be(buf, b, 8)
            new = _be(buf, b + 8, 8)
            qty = np.int64(_be(buf, b + 16, 4))
            px = np.int64(_be(buf, b + 20, 4)) * PRICE4_TO_TANDEM
        else:  # Q: shares is a u64 (clamped to int64), stock, cross price
            q = _be(buf, b, 8)
            qty = np.int64(q) if q < np.uint64(1 << 63) else np.int64(0x7FFFFFFFFFFFFFFF)
            px = np.int64(_be(buf, b + 16, 4)) * PRICE4_TO_TANDEM
        o_side[k] = side
        o_ref[k] = ref
        o_new[k] = new
        o_px[k] = px
        o_qty[k] = qty
        k += 1
        counts[C_RECORDS] += 1
    return k


@dataclass
class DecodeResult:
    records: np.ndarray     # records.MarketData
    timestamps: np.ndarray  # uint64, ITCH ns since midnight, one per record
    indices: np.ndarray     # int64, index of each record's message in the input
    counts: np.ndarray      # int64[N_COUNTS], see C_*

    @property
    def messages(self) -> int:
        return int(self.counts[C_MESSAGES])

    @property
    def unknown_type(self) -> int:
        return int(self.counts[C_UNKNOWN_TYPE])

    @property
    def unmapped(self) -> int:
        return int(self.counts[C_UNMAPPED])

    @property
    def ignored(self) -> int:
        return int(self.counts[C_IGNORED])

    @property
    def directory(self) -> int:
        return int(self.counts[C_DIRECTORY])

    @property
    def directory_unknown(self) -> int:
        return int(self.counts[C_DIRECTORY_UNKNOWN])


_NO_KEYS = SymbolKeys(np.zeros(0, np.uint64), np.zeros(0, np.uint32))


def _as_buffer(data) -> np.ndarray:
    if isinstance(data, np.ndarray):
        return np.ascontiguousarray(data.reshape(-1).view(np.uint8))
    if isinstance(data, (bytes, bytearray, memoryview)):
        return np.frombuffer(data, np.uint8)
    return np.frombuffer(frame(data), np.uint8)  # a sequence of payloads


def decode_batch(data, locate: np.ndarray, symbols: Mapping[str, int] | SymbolKeys | None = None,
                 *, venue_id: int = 0, source_id: int = 0,
                 first_seq: int | None = None) -> DecodeResult:
    """Decode ITCH 5.0 messages into ``records.MarketData`` records.

    ``data``: bytes/bytearray/uint8 array of length-prefixed messages (see ``frame``), or
    a sequence of message payloads. ``locate``: uint32[65536] locate -> symbol_id table
    (0 = unmapped), updated in place by Stock Directory messages whose stock is in
    ``symbols`` (name -> symbol_id, or prebuilt ``SymbolKeys``). A record's ``venue_seq``
    is ``first_seq`` + its message index when ``first_seq`` is given (the MoldUDP64
    sequence number of the first message), else 0; ``source_seq`` is left 0 for the
    publisher to number (it must be gapless, and not every message becomes a record). On malformed framing raises
    ``ItchError`` (nothing is returned; Stock Directory updates before the error stay).
    """
    if not (isinstance(locate, np.ndarray) and locate.dtype == np.uint32
            and locate.shape == (LOCATE_SLOTS,)):
        raise TypeError("locate must be a uint32[65536] array (see new_locate_table)")
    if symbols is None:
        keys = _NO_KEYS
    elif isinstance(symbols, SymbolKeys):
        keys = symbols
    else:
        keys = SymbolKeys.from_mapping(symbols)
    buf = _as_buffer(data)
    cap = len(buf) // (LENGTHS["D"] + 2) + 1
    o_sym = np.empty(cap, np.uint32)
    o_act = np.empty(cap, np.uint8)
    o_side = np.empty(cap, np.uint8)
    o_ref = np.empty(cap, np.uint64)
    o_new = np.empty(cap, np.uint64)
    o_px = np.empty(cap, np.int64)
    o_qty = np.empty(cap, np.int64)
    o_mpid = np.empty((cap, 4), np.uint8)
    o_ts = np.empty(cap, np.uint64)
    o_idx = np.empty(cap, np.int64)
    counts = np.zeros(N_COUNTS, np.int64)
    err = np.zeros(6, np.int64)
    k = _decode_kernel(buf, LENGTH_TABLE, locate, keys.keys, keys.ids,
                       o_sym, o_act, o_side, o_ref, o_new, o_px, o_qty, o_mpid, o_ts, o_idx,
                       counts, err)
    if err[0] != E_OK:
        raise ItchError(_describe(err))
    md = R.new_commands(k).view(R.MarketData)
    md["type"], md["version"] = R.MARKET_DATA, R.RECORD_VERSIONS[R.MARKET_DATA]
    md["source_id"] = source_id
    if first_seq is not None:
        md["venue_seq"] = np.uint64(first_seq) + o_idx[:k].astype(np.uint64)
    md["symbol_id"] = o_sym[:k]
    md["venue_id"] = venue_id
    md["action"] = o_act[:k]
    md["side"] = o_side[:k]
    md["ref"] = o_ref[:k]
    md["new_ref"] = o_new[:k]
    md["price"] = o_px[:k]
    md["qty"] = o_qty[:k]
    md["mpid"] = o_mpid[:k]
    return DecodeResult(md, o_ts[:k].copy(), o_idx[:k].copy(), counts)


def _describe(err) -> str:
    code, off, t, expected, actual, index = (int(x) for x in err)
    tname = "?" if t < 0 else repr(chr(t))
    name = NAMES.get(chr(t), "unknown type") if t >= 0 else "unknown type"
    if code == E_FRAME_LENGTH:
        return (f"truncated ITCH frame at offset {off} (message #{index}): "
                f"expected {expected} length bytes, got {actual}")
    if code == E_FRAME_BODY:
        return (f"truncated ITCH message type {tname} ({name}) at offset {off} (message #{index}): "
                f"expected {expected} bytes, got {actual}")
    if code == E_EMPTY:
        return f"empty ITCH message at offset {off} (message #{index})"
    return (f"ITCH message type {tname} ({name}) at offset {off} (message #{index}) has the "
            f"wrong length: expected {expected} bytes, got {actual}")


# ------------------------------------------------------------------------ benchmark
def _bench_stream(n: int, n_stocks: int = 64) -> tuple[bytes, dict[str, int]]:
    """n framed messages: a Stock Directory per stock, then a mix of A/F/E/C/X/D/U/P."""
    symbols = {f"S{i:04d}": i + 1 for i in range(n_stocks)}
    head = [encode("R", stock_locate=i + 1, stock=s, market_category="Q", round_lot_size=100)
            for i, s in enumerate(symbols)]
    tmpl = []
    for j in range(256):
        loc = j % n_stocks + 1
        kind = "AFECXDUP"[j % 8]
        f = dict(stock_locate=loc, tracking_number=j, timestamp=34_200_000_000_000 + j)
        if kind in "AFP":
            f.update(order_ref=j + 1, side="BS"[j & 1], shares=100, stock=f"S{loc - 1:04d}",
                     price=1_000_000 + j)
            if kind == "F":
                f["attribution"] = "GSCO"
            if kind == "P":
                f["match_number"] = j
        elif kind in "EC":
            f.update(order_ref=j, executed_shares=10, match_number=j)
            if kind == "C":
                f.update(printable="Y", execution_price=1_000_100)
        elif kind == "X":
            f.update(order_ref=j, cancelled_shares=5)
        elif kind == "D":
            f.update(order_ref=j)
        else:
            f.update(original_order_ref=j, new_order_ref=j + 10_000, shares=50, price=999_900)
        tmpl.append(encode(kind, **f))
    block = frame(tmpl)
    reps, rest = divmod(max(n - len(head), 0), len(tmpl))
    return frame(head) + block * reps + frame(tmpl[:rest]), symbols


def bench_decode(n: int = 1_000_000) -> float:
    """Decode n framed ITCH messages (after a warm-up); returns messages per second."""
    data, symbols = _bench_stream(n)
    keys = SymbolKeys.from_mapping(symbols)
    decode_batch(frame([encode("D", stock_locate=1)]), new_locate_table(), keys)  # JIT warm-up
    locate = new_locate_table()
    t0 = time.perf_counter()
    res = decode_batch(data, locate, keys, venue_id=1)
    dt = time.perf_counter() - t0
    return res.messages / dt
