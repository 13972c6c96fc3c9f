"""The binary protocol codec: byte-exact layouts against messages packed by hand with
struct (independently of the dtypes), the stream framer, validation, conversion to core
commands, responses from real ExecReport / CancelReject records, and decoder fuzzing."""

import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateways.binary import protocol as P
from tests.gateways.binary_testkit import ORDER, reference_code
from sequencer import records as R

RESP = struct.Struct("<BBHIQQQqIIIBBBxq")         # the 64-byte response, field by field
ACCOUNT = R.ascii_field("ACC-7", R.ACCOUNT_LEN)


def resp(msg_type, seq=0, side=0, reason=0, clid=0, orig=0, order_id=0, price=0, qty=0, leaves=0, cum=0,
         status=0, ref=0, flags=0, ts=0) -> bytes:
    return RESP.pack(msg_type, side, reason, seq, clid, orig, order_id, price, qty, leaves, cum, status, ref,
                     flags, ts)


def text(field) -> str:
    return R.ascii_text(np.asarray(field))


# ------------------------------------------------------------------ layouts
def test_sizes_and_offsets():
    assert P.ORDER_MSG.itemsize == P.LOGIN_MSG.itemsize == P.REPLAY_MSG.itemsize == 32
    assert P.RESPONSE.itemsize == RESP.size == 64
    assert ORDER.size == 32
    off = {n: P.ORDER_MSG.fields[n][1] for n in P.ORDER_MSG.names}
    assert off == {"msg_type": 0, "side": 1, "symbol_id": 2, "quantity": 4, "price": 8, "client_order_id": 16,
                   "timestamp_ns": 24, "orig_client_order_id": 24}
    off = {n: P.RESPONSE.fields[n][1] for n in P.RESPONSE.names}
    assert off == {"msg_type": 0, "side": 1, "reason": 2, "response_seq": 4, "client_order_id": 8,
                   "orig_client_order_id": 16, "order_id": 24, "price": 32, "qty": 40, "leaves_qty": 44,
                   "cum_qty": 48, "ord_status": 52, "ref_msg_type": 53, "flags": 54, "_pad": 55, "ts": 56}
    assert P.LOGIN_MSG.fields["api_key"][1] == 8 and P.LOGIN_MSG.fields["next_response_seq"][1] == 4
    assert P.REPLAY_MSG.fields["from_seq"][1] == 4 and P.REPLAY_MSG.fields["count"][1] == 8


def test_new_order_bytes():
    price = 123_45000000   # 123.45
    raw = P.new_order(2**40 + 5, R.SIDE_SELL_SHORT, 513, 70000, price, timestamp_ns=1_700_000_000_123_456_789)
    assert raw == ORDER.pack(1, 5, 513, 70000, price, 2**40 + 5, 1_700_000_000_123_456_789)
    assert raw[:4] == b"\x01\x05\x01\x02" and raw[4:8] == (70000).to_bytes(4, "little")
    m, rest = P.decode_batch(raw)
    assert rest == b"" and len(m) == 1
    assert (m["msg_type"][0], m["side"][0], m["symbol_id"][0], m["quantity"][0]) == (1, 5, 513, 70000)
    assert m["price"][0] == price and m["client_order_id"][0] == 2**40 + 5
    assert m["timestamp_ns"][0] == 1_700_000_000_123_456_789


def test_cancel_and_replace_bytes():
    raw = P.cancel(77, 2**64 - 1)
    assert raw == ORDER.pack(2, 0, 0, 0, 0, 77, 2**64 - 1)
    assert raw[24:] == b"\xff" * 8
    m, _ = P.decode_batch(raw)
    assert m["orig_client_order_id"][0] == 2**64 - 1 and m["client_order_id"][0] == 77
    raw = P.replace(78, 77, 500, 99_00000000)
    assert raw == ORDER.pack(3, 0, 0, 500, 99_00000000, 78, 77)
    m, _ = P.decode_batch(raw)
    assert (m["quantity"][0], m["price"][0], m["orig_client_order_id"][0]) == (500, 99_00000000, 77)


