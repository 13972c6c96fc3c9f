"""NASDAQ OUCH 4.2 order-entry messages as numpy structured dtypes.

One OUCH message is the payload of one SoupBinTCP packet: Unsequenced Data for
inbound messages (client -> NASDAQ), Sequenced Data for outbound ones. Every
message type has a fixed length; every dtype below is packed, big-endian, and its
``itemsize`` equals that length, so ``record.tobytes()`` is the wire message.

Field types (spec section "Data Types"):
- integers (shares, time in force, quantities, reference and match numbers) are
  unsigned big-endian binary: ``>u4`` / ``>u8``;
- prices are ``>u4`` with 4 implied decimals (6 whole + 4 decimal digits); the
  largest valid price is ``MAX_PRICE`` (199,999.9900) and ``MARKET_PRICE``
  (0x7FFFFFFF) marks a market (cross) order;
- timestamps are ``>u8`` nanoseconds since midnight;
- alpha fields are ASCII, left-justified and space padded on the right (``S<n>``;
  numpy shows them with the padding, ``text()`` strips it).

Inbound and outbound type letters overlap ('U', 'M'), so decoding needs the
direction: ``decode(payload)`` reads outbound messages (what a client receives),
``decode(payload, INBOUND)`` reads inbound ones (what the venue receives).
"""

from __future__ import annotations

import inspect
import operator
import re
import struct

import numpy as np

from sequencer.records import PRICE_SCALE

__all__ = [
    "OuchError", "INBOUND", "OUTBOUND", "MESSAGES", "Message",
    "ENTER_ORDER", "REPLACE_ORDER", "CANCEL_ORDER", "MODIFY_ORDER",
    "SYSTEM_EVENT", "ACCEPTED", "REPLACED", "CANCELED", "AIQ_CANCELED", "EXECUTED",
    "BROKEN_TRADE", "REJECTED", "CANCEL_PENDING", "CANCEL_REJECT",
    "ORDER_PRIORITY_UPDATE", "ORDER_MODIFIED",
    "MAX_PRICE", "MARKET_PRICE", "price_to_ouch", "price_from_ouch",
    "encode", "decode", "decode_many", "text",
]


class OuchError(ValueError):
    """An OUCH message is truncated, unknown or malformed, or cannot be encoded."""


INBOUND = "inbound"    # client -> NASDAQ
OUTBOUND = "outbound"  # NASDAQ -> client

MAX_PRICE = 0x7735939C     # 199,999.9900
MARKET_PRICE = 0x7FFFFFFF  # market (cross) order price sentinel
OUCH_PRICE_SCALE = 10_000  # 4 implied decimals
_PRICE_RATIO = PRICE_SCALE // OUCH_PRICE_SCALE  # Tandem 8dp -> OUCH 4dp

# time in force special values (anything else below is seconds to live)
TIF_IMMEDIATE = 0
TIF_MARKET_HOURS = 99_998
TIF_SYSTEM_HOURS = 99_999

# fields: (name, numpy format); 'S1' fields are single ASCII codes
TYPE = ("msg_type", "S1")
TOKEN = "S14"
STOCK = "S8"
FIRM = "S4"
U4 = ">u4"
U8 = ">u8"
C = "S1"


class Message:
    """One message type: letter, direction, name and its wire dtype."""

    def __init__(self, letter: str, direction: str, name: str, length: int,
                 fields: list[tuple[str, str]]) -> None:
        self.letter = letter
        self.direction = direction
        self.name = name
        self.dtype = np.dtype([TYPE] + fields)
        if self.dtype.itemsize != length:  # the spec's message length
            raise AssertionError(f"{name}: dtype is {self.dtype.itemsize} bytes, "
                                 f"spec says {length}")
        self.length = length
        self.fields = [f for f, _ in fields]
        # The encoder packs with struct (a numpy record per message is ~10x slower):
        # the same big-endian layout, alpha fields as space-padded bytes.
        self.struct = struct.Struct(">c" + "".join(
            f"{self.dtype.fields[f][0].itemsize}s" if self.dtype.fields[f][0].kind == "S"
            else ("I" if self.dtype.fields[f][0].itemsize == 4 else "Q") for f in self.fields))
        self.kinds = [(f, self.dtype.fields[f][0].kind == "S", self.dtype.fields[f][0].itemsize)
                      for f in self.fields]
        self.field_set = frozenset(self.fields)

    def __repr__(self) -> str:
        return f"<OUCH 4.2 {self.direction} {self.name} {self.letter!r} {self.length}B>"


