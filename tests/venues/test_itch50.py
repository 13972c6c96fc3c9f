"""ITCH 5.0 codec: byte-exact against hand-packed spec layouts, batch decode to MarketData."""

import struct

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from sequencer import records as R
from venues.protocols import itch50 as I

TS = 0x1234_5678_9ABC  # a 48-bit timestamp using all six bytes


def ts6(ts=TS):
    return ts.to_bytes(6, "big")


def head(t, locate, tracking=7, ts=TS):
    return struct.pack(">cHH", t, locate, tracking) + ts6(ts)


# Hand-built messages, straight from the spec tables (independent of the module's dtypes).
SPEC_BYTES = {
    "S": (head(b"S", 0) + b"O",
          dict(stock_locate=0, tracking_number=7, timestamp=TS, event_code="O")),
    "R": (head(b"R", 12) + struct.pack(">8sccIcc2scccccIc", b"AAPL    ", b"Q", b"N", 100, b"N",
                                       b"C", b"Z ", b"P", b"N", b"N", b"1", b"N", 0, b"N"),
          dict(stock_locate=12, tracking_number=7, timestamp=TS, stock="AAPL", market_category="Q",
               financial_status="N", round_lot_size=100, round_lots_only="N",
               issue_classification="C", issue_subtype="Z", authenticity="P",
               short_sale_threshold="N", ipo_flag="N", luld_reference_price_tier="1",
               etp_flag="N", etp_leverage_factor=0, inverse_indicator="N")),
    "A": (head(b"A", 12) + struct.pack(">QcI8sI", 2**63 + 5, b"B", 300, b"AAPL    ", 1_501_234),
          dict(stock_locate=12, tracking_number=7, timestamp=TS, order_ref=2**63 + 5, side="B",
               shares=300, stock="AAPL", price=1_501_234)),
    "F": (head(b"F", 12) + struct.pack(">QcI8sI4s", 9, b"S", 100, b"AAPL    ", 2_000_000, b"GSCO"),
          dict(stock_locate=12, tracking_number=7, timestamp=TS, order_ref=9, side="S", shares=100,
               stock="AAPL", price=2_000_000, attribution="GSCO")),
    "E": (head(b"E", 12) + struct.pack(">QIQ", 9, 40, 77),
          dict(stock_locate=12, tracking_number=7, timestamp=TS, order_ref=9, executed_shares=40,
               match_number=77)),
    "C": (head(b"C", 12) + struct.pack(">QIQcI", 9, 40, 78, b"Y", 1_999_900),
          dict(stock_locate=12, tracking_number=7, timestamp=TS, order_ref=9, executed_shares=40,
               match_number=78, printable="Y", execution_price=1_999_900)),
    "X": (head(b"X", 12) + struct.pack(">QI", 9, 10),
          dict(stock_locate=12, tracking_number=7, timestamp=TS, order_ref=9, cancelled_shares=10)),
    "D": (head(b"D", 12) + struct.pack(">Q", 9),
          dict(stock_locate=12, tracking_number=7, timestamp=TS, order_ref=9)),
    "U": (head(b"U", 12) + struct.pack(">QQII", 9, 10, 200, 2_000_100),
          dict(stock_locate=12, tracking_number=7, timestamp=TS, original_order_ref=9,
               new_order_ref=10, shares=200, price=2_000_100)),
    "P": (head(b"P", 12) + struct.pack(">QcI8sIQ", 0, b"B", 500, b"AAPL    ", 1_500_000, 79),
          dict(stock_locate=12, tracking_number=7, timestamp=TS, order_ref=0, side="B", shares=500,
               stock="AAPL", price=1_500_000, match_number=79)),
    "Q": (head(b"Q", 12) + struct.pack(">Q8sIQc", 123_456, b"AAPL    ", 1_500_100, 80, b"O"),
          dict(stock_locate=12, tracking_number=7, timestamp=TS, shares=123_456, stock="AAPL",
               cross_price=1_500_100, match_number=80, cross_type="O")),
    "V": (head(b"V", 0) + struct.pack(">QQQ", 300_000_000_000, 280_000_000_000, 250_000_000_000),
          dict(stock_locate=0, tracking_number=7, timestamp=TS, level1=300_000_000_000,
               level2=280_000_000_000, level3=250_000_000_000)),
    "I": (head(b"I", 12) + struct.pack(">QQc8sIIIcc", 1000, 200, b"B", b"AAPL    ", 1, 2, 3,
                                       b"O", b"L"),
          dict(stock_locate=12, tracking_number=7, timestamp=TS, paired_shares=1000,
               imbalance_shares=200, imbalance_direction="B", stock="AAPL", far_price=1,
               near_price=2, current_reference_price=3, cross_type="O",
               price_variation_indicator="L")),
}