def test_negative_price_and_timestamp_round_trip():
    raw = P.new_order(1, 1, 1, 1, -5, timestamp_ns=-1)
    assert raw[8:16] == struct.pack("<q", -5) and raw[24:] == b"\xff" * 8
    m, _ = P.decode_batch(raw)
    assert m["price"][0] == -5 and m["timestamp_ns"][0] == -1


def test_session_message_bytes():
    raw = P.login("KEY-123", next_response_seq=42)
    assert raw == struct.pack("<BBHI24s", 16, 1, 0, 42, b"KEY-123")
    assert raw[8:15] == b"KEY-123" and raw[15:] == bytes(17)
    m = np.frombuffer(raw, P.LOGIN_MSG)[0]
    assert (m["msg_type"], m["version"], m["flags"], m["next_response_seq"], m["api_key"]) == (
        16, 1, 0, 42, b"KEY-123")
    raw = P.replay_request(1000, 25)
    assert raw == bytes([17, 0, 0, 0]) + struct.pack("<II", 1000, 25) + bytes(20)
    m = np.frombuffer(raw, P.REPLAY_MSG)[0]
    assert (m["from_seq"], m["count"]) == (1000, 25)
    assert P.heartbeat() == b"\x12" + bytes(31)
    assert P.logout() == b"\x13" + bytes(31)


def test_session_response_bytes():
    got = P.session_response(P.SESSION_REJECT, 9, P.PR_BAD_SIDE, ref_msg_type=1, client_order_id=55)
    assert got == resp(20, seq=9, reason=1005, ref=1, clid=55)
    assert got[:8] == b"\x14\x00\xed\x03\x09\x00\x00\x00"
    r = P.decode_responses(got + got[:10])
    assert len(r) == 1 and r["reason"][0] == P.PR_BAD_SIDE
    assert P.session_response(P.LOGIN_ACCEPTED, 1) == resp(16, seq=1)


def test_reason_text_covers_both_code_spaces():
    assert P.reason_text(P.PR_TRUNCATED) == "truncated message at end of stream"
    assert P.reason_text(R.REASON_MAX_QTY) == R.REASON_TEXT[R.REASON_MAX_QTY]
    assert P.reason_text(999) == "reason 999"
    assert min(P.PROTOCOL_REASON_TEXT) > max(R.REASON_TEXT)


# ------------------------------------------------------------------ framer
def _stream(n=5):
    return b"".join(P.new_order(i + 1, 1, 7, 10 * (i + 1), 100) for i in range(n))


def test_decode_batch_whole_and_partial():
    data = _stream(5)
    m, rest = P.decode_batch(data)
    assert len(m) == 5 and rest == b""
    assert list(m["client_order_id"]) == [1, 2, 3, 4, 5]
    m, rest = P.decode_batch(data[:100])
    assert len(m) == 3 and rest == data[96:100]
    m, rest = P.decode_batch(b"")
    assert len(m) == 0 and rest == b""


@pytest.mark.parametrize("kind", [bytes, bytearray, memoryview, lambda b: np.frombuffer(b, np.uint8)])
def test_decode_batch_accepts_buffers(kind):
    m, rest = P.decode_batch(kind(_stream(2) + b"\x01\x02"))
    assert list(m["quantity"]) == [10, 20] and rest == b"\x01\x02"


def test_every_split_point_gives_the_same_messages():
    data = _stream(4)
    for cut in range(len(data) + 1):
        got, buf = [], b""
        for part in (data[:cut], data[cut:]):
            m, buf = P.decode_batch(buf + part)
            got += [m[i].tobytes() for i in range(len(m))]
        assert b"".join(got) == data and buf == b""