# ---------------------------------------------------------------- inbound

ENTER_ORDER = Message("O", INBOUND, "Enter Order", 49, [
    ("order_token", TOKEN), ("side", C), ("shares", U4), ("stock", STOCK),
    ("price", U4), ("time_in_force", U4), ("firm", FIRM), ("display", C),
    ("capacity", C), ("intermarket_sweep", C), ("minimum_quantity", U4),
    ("cross_type", C), ("customer_type", C),
])
REPLACE_ORDER = Message("U", INBOUND, "Replace Order", 47, [
    ("existing_order_token", TOKEN), ("replacement_order_token", TOKEN),
    ("shares", U4), ("price", U4), ("time_in_force", U4), ("display", C),
    ("intermarket_sweep", C), ("minimum_quantity", U4),
])
CANCEL_ORDER = Message("X", INBOUND, "Cancel Order", 19, [
    ("order_token", TOKEN), ("shares", U4),  # new intended size; 0 cancels all
])
MODIFY_ORDER = Message("M", INBOUND, "Modify Order", 20, [
    ("order_token", TOKEN), ("side", C), ("shares", U4),
])

# ---------------------------------------------------------------- outbound

_HDR = [("timestamp", U8)]
_ORDER_HDR = _HDR + [("order_token", TOKEN)]

SYSTEM_EVENT = Message("S", OUTBOUND, "System Event", 10, _HDR + [("event_code", C)])
ACCEPTED = Message("A", OUTBOUND, "Accepted", 66, _ORDER_HDR + [
    ("side", C), ("shares", U4), ("stock", STOCK), ("price", U4),
    ("time_in_force", U4), ("firm", FIRM), ("display", C),
    ("order_reference_number", U8), ("capacity", C), ("intermarket_sweep", C),
    ("minimum_quantity", U4), ("cross_type", C), ("order_state", C),
    ("bbo_weight_indicator", C),
])
REPLACED = Message("U", OUTBOUND, "Replaced", 80, _HDR + [
    ("replacement_order_token", TOKEN),
    ("side", C), ("shares", U4), ("stock", STOCK), ("price", U4),
    ("time_in_force", U4), ("firm", FIRM), ("display", C),
    ("order_reference_number", U8), ("capacity", C), ("intermarket_sweep", C),
    ("minimum_quantity", U4), ("cross_type", C), ("order_state", C),
    ("previous_order_token", TOKEN), ("bbo_weight_indicator", C),
])
CANCELED = Message("C", OUTBOUND, "Canceled", 28, _ORDER_HDR + [
    ("decrement_shares", U4), ("reason", C),
])
AIQ_CANCELED = Message("D", OUTBOUND, "AIQ Canceled", 37, _ORDER_HDR + [
    ("decrement_shares", U4), ("reason", C),
    ("quantity_prevented_from_trading", U4), ("execution_price", U4),
    ("liquidity_flag", C),
])
EXECUTED = Message("E", OUTBOUND, "Executed", 40, _ORDER_HDR + [
    ("executed_shares", U4), ("execution_price", U4), ("liquidity_flag", C),
    ("match_number", U8),
])
BROKEN_TRADE = Message("B", OUTBOUND, "Broken Trade", 32, _ORDER_HDR + [
    ("match_number", U8), ("reason", C),
])
REJECTED = Message("J", OUTBOUND, "Rejected", 24, _ORDER_HDR + [("reason", C)])
CANCEL_PENDING = Message("P", OUTBOUND, "Cancel Pending", 23, list(_ORDER_HDR))
CANCEL_REJECT = Message("I", OUTBOUND, "Cancel Reject", 23, list(_ORDER_HDR))
ORDER_PRIORITY_UPDATE = Message("T", OUTBOUND, "Order Priority Update", 36,
                                _ORDER_HDR + [("price", U4), ("display", C),
                                              ("order_reference_number", U8)])
ORDER_MODIFIED = Message("M", OUTBOUND, "Order Modified", 28, _ORDER_HDR + [
    ("side", C), ("shares", U4),
])

