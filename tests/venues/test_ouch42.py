"""OUCH 4.2: every message byte-exact against struct-packed spec layouts, fuzzing."""

import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sequencer.records import PRICE_SCALE
from venues.protocols import ouch42 as ouch
from venues.protocols.ouch42 import INBOUND, OUTBOUND, OuchError

TS = 34_200_000_000_123  # 09:30:00.000000123 in ns since midnight
TOK = "ABC12345678901"    # 14 characters
TOK2 = "NEW1"

# (message, encoder, struct layout from the spec's field table, [(field, value)])
# big-endian; 'c'/'Ns' are alpha fields, I = 4-byte, Q = 8-byte unsigned ints.
CASES = [
    (ouch.ENTER_ORDER, ouch.encode_enter_order, ">c14scI8sII4scccIcc", [
        ("order_token", TOK), ("side", "B"), ("shares", 100), ("stock", "AAPL"),
        ("price", 1_502_500), ("time_in_force", 99_998), ("firm", "FIRM"),
        ("display", "Y"), ("capacity", "A"), ("intermarket_sweep", "N"),
        ("minimum_quantity", 0), ("cross_type", "N"), ("customer_type", " ")]),
    (ouch.REPLACE_ORDER, ouch.encode_replace_order, ">c14s14sIIIccI", [
        ("existing_order_token", TOK), ("replacement_order_token", TOK2),
        ("shares", 200), ("price", 0x7735939C), ("time_in_force", 0),
        ("display", "N"), ("intermarket_sweep", "Y"), ("minimum_quantity", 7)]),
    (ouch.CANCEL_ORDER, ouch.encode_cancel_order, ">c14sI", [
        ("order_token", TOK), ("shares", 0)]),
    (ouch.MODIFY_ORDER, ouch.encode_modify_order, ">c14scI", [
        ("order_token", TOK), ("side", "T"), ("shares", 4_294_967_295)]),
    (ouch.SYSTEM_EVENT, ouch.encode_system_event, ">cQc", [
        ("timestamp", TS), ("event_code", "S")]),
    (ouch.ACCEPTED, ouch.encode_accepted, ">cQ14scI8sII4scQccIccc", [
        ("timestamp", TS), ("order_token", TOK), ("side", "S"), ("shares", 300),
        ("stock", "MSFT"), ("price", 4_123_400), ("time_in_force", 99_999),
        ("firm", "ABCD"), ("display", "A"), ("order_reference_number", 2 ** 64 - 1),
        ("capacity", "P"), ("intermarket_sweep", "N"), ("minimum_quantity", 100),
        ("cross_type", "O"), ("order_state", "L"), ("bbo_weight_indicator", "2")]),
    (ouch.REPLACED, ouch.encode_replaced, ">cQ14scI8sII4scQccIcc14sc", [
        ("timestamp", TS), ("replacement_order_token", TOK2), ("side", "E"),
        ("shares", 50), ("stock", "QQQ"), ("price", 1), ("time_in_force", 30),
        ("firm", ""), ("display", "Y"), ("order_reference_number", 987_654_321),
        ("capacity", "R"), ("intermarket_sweep", "Y"), ("minimum_quantity", 0),
        ("cross_type", "C"), ("order_state", "D"), ("previous_order_token", TOK),
        ("bbo_weight_indicator", " ")]),
    (ouch.CANCELED, ouch.encode_canceled, ">cQ14sIc", [
        ("timestamp", TS), ("order_token", TOK), ("decrement_shares", 25),
        ("reason", "U")]),
    (ouch.AIQ_CANCELED, ouch.encode_aiq_canceled, ">cQ14sIcIIc", [
        ("timestamp", TS), ("order_token", TOK), ("decrement_shares", 25),
        ("reason", "Q"), ("quantity_prevented_from_trading", 20),
        ("execution_price", 1_000_000), ("liquidity_flag", "A")]),
    (ouch.EXECUTED, ouch.encode_executed, ">cQ14sIIcQ", [
        ("timestamp", TS), ("order_token", TOK), ("executed_shares", 60),
        ("execution_price", 1_502_400), ("liquidity_flag", "R"),
        ("match_number", 0x0102030405060708)]),
    (ouch.BROKEN_TRADE, ouch.encode_broken_trade, ">cQ14sQc", [
        ("timestamp", TS), ("order_token", TOK), ("match_number", 42),
        ("reason", "E")]),
    (ouch.REJECTED, ouch.encode_rejected, ">cQ14sc", [
        ("timestamp", TS), ("order_token", TOK), ("reason", "X")]),
    (ouch.CANCEL_PENDING, ouch.encode_cancel_pending, ">cQ14s", [
        ("timestamp", TS), ("order_token", TOK)]),
    (ouch.CANCEL_REJECT, ouch.encode_cancel_reject, ">cQ14s", [
        ("timestamp", TS), ("order_token", TOK)]),
    (ouch.ORDER_PRIORITY_UPDATE, ouch.encode_order_priority_update, ">cQ14sIcQ", [
        ("timestamp", TS), ("order_token", TOK), ("price", 1_502_500),
        ("display", "Y"), ("order_reference_number", 77)]),
    (ouch.ORDER_MODIFIED, ouch.encode_order_modified, ">cQ14scI", [
        ("timestamp", TS), ("order_token", TOK), ("side", "S"), ("shares", 10)]),
]
IDS = [c[0].name for c in CASES]