# ------------------------------------------------------------------ validation
@pytest.mark.parametrize("raw, code", [
    (P.new_order(1, 1, 1, 1, 1), 0),
    (P.new_order(1, 2, 1, 1, 0), 0),                    # market order
    (P.new_order(1, 5, 65535, 2**32 - 1, 2**63 - 1), 0),
    (P.cancel(2, 1), 0),
    (P.replace(2, 1, 5, 0), 0),
    (P.login("K"), 0), (P.replay_request(1), 0), (P.heartbeat(), 0), (P.logout(), 0),
    (bytes([0]) + bytes(31), P.PR_UNKNOWN_TYPE),
    (bytes([4]) + bytes(31), P.PR_UNKNOWN_TYPE),
    (bytes([255]) * 32, P.PR_UNKNOWN_TYPE),
    (P.new_order(1, 3, 1, 1, 1), P.PR_BAD_SIDE),
    (P.new_order(1, 0, 0, 0, -1), P.PR_BAD_SIDE),       # the first failing check wins
    (P.new_order(1, 1, 0, 1, 1), P.PR_BAD_SYMBOL),
    (P.new_order(1, 1, 1, 0, 1), P.PR_BAD_QUANTITY),
    (P.new_order(1, 1, 1, 1, -1), P.PR_BAD_PRICE),
    (P.new_order(0, 1, 1, 1, 1), P.PR_BAD_CLIENT_ORDER_ID),
    (P.cancel(0, 1), P.PR_BAD_CLIENT_ORDER_ID),
    (P.cancel(1, 0), P.PR_BAD_ORIG_ID),
    (ORDER.pack(2, 9, 0, 0, -7, 3, 1), 0),              # a cancel's side and price are not read
    (P.replace(2, 1, 0, 1), P.PR_BAD_QUANTITY),
    (P.replace(2, 1, 1, -1), P.PR_BAD_PRICE),
    (P.replace(2, 0, 1, 1), P.PR_BAD_ORIG_ID),
])
def test_validate(raw, code):
    m, _ = P.decode_batch(raw)
    assert P.validate(m).tolist() == [code]


def test_validate_a_batch_keeps_positions():
    data = P.new_order(1, 1, 1, 1, 1) + bytes(32) + P.cancel(3, 1) + P.new_order(4, 9, 1, 1, 1)
    m, _ = P.decode_batch(data)
    assert P.validate(m).tolist() == [0, P.PR_UNKNOWN_TYPE, 0, P.PR_BAD_SIDE]


# ------------------------------------------------------------------ ids
def test_ids_round_trip_as_decimal_ascii():
    ids = np.array([0, 1, 9, 10, 99, 100, 12345, 10**19, 2**64 - 1], np.uint64)
    enc = P.encode_ids(ids)
    assert enc.shape == (len(ids), R.CLORD_LEN)
    assert [text(f) for f in enc] == [str(int(i)) for i in ids]
    assert P.parse_ids(enc).tolist() == ids.tolist()
    rng = np.random.default_rng(3)
    ids = rng.integers(0, 2**64 - 1, 5000, dtype=np.uint64, endpoint=True)
    assert P.parse_ids(P.encode_ids(ids)).tolist() == ids.tolist()


@pytest.mark.parametrize("field", ["", "ABC", "12A", "1 2", "-5", "18446744073709551616", "99999999999999999999"])
def test_parse_ids_gives_0_for_what_is_not_a_uint64(field):
    f = np.zeros((1, R.CLORD_LEN), np.uint8)
    f[0, :len(field)] = np.frombuffer(field.encode(), np.uint8)
    assert P.parse_ids(f).tolist() == [0]


def test_parse_ids_needs_nuls_after_the_digits():
    f = np.zeros((2, R.CLORD_LEN), np.uint8)
    f[0, :3] = [ord("1"), 0, ord("2")]
    f[1, :3] = [ord("0"), ord("0"), ord("7")]   # leading zeros still read as a number
    assert P.parse_ids(f).tolist() == [0, 7]