MESSAGES: dict[str, dict[str, Message]] = {INBOUND: {}, OUTBOUND: {}}
for _m in (ENTER_ORDER, REPLACE_ORDER, CANCEL_ORDER, MODIFY_ORDER, SYSTEM_EVENT,
           ACCEPTED, REPLACED, CANCELED, AIQ_CANCELED, EXECUTED, BROKEN_TRADE, REJECTED,
           CANCEL_PENDING, CANCEL_REJECT, ORDER_PRIORITY_UPDATE, ORDER_MODIFIED):
    MESSAGES[_m.direction][_m.letter] = _m
del _m


# ---------------------------------------------------------------- prices

def _int(value, what: str) -> int:
    if isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{what} {value!r} is a bool, not an integer")
    try:
        return operator.index(value)
    except TypeError:
        raise ValueError(f"{what} {value!r} is not an integer") from None


def price_to_ouch(price: int) -> int:
    """Tandem price (int64, 8 implied decimals) -> OUCH Price(4) as an int.

    Refuses negative prices, prices with more than 4 decimals and prices above
    ``MAX_PRICE``; use ``MARKET_PRICE`` directly for a market (cross) order.
    """
    p = _int(price, "price")
    if p < 0:
        raise ValueError(f"price {p} (8dp) is negative; OUCH prices are unsigned")
    q, r = divmod(p, _PRICE_RATIO)
    if r:
        raise ValueError(f"price {p} (8dp) has more than 4 decimals; "
                         f"OUCH 4.2 prices have 4 implied decimals")
    if q > MAX_PRICE:
        raise ValueError(f"price {p} (8dp) exceeds the OUCH 4.2 maximum "
                         f"{MAX_PRICE} (4dp) = 199,999.9900")
    return q


def price_from_ouch(price: int) -> int:
    """OUCH Price(4) -> Tandem price (int64, 8 implied decimals).

    Refuses the market sentinel and anything above ``MAX_PRICE``, which are not
    prices.
    """
    p = _int(price, "OUCH price")
    if p == MARKET_PRICE:
        raise ValueError(f"OUCH price {p} is the market-order sentinel 0x7FFFFFFF, "
                         f"not a price")
    if p < 0 or p > MAX_PRICE:
        raise ValueError(f"OUCH price {p} is outside 0..{MAX_PRICE} "
                         f"(0..199,999.9900)")
    return p * _PRICE_RATIO


# ---------------------------------------------------------------- encode

_PRINTABLE = re.compile(rb"[\x20-\x7e]*")


def _alpha(value, width: int, what: str) -> bytes:
    if isinstance(value, str):
        if not value.isascii():
            raise OuchError(f"{what} {value!r} is not ASCII")
        raw = value.encode("ascii")
    elif isinstance(value, (bytes, bytearray, memoryview, np.bytes_)):
        raw = bytes(value)
    else:
        raise OuchError(f"{what} {value!r} must be str or bytes")
    if not _PRINTABLE.fullmatch(raw):
        raise OuchError(f"{what} {value!r} has non-printable characters")
    if len(raw) > width:
        raise OuchError(f"{what} {value!r} is longer than {width} characters")
    if width == 1 and len(raw) != 1:
        raise OuchError(f"{what} {value!r} must be exactly one character")
    return raw.ljust(width, b" ")


def encode(msg: Message, **fields) -> bytes:
    """The wire bytes of ``msg`` with every field given by name.

    Alpha fields take ``str``/``bytes`` (padded with spaces), integer fields take
    ints and must fit their width. Prices are raw Price(4) ints (see
    ``price_to_ouch``).
    """
    if fields.keys() != msg.field_set:
        missing = [f for f in msg.fields if f not in fields]
        extra = [f for f in fields if f not in msg.field_set]
        raise OuchError(f"{msg.name} ({msg.letter!r}): missing fields {missing}, "
                        f"unknown fields {extra}")
    values = [msg.letter.encode("ascii")]
    for name, alpha, width in msg.kinds:
        value = fields[name]
        if alpha:
            values.append(_alpha(value, width, f"{msg.name} {name}"))
            continue
        try:
            v = _int(value, f"{msg.name} {name}")
        except ValueError as e:
            raise OuchError(str(e)) from None
        if v < 0 or v >> (8 * width):
            raise OuchError(f"{msg.name} {name} {v} does not fit an unsigned "
                            f"{8 * width}-bit field")
        values.append(v)
    return msg.struct.pack(*values)