SPEC = {  # (direction, letter): length, from the spec
    (INBOUND, "O"): 49, (INBOUND, "U"): 47, (INBOUND, "X"): 19, (INBOUND, "M"): 20,
    (OUTBOUND, "S"): 10, (OUTBOUND, "A"): 66, (OUTBOUND, "U"): 80, (OUTBOUND, "C"): 28,
    (OUTBOUND, "D"): 37, (OUTBOUND, "E"): 40, (OUTBOUND, "B"): 32, (OUTBOUND, "J"): 24,
    (OUTBOUND, "P"): 23, (OUTBOUND, "I"): 23, (OUTBOUND, "T"): 36, (OUTBOUND, "M"): 28,
}


def spec_bytes(msg, layout, fields):
    """Pack by hand: alpha fields are ASCII, left-justified, space padded."""
    codes = [c for c in struct.Struct(layout).format if c != ">"]
    widths = []
    num = ""
    for c in codes:  # pair each value with its struct code
        if c.isdigit():
            num += c
            continue
        widths.append((int(num) if num else 1, c))
        num = ""
    values = [msg.letter.encode()]
    for (w, c), (_, v) in zip(widths[1:], fields):
        values.append(v.encode().ljust(w) if c in "cs" else v)
    return struct.pack(layout, *values)


def test_message_table_is_exactly_the_spec():
    got = {(d, t): m.length for d, ms in ouch.MESSAGES.items() for t, m in ms.items()}
    assert got == SPEC
    for ms in ouch.MESSAGES.values():
        for m in ms.values():
            assert m.dtype.itemsize == m.length
            for name, (dt, _) in m.dtype.fields.items():
                assert dt.kind == "S" or dt.byteorder == ">", (m.name, name)


@pytest.mark.parametrize("msg,encoder,layout,fields", CASES, ids=IDS)
def test_encode_is_byte_exact(msg, encoder, layout, fields):
    want = spec_bytes(msg, layout, fields)
    assert len(want) == msg.length == struct.calcsize(layout)
    assert encoder(**dict(fields)) == want
    assert ouch.encode(msg, **dict(fields)) == want


@pytest.mark.parametrize("msg,encoder,layout,fields", CASES, ids=IDS)
def test_decode_spec_bytes(msg, encoder, layout, fields):
    raw = spec_bytes(msg, layout, fields)
    t, rec = ouch.decode(raw, msg.direction)
    assert t == msg.letter and rec["msg_type"] == msg.letter.encode()
    for name, v in fields:
        if isinstance(v, str):
            width = msg.dtype.fields[name][0].itemsize
            assert rec[name] == v.encode().ljust(width)
            assert ouch.text(rec[name]) == v.rstrip()
        else:
            assert int(rec[name]) == v
    assert rec.tobytes() == raw


@pytest.mark.parametrize("msg,encoder,layout,fields", CASES, ids=IDS)
def test_truncated_and_overlong_are_clear_errors(msg, encoder, layout, fields):
    raw = spec_bytes(msg, layout, fields)
    with pytest.raises(OuchError, match=rf"truncated {msg.name} \('{msg.letter}'\): "
                                        rf"expected {msg.length} bytes, got {msg.length - 1}"):
        ouch.decode(raw[:-1], msg.direction)
    with pytest.raises(OuchError, match=rf"overlong {msg.name}.*got {msg.length + 1}"):
        ouch.decode(raw + b" ", msg.direction)


def test_direction_disambiguates_u_and_m():
    assert ouch.decode(b"U" + bytes(79))[1].dtype == ouch.REPLACED.dtype
    assert ouch.decode(b"U" + bytes(46), INBOUND)[1].dtype == ouch.REPLACE_ORDER.dtype
    assert ouch.decode(b"M" + bytes(27))[1].dtype == ouch.ORDER_MODIFIED.dtype
    assert ouch.decode(b"M" + bytes(19), INBOUND)[1].dtype == ouch.MODIFY_ORDER.dtype
    with pytest.raises(OuchError, match="unknown outbound OUCH 4.2 message type 'O'"):
        ouch.decode(b"O" + bytes(48))
    with pytest.raises(OuchError, match="unknown inbound OUCH 4.2 message type 'A'"):
        ouch.decode(b"A" + bytes(65), INBOUND)
    with pytest.raises(OuchError, match="empty"):
        ouch.decode(b"")
    with pytest.raises(OuchError, match="direction"):
        ouch.decode(b"S" + bytes(9), "sideways")