# ------------------------------------------------------------------ commands
def test_to_commands_fields_by_type():
    data = (P.new_order(1001, R.SIDE_BUY, 12, 300, 45_50000000, timestamp_ns=99)
            + P.cancel(1002, 1001)
            + P.replace(1003, 1001, 400, 0)
            + P.new_order(1004, R.SIDE_SELL, 13, 5, 0))
    m, _ = P.decode_batch(data)
    raw = P.to_commands(m, 42, ACCOUNT)
    assert raw.dtype == R.RAW_COMMAND and len(raw) == 4
    hdr = R.header(raw)
    assert hdr["type"].tolist() == [R.NEW_ORDER, R.CANCEL, R.REPLACE, R.NEW_ORDER]
    assert hdr["version"].tolist() == [2, 1, 1, 2]
    assert R.check_commands(raw).all()
    for f in ("source_id", "source_seq", "seq", "ts"):
        assert not hdr[f].any()
    n = raw[[0]].view(R.NewOrder)[0]
    assert (n["client_id"], n["symbol_id"], n["price"], n["qty"], n["side"]) == (42, 12, 45_50000000, 300, 1)
    assert (n["ord_type"], n["tif"], n["strategy"], n["venue_id"]) == (R.ORD_LIMIT, R.TIF_DAY, 0, 0)
    assert text(n["cl_ord_id"]) == "1001" and text(n["account"]) == "ACC-7" and text(n["symbol"]) == ""
    c = raw[[1]].view(R.Cancel)[0]
    assert (c["client_id"], c["order_id"], c["symbol_id"], c["side"]) == (42, 0, 0, 0)
    assert text(c["cl_ord_id"]) == "1002" and text(c["orig_cl_ord_id"]) == "1001"
    r = raw[[2]].view(R.Replace)[0]
    assert (r["client_id"], r["qty"], r["price"], r["ord_type"], r["order_id"]) == (42, 400, 0, R.ORD_MARKET, 0)
    assert text(r["cl_ord_id"]) == "1003" and text(r["orig_cl_ord_id"]) == "1001"
    n = raw[[3]].view(R.NewOrder)[0]
    assert n["ord_type"] == R.ORD_MARKET and text(n["cl_ord_id"]) == "1004"


def test_to_commands_single_type_batch_and_empty():
    m, _ = P.decode_batch(_stream(3))
    raw = P.to_commands(m, 7, ACCOUNT)
    v = raw.view(R.NewOrder)
    assert v["qty"].tolist() == [10, 20, 30] and [text(x) for x in v["cl_ord_id"]] == ["1", "2", "3"]
    assert (v["client_id"] == 7).all()
    assert len(P.to_commands(m[:0], 7, ACCOUNT)) == 0


def test_stamp_source():
    m, _ = P.decode_batch(_stream(3))
    raw = P.to_commands(m, 7, ACCOUNT)
    assert P.stamp_source(raw, 9, 100) == 103
    hdr = R.header(raw)
    assert hdr["source_id"].tolist() == [9] * 3 and hdr["source_seq"].tolist() == [100, 101, 102]


# ------------------------------------------------------------------ responses
def exec_report(exec_type, status, cl="11", orig="", order_id=5, side=R.SIDE_BUY, reason=0, price=10_00000000,
                qty=100, last_px=0, last_qty=0, leaves=100, cum=0, ts=123456789):
    raw = R.new_events(1)
    e = raw.view(R.ExecReport)
    e["type"], e["version"], e["ts"] = R.EXEC_REPORT, 2, ts
    e["order_id"], e["exec_id"], e["client_id"], e["symbol_id"] = order_id, 77, 42, 3
    e["side"], e["exec_type"], e["ord_status"], e["ord_type"] = side, exec_type, status, R.ORD_LIMIT
    e["reason"], e["price"], e["qty"], e["last_px"], e["last_qty"] = reason, price, qty, last_px, last_qty
    e["leaves_qty"], e["cum_qty"] = leaves, cum
    e["cl_ord_id"][0] = R.ascii_field(cl, R.CLORD_LEN)
    e["orig_cl_ord_id"][0] = R.ascii_field(orig, R.CLORD_LEN)
    return raw