def _make_encoder(msg: Message):
    def encoder(**fields) -> bytes:
        return encode(msg, **fields)

    encoder.__name__ = encoder.__qualname__ = (
        "encode_" + msg.name.lower().replace(" ", "_"))
    encoder.__signature__ = inspect.Signature(
        [inspect.Parameter(f, inspect.Parameter.KEYWORD_ONLY) for f in msg.fields])
    encoder.__doc__ = (f"Encode a {msg.direction} {msg.name} ({msg.letter!r}, "
                       f"{msg.length} bytes); every field is keyword-only and required.")
    return encoder


encode_enter_order = _make_encoder(ENTER_ORDER)
encode_replace_order = _make_encoder(REPLACE_ORDER)
encode_cancel_order = _make_encoder(CANCEL_ORDER)
encode_modify_order = _make_encoder(MODIFY_ORDER)
encode_system_event = _make_encoder(SYSTEM_EVENT)
encode_accepted = _make_encoder(ACCEPTED)
encode_replaced = _make_encoder(REPLACED)
encode_canceled = _make_encoder(CANCELED)
encode_aiq_canceled = _make_encoder(AIQ_CANCELED)
encode_executed = _make_encoder(EXECUTED)
encode_broken_trade = _make_encoder(BROKEN_TRADE)
encode_rejected = _make_encoder(REJECTED)
encode_cancel_pending = _make_encoder(CANCEL_PENDING)
encode_cancel_reject = _make_encoder(CANCEL_REJECT)
encode_order_priority_update = _make_encoder(ORDER_PRIORITY_UPDATE)
encode_order_modified = _make_encoder(ORDER_MODIFIED)
__all__ += [n for n in list(globals()) if n.startswith("encode_")]


# ---------------------------------------------------------------- decode

def _lookup(payload, direction: str) -> tuple[bytes, Message]:
    if direction not in MESSAGES:
        raise OuchError(f"direction must be {INBOUND!r} or {OUTBOUND!r}, "
                        f"got {direction!r}")
    try:
        raw = bytes(payload)
    except TypeError:
        raise OuchError(f"OUCH payload must be bytes-like, got "
                        f"{type(payload).__name__}") from None
    if not raw:
        raise OuchError(f"empty {direction} OUCH message (no type byte)")
    letter = chr(raw[0])
    msg = MESSAGES[direction].get(letter)
    if msg is None:
        raise OuchError(f"unknown {direction} OUCH 4.2 message type {letter!r} "
                        f"(byte 0x{raw[0]:02x}), {len(raw)} bytes")
    if len(raw) != msg.length:
        kind = "truncated" if len(raw) < msg.length else "overlong"
        raise OuchError(f"{kind} {msg.name} ({letter!r}): expected {msg.length} "
                        f"bytes, got {len(raw)}")
    return raw, msg


def decode(payload: bytes, direction: str = OUTBOUND) -> tuple[str, np.record]:
    """``(msg_type, record)`` of one message; ``OuchError`` if it is not one."""
    raw, msg = _lookup(payload, direction)
    return msg.letter, np.frombuffer(raw, msg.dtype).copy()[0]


def decode_many(payloads, direction: str = OUTBOUND
                ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Decode a batch, grouped by type: ``{msg_type: (positions, records)}``.

    ``positions`` (int64) are the indices in ``payloads`` of that type's
    ``records`` (a structured array), so the original order can be rebuilt. The
    first bad payload raises ``OuchError`` naming its index.
    """
    groups: dict[str, tuple[list[int], list[bytes], Message]] = {}
    for i, p in enumerate(payloads):
        try:
            raw, msg = _lookup(p, direction)
        except OuchError as e:
            raise OuchError(f"payload {i}: {e}") from None
        groups.setdefault(msg.letter, ([], [], msg))
        groups[msg.letter][0].append(i)
        groups[msg.letter][1].append(raw)
    return {t: (np.asarray(pos, np.int64), np.frombuffer(b"".join(raws), msg.dtype).copy())
            for t, (pos, raws, msg) in groups.items()}


def text(value: bytes | np.bytes_) -> str:
    """An alpha field as ``str`` without its space padding."""
    return bytes(value).decode("ascii", "replace").rstrip(" ")