SPEC_LENGTHS = {"S": 12, "R": 39, "H": 25, "Y": 20, "L": 26, "V": 35, "W": 12, "K": 28, "J": 35,
                "h": 21, "A": 36, "F": 40, "E": 31, "C": 36, "X": 23, "D": 19, "U": 35, "P": 44,
                "Q": 40, "B": 19, "I": 50, "N": 20, "O": 48}


def test_lengths_match_spec():
    assert I.LENGTHS == SPEC_LENGTHS
    for t, n in SPEC_LENGTHS.items():
        assert I.DTYPES[t].itemsize == n
        assert I.LENGTH_TABLE[ord(t)] == n


@pytest.mark.parametrize("t", sorted(SPEC_BYTES))
def test_encode_is_byte_exact(t):
    raw, fields = SPEC_BYTES[t]
    assert len(raw) == SPEC_LENGTHS[t]
    assert I.encode(t, **fields) == raw


@pytest.mark.parametrize("t", sorted(SPEC_BYTES))
def test_decode_message_roundtrip(t):
    raw, fields = SPEC_BYTES[t]
    rec = I.decode_message(raw)
    assert rec["message_type"] == t.encode()
    assert I.timestamp_of(rec) == fields["timestamp"]
    for name, value in fields.items():
        if name == "timestamp":
            continue
        got = rec[name]
        if isinstance(value, str):
            assert got == value.encode().ljust(I.DTYPES[t].fields[name][0].itemsize)
        else:
            assert int(got) == value


def test_named_encoders():
    pairs = [(I.encode_system_event, "S"), (I.encode_stock_directory, "R"), (I.encode_add_order, "A"),
             (I.encode_add_order_mpid, "F"), (I.encode_order_executed, "E"),
             (I.encode_order_executed_with_price, "C"), (I.encode_order_cancel, "X"),
             (I.encode_order_delete, "D"), (I.encode_order_replace, "U"), (I.encode_trade, "P"),
             (I.encode_cross_trade, "Q")]
    for fn, t in pairs:
        raw, fields = SPEC_BYTES[t]
        assert fn(**fields) == raw


def test_encode_rejects_bad_values():
    with pytest.raises(I.ItchError):
        I.encode("A", stock="TOOLONGSYM")
    with pytest.raises(I.ItchError):
        I.encode("A", shares=1 << 32)
    with pytest.raises(I.ItchError):
        I.encode("A", timestamp=1 << 48)
    with pytest.raises(I.ItchError):
        I.encode("A", no_such_field=1)
    with pytest.raises(I.ItchError):
        I.encode("z")
    with pytest.raises(I.ItchError, match="expected 36 bytes, got 35"):
        I.decode_message(SPEC_BYTES["A"][0][:-1])


def framed(*msgs):
    return b"".join(struct.pack(">H", len(m)) + m for m in msgs)