@pytest.mark.parametrize("fields,match", [
    (dict(order_token="X" * 15), "longer than 14"),
    (dict(order_token="é"), "not ASCII"),
    (dict(order_token=b"A\x00"), "non-printable"),
    (dict(order_token=5), "must be str or bytes"),
    (dict(shares=-1), "does not fit"),
    (dict(shares=2 ** 32), "does not fit"),
    (dict(shares=1.5), "not an integer"),
    (dict(shares=True), "bool"),
])
def test_encode_refuses_bad_fields(fields, match):
    base = dict(order_token=TOK, shares=1)
    with pytest.raises(OuchError, match=match):
        ouch.encode_cancel_order(**{**base, **fields})


def test_encode_refuses_missing_extra_and_multi_char_codes():
    with pytest.raises(OuchError, match=r"missing fields \['shares'\]"):
        ouch.encode_cancel_order(order_token=TOK)
    with pytest.raises(OuchError, match=r"unknown fields \['price'\]"):
        ouch.encode_cancel_order(order_token=TOK, shares=1, price=1)
    with pytest.raises(OuchError, match="exactly one character"):
        ouch.encode_modify_order(order_token=TOK, side="", shares=1)
    with pytest.raises(OuchError, match="longer than 1"):
        ouch.encode_modify_order(order_token=TOK, side="BS", shares=1)


def test_decode_many_groups_and_keeps_positions():
    payloads = [spec_bytes(m, lay, f) for m, _, lay, f in CASES if m.direction == OUTBOUND]
    payloads += payloads[:3]
    out = ouch.decode_many(payloads)
    rebuilt = [None] * len(payloads)
    for t, (pos, recs) in out.items():
        assert recs.dtype == ouch.MESSAGES[OUTBOUND][t].dtype
        for i, r in zip(pos, recs):
            rebuilt[i] = r.tobytes()
    assert rebuilt == payloads
    assert len(out["S"][0]) == 2
    with pytest.raises(OuchError, match=r"payload 1: truncated Accepted"):
        ouch.decode_many([payloads[0], payloads[1][:-2]])
    assert ouch.decode_many([]) == {}


# ---------------------------------------------------------------- prices

def test_price_conversions():
    assert ouch.PRICE_SCALE == PRICE_SCALE == 10 ** 8
    assert ouch.price_to_ouch(150_25 * PRICE_SCALE // 100) == 1_502_500
    assert ouch.price_to_ouch(np.int64(1 * 10 ** 4)) == 1  # $0.0001
    assert ouch.price_to_ouch(0) == 0
    assert ouch.price_to_ouch(199_999_9900 * 10 ** 4) == ouch.MAX_PRICE == 0x7735939C
    assert ouch.price_from_ouch(np.uint32(1_502_500)) == 15_025_000_000
    assert ouch.price_from_ouch(ouch.MAX_PRICE) == 199_999_9900 * 10 ** 4


@pytest.mark.parametrize("value,match", [
    (-1 * 10 ** 4, "price -10000 .8dp. is negative"),
    (1, "price 1 .8dp. has more than 4 decimals"),
    (123_456_789, "price 123456789 .8dp. has more than 4 decimals"),
    ((ouch.MAX_PRICE + 1) * 10 ** 4, "exceeds the OUCH 4.2 maximum"),
    (1.5, "not an integer"),
    (True, "bool"),
])
def test_price_to_ouch_refuses(value, match):
    with pytest.raises(ValueError, match=match):
        ouch.price_to_ouch(value)


@pytest.mark.parametrize("value,match", [
    (ouch.MARKET_PRICE, "2147483647 is the market-order sentinel"),
    (ouch.MAX_PRICE + 1, "1999999901 is outside"),
    (2 ** 32 - 1, "4294967295 is outside"),
    (-1, "-1 is outside"),
    ("5", "not an integer"),
])
def test_price_from_ouch_refuses(value, match):
    with pytest.raises(ValueError, match=match):
        ouch.price_from_ouch(value)


@given(st.integers(0, ouch.MAX_PRICE))
def test_price_round_trip(p4):
    assert ouch.price_to_ouch(ouch.price_from_ouch(p4)) == p4


# ---------------------------------------------------------------- fuzz

@settings(max_examples=1000, deadline=None)
@given(st.binary(max_size=90), st.sampled_from([INBOUND, OUTBOUND]))
def test_decode_garbage_raises_only_oucherror(raw, direction):
    try:
        t, rec = ouch.decode(raw, direction)
    except OuchError:
        return
    assert rec.tobytes() == raw and t == chr(raw[0])


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(SPEC)), st.data())
def test_any_body_of_the_right_length_round_trips(key, data):
    direction, letter = key
    body = data.draw(st.binary(min_size=SPEC[key] - 1, max_size=SPEC[key] - 1))
    raw = letter.encode() + body
    t, rec = ouch.decode(raw, direction)
    assert t == letter and rec.tobytes() == raw
    pos, recs = ouch.decode_many([raw, bytearray(raw), memoryview(raw)], direction)[t]
    assert list(pos) == [0, 1, 2] and recs.tobytes() == raw * 3