def cancel_reject(cl, orig, reason, response_to=R.RESPONSE_TO_CANCEL, order_id=5, status=R.STATUS_NEW, ts=5):
    raw = R.new_events(1)
    c = raw.view(R.CancelReject)
    c["type"], c["version"], c["ts"] = R.CANCEL_REJECT, 1, ts
    c["order_id"], c["client_id"], c["reason"], c["response_to"], c["ord_status"] = (
        order_id, 42, reason, response_to, status)
    c["cl_ord_id"][0] = R.ascii_field(cl, R.CLORD_LEN)
    c["orig_cl_ord_id"][0] = R.ascii_field(orig, R.CLORD_LEN)
    return raw


@pytest.mark.parametrize("event, expected", [
    (exec_report(R.EXEC_NEW, R.STATUS_NEW),
     resp(P.ACK, side=1, clid=11, order_id=5, price=10_00000000, qty=100, leaves=100, status=ord("0"), ts=123456789)),
    (exec_report(R.EXEC_REJECTED, R.STATUS_REJECTED, order_id=0, reason=R.REASON_MAX_QTY, leaves=0),
     resp(P.REJECT, side=1, reason=3, clid=11, price=10_00000000, qty=100, status=ord("8"), ts=123456789)),
    (exec_report(R.EXEC_TRADE, R.STATUS_PARTIAL, last_px=9_99000000, last_qty=40, leaves=60, cum=40),
     resp(P.FILL, side=1, clid=11, order_id=5, price=9_99000000, qty=40, leaves=60, cum=40, status=ord("1"),
          ts=123456789)),
    (exec_report(R.EXEC_PARTIAL_FILL, R.STATUS_PARTIAL, last_px=7, last_qty=1, leaves=99, cum=1),
     resp(P.FILL, side=1, clid=11, order_id=5, price=7, qty=1, leaves=99, cum=1, status=ord("1"), ts=123456789)),
    (exec_report(R.EXEC_FILL, R.STATUS_FILLED, last_px=7, last_qty=100, leaves=0, cum=100),
     resp(P.FILL, side=1, clid=11, order_id=5, price=7, qty=100, cum=100, status=ord("2"), ts=123456789)),
    # a client's cancel: ClOrdID = the cancel request's id, OrigClOrdID = the order's
    (exec_report(R.EXEC_CANCELED, R.STATUS_CANCELED, cl="12", orig="11", leaves=0, cum=30),
     resp(P.CANCELLED, side=1, clid=12, orig=11, order_id=5, price=10_00000000, qty=100, cum=30, status=ord("4"),
          ts=123456789)),
    (exec_report(R.EXEC_EXPIRED, R.STATUS_EXPIRED, leaves=0),
     resp(P.CANCELLED, side=1, clid=11, order_id=5, price=10_00000000, qty=100, status=ord("C"), ts=123456789)),
    (exec_report(R.EXEC_REPLACED, R.STATUS_NEW, cl="13", orig="11", price=11_00000000, qty=200, leaves=200),
     resp(P.REPLACED, side=1, clid=13, orig=11, order_id=5, price=11_00000000, qty=200, leaves=200,
          status=ord("0"), ts=123456789)),
    (cancel_reject("14", "11", R.REASON_TOO_LATE, status=R.STATUS_FILLED),
     resp(P.CANCEL_REJECT, reason=7, clid=14, orig=11, order_id=5, status=ord("2"), ref=P.CANCEL, ts=5)),
    (cancel_reject("15", "99", R.REASON_NOT_OWNER, response_to=R.RESPONSE_TO_REPLACE, order_id=0, status=0),
     resp(P.CANCEL_REJECT, reason=12, clid=15, orig=99, ref=P.REPLACE, ts=5)),
])
def test_response_from_each_event(event, expected):
    got = P.responses_from_events(event)
    assert got.tobytes() == expected