def test_batch_decode_to_market_data():
    directory = SPEC_BYTES["R"][0]  # AAPL on locate 12
    order = [SPEC_BYTES[t][0] for t in "SAFECXUDPQ"]
    locate = I.new_locate_table()
    res = I.decode_batch(framed(directory, *order), locate, {"AAPL": 42, "MSFT": 7}, venue_id=3,
                         source_id=9, first_seq=1000)
    assert locate[12] == 42 and res.directory == 1
    md = res.records
    assert md.dtype == R.MarketData and len(md) == 9
    assert res.messages == 11 and res.ignored == 1 and res.unmapped == 0 and res.unknown_type == 0
    assert (md["type"] == R.MARKET_DATA).all() and (md["version"] == 2).all()
    assert (md["symbol_id"] == 42).all() and (md["venue_id"] == 3).all() and (md["source_id"] == 9).all()
    assert bytes(md["action"]) == b"AFECXUDPQ"
    assert (md["source_seq"] == 0).all()
    assert md["venue_seq"].tolist() == [1002, 1003, 1004, 1005, 1006, 1007, 1008, 1009, 1010]
    a, f, e, c, x, u, d, p, q = md
    assert (a["side"], a["ref"], a["qty"], a["price"]) == (R.SIDE_BUY, 2**63 + 5, 300, 1_501_234 * 10**4)
    assert a["price"] == 150_1234_0000  # $150.1234 with 8 implied decimals
    assert (f["side"], f["ref"], f["qty"], f["price"]) == (R.SIDE_SELL, 9, 100, 2_000_000 * 10**4)
    assert bytes(f["mpid"]) == b"GSCO" and bytes(a["mpid"]) == b"\0\0\0\0"
    assert (e["ref"], e["qty"], e["price"], e["side"]) == (9, 40, 0, 0)
    assert (c["ref"], c["qty"], c["price"]) == (9, 40, 1_999_900 * 10**4)
    assert (x["ref"], x["qty"]) == (9, 10)
    assert (u["ref"], u["new_ref"], u["qty"], u["price"]) == (9, 10, 200, 2_000_100 * 10**4)
    assert (d["ref"], d["qty"], d["new_ref"]) == (9, 0, 0)
    assert (p["side"], p["qty"], p["price"]) == (R.SIDE_BUY, 500, 1_500_000 * 10**4)
    assert (q["qty"], q["price"], q["ref"]) == (123_456, 1_500_100 * 10**4, 0)
    assert (res.timestamps == TS).all()
    assert res.indices.tolist() == list(range(2, 11))


def test_list_input_and_unmapped_and_unknown():
    locate = I.new_locate_table()
    locate[5] = 11
    other = I.encode("A", stock_locate=5, order_ref=1, side="S", shares=1, stock="MSFT", price=10)
    msgs = [SPEC_BYTES["A"][0], b"Z" + bytes(10), other, SPEC_BYTES["E"][0], SPEC_BYTES["R"][0]]
    res = I.decode_batch(msgs, locate, {"MSFT": 11})  # AAPL not in the symbol map
    assert res.unmapped == 2 and res.unknown_type == 1 and res.directory_unknown == 1
    assert len(res.records) == 1 and res.records[0]["symbol_id"] == 11
    assert res.records[0]["side"] == R.SIDE_SELL and res.records[0]["price"] == 10 * 10**4
    assert locate[12] == 0


def test_truncated_messages_raise_itch_error():
    locate = I.new_locate_table()
    a = SPEC_BYTES["A"][0]
    with pytest.raises(I.ItchError, match=r"type 'A' .*offset 0.*expected 36 bytes, got 35"):
        I.decode_batch(framed(a[:-1]), locate)
    with pytest.raises(I.ItchError, match=r"truncated .*type 'A'.*offset 38.*expected 36 bytes, got 20"):
        I.decode_batch(framed(a) + framed(a)[:22], locate)
    with pytest.raises(I.ItchError, match="length bytes"):
        I.decode_batch(framed(a) + b"\x00", locate)
    with pytest.raises(I.ItchError, match="empty"):
        I.decode_batch(b"\x00\x00", locate)
    with pytest.raises(TypeError):
        I.decode_batch(b"", np.zeros(10, np.uint32))


def test_empty_input():
    res = I.decode_batch(b"", I.new_locate_table())
    assert len(res.records) == 0 and res.messages == 0


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_fuzz_batch_decoder_only_raises_itch_error(data):
    locate = I.new_locate_table()
    locate[:] = 1
    try:
        res = I.decode_batch(data, locate, {"AAPL": 3})
    except I.ItchError:
        return
    assert len(res.records) <= res.messages


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(sorted(SPEC_LENGTHS)), st.binary(max_size=60))
def test_fuzz_typed_bodies(t, body):
    """Any bytes after a valid type letter: decoded or ItchError, never a crash."""
    msg = t.encode() + body
    for fn in (lambda: I.decode_message(msg),
               lambda: I.decode_batch(framed(msg), np.ones(1 << 16, np.uint32))):
        try:
            fn()
        except I.ItchError:
            pass


def test_bench_decode_runs():
    assert I.bench_decode(20_000) > 0