@pytest.mark.parametrize("exec_type", [R.EXEC_PENDING_NEW, R.EXEC_PENDING_CANCEL, R.EXEC_PENDING_REPLACE])
def test_pending_reports_give_no_response(exec_type):
    assert len(P.responses_from_events(exec_report(exec_type, R.STATUS_PENDING_NEW))) == 0


def test_a_batch_keeps_event_order_and_skips_the_rest():
    alert = R.new_events(1)
    alert.view(R.Alert)["type"] = R.ALERT
    events = np.concatenate([
        exec_report(R.EXEC_PENDING_NEW, R.STATUS_PENDING_NEW, cl="1"),
        exec_report(R.EXEC_NEW, R.STATUS_NEW, cl="1"),
        alert,
        cancel_reject("3", "1", R.REASON_PENDING),
        exec_report(R.EXEC_TRADE, R.STATUS_FILLED, cl="1", last_qty=100, leaves=0, cum=100),
    ])
    got = P.responses_from_events(events)
    assert got["msg_type"].tolist() == [P.ACK, P.CANCEL_REJECT, P.FILL]
    assert got["client_order_id"].tolist() == [1, 3, 1]
    assert not got["response_seq"].any()
    assert len(P.responses_from_events(R.new_events(0))) == 0


def test_ids_entered_elsewhere_and_huge_quantities():
    ev = exec_report(R.EXEC_NEW, R.STATUS_NEW, cl="FIX-ORDER-1", qty=2**40, leaves=2**40)
    got = P.responses_from_events(ev)[0]
    assert got["client_order_id"] == 0 and got["qty"] == got["leaves_qty"] == 2**32 - 1


# ------------------------------------------------------------------ fuzz
# biased towards valid-looking messages so every rule is exercised
message = st.one_of(
    st.binary(min_size=32, max_size=32),
    st.builds(lambda t, side, sym, qty, price, clid, slot: ORDER.pack(t, side, sym, qty, price, clid, slot),
              st.sampled_from([0, 1, 2, 3, 4, 16, 17, 18, 19, 200]), st.sampled_from([0, 1, 2, 3, 5, 255]),
              st.sampled_from([0, 1, 65535]), st.sampled_from([0, 1, 2**32 - 1]),
              st.sampled_from([-2**63, -1, 0, 1, 2**63 - 1]), st.sampled_from([0, 1, 2**64 - 1]),
              st.sampled_from([0, 1, 2**64 - 1])))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(message, max_size=20), st.binary(max_size=31), st.lists(st.integers(0, 700), max_size=8))
def test_fuzz_decoder(msgs, tail, cuts):
    data = b"".join(msgs) + tail
    decoded, buf = [], b""
    for part in np.split(np.frombuffer(data, np.uint8), sorted(min(c, len(data)) for c in cuts)):
        m, buf = P.decode_batch(buf + part.tobytes())
        codes = P.validate(m)
        decoded += [(m[i].tobytes(), int(codes[i])) for i in range(len(m))]
        good = m[codes == 0]
        good = good[np.isin(good["msg_type"], P.ORDER_TYPES)]
        raw = P.to_commands(good, 1, ACCOUNT)
        assert len(raw) == len(good) and R.check_commands(raw).all()
        types = R.header(raw)["type"]
        for t in P.ORDER_TYPES:
            cmds = raw[types == t].view(R.COMMAND_DTYPES[t])
            assert P.parse_ids(cmds["cl_ord_id"]).tolist() == good["client_order_id"][types == t].tolist()
    assert [d for d, _ in decoded] == msgs and buf == tail
    assert [c for _, c in decoded] == [reference_code(b) for b in msgs]


def test_bench_decode_runs():
    assert P.bench_decode(8192, batch=1024) > 0


def test_response_layout_has_no_gaps():
    """Every byte belongs to a field, so copies of response arrays carry no stale bytes."""
    covered = np.zeros(P.RESPONSE_SIZE, int)
    for name in P.RESPONSE.names:
        dt, off = P.RESPONSE.fields[name][:2]
        covered[off:off + dt.itemsize] += 1
    assert (covered == 1).all()
