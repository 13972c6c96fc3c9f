"""The batch ExecutionReport encoder against the Python path it stands in for: byte for
byte the same message wherever it says it can encode the event."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateways.fix import orders as O
from gateways.fix.codec import FixError, parse
from gateways.fix.report_encoder import encodable, encode_reports
from gateways.fix.session import FixSession, SessionConfig
from sequencer import records as R

STAMP = "20261124-10:00:00.000"
EXEC_TYPES = [R.EXEC_NEW, R.EXEC_PARTIAL_FILL, R.EXEC_FILL, R.EXEC_CANCELED, R.EXEC_REPLACED, R.EXEC_PENDING_CANCEL,
              R.EXEC_REJECTED, R.EXEC_PENDING_NEW, R.EXEC_PENDING_REPLACE, R.EXEC_TRADE, R.EXEC_EXPIRED]
STATUSES = [R.STATUS_NEW, R.STATUS_PARTIAL, R.STATUS_FILLED, R.STATUS_CANCELED, R.STATUS_PENDING_CANCEL,
            R.STATUS_REJECTED, R.STATUS_PENDING_NEW, R.STATUS_PENDING_REPLACE, R.STATUS_EXPIRED]
SIDES = [R.SIDE_BUY, R.SIDE_SELL, R.SIDE_SELL_SHORT]


def python_path(e, begin_string, sender, target, account, seq, stamp=STAMP) -> bytes:
    s = FixSession(SessionConfig(sender, target, begin_string=begin_string))
    return s._build("8", O.execution_report(e, begin_string, account), seq, stamp)


def messages(buf: bytes, ends: np.ndarray) -> list[bytes]:
    starts = [0] + [int(x) for x in ends[:-1]]
    return [buf[a:int(b)] for a, b in zip(starts, ends)]


def report(exec_type, status, last_qty=0, reason=0, cl_ord_id=b"ORD1", orig=b"", side=R.SIDE_BUY):
    raw = R.new_events(1)
    e = raw.view(R.ExecReport)[0]
    e["type"], e["order_id"], e["exec_id"], e["client_id"] = R.EXEC_REPORT, 42, 9001, 7
    e["exec_type"], e["ord_status"], e["side"], e["ord_type"] = ord(exec_type), ord(status), side, R.ORD_LIMIT
    e["price"], e["qty"], e["last_qty"], e["last_px"] = 10_125_000_000, 300, last_qty, 10_125_000_000
    e["leaves_qty"], e["cum_qty"], e["avg_px"], e["reason"] = 300 - last_qty, last_qty, 10_125_000_000, reason
    e["cl_ord_id"][:len(cl_ord_id)] = list(cl_ord_id)
    e["orig_cl_ord_id"][:len(orig)] = list(orig)
    e["symbol"][:4] = list(b"AAPL")
    return raw


def test_fix42_fill():
    raw = report("F", "2", last_qty=300)
    buf, ends = encode_reports(raw, "FIX.4.2", "BROKER", "CLIENT", "ACC7", 12, STAMP)
    assert encodable(raw).tolist() == [True]
    assert buf.replace(b"\x01", b"|") == (
        b"8=FIX.4.2|9=175|35=8|49=BROKER|56=CLIENT|34=12|52=20261124-10:00:00.000|37=42|11=ORD1|17=9001|20=0|"
        b"150=2|39=2|1=ACC7|55=AAPL|54=1|38=300|40=2|44=101.25|32=300|31=101.25|151=0|14=300|6=101.25|10=075|")
    assert ends.tolist() == [len(buf)]
    assert buf == python_path(raw.view(R.ExecReport)[0], "FIX.4.2", "BROKER", "CLIENT", "ACC7", 12)


def test_fix44_reject_with_reason_text():
    raw = report("8", "8", reason=R.REASON_MAX_NOTIONAL, orig=b"ORD0")
    buf, _ = encode_reports(raw, "FIX.4.4", "BROKER", "CLIENT", "ACC7", 3, STAMP)
    assert buf.replace(b"\x01", b"|") == (
        b"8=FIX.4.4|9=196|35=8|49=BROKER|56=CLIENT|34=3|52=20261124-10:00:00.000|37=42|11=ORD1|41=ORD0|17=9001|"
        b"150=8|39=8|1=ACC7|55=AAPL|54=1|38=300|40=2|44=101.25|151=300|14=0|6=101.25|"
        b"58=order notional above limit|103=3|10=209|")
    assert buf == python_path(raw.view(R.ExecReport)[0], "FIX.4.4", "BROKER", "CLIENT", "ACC7", 3)


def test_empty_clordid_is_left_to_the_python_path():
    raw = np.concatenate([report("0", "0"), report("0", "0", cl_ord_id=b""), report("0", "0", side=9)])
    assert encodable(raw).tolist() == [True, False, False]
    with pytest.raises(FixError):
        python_path(raw.view(R.ExecReport)[1], "FIX.4.4", "S", "T", "A", 1)


def test_empty_batch_and_bad_session_strings():
    buf, ends = encode_reports(R.new_events(0), "FIX.4.4", "S", "T", "A", 1, STAMP)
    assert buf == b"" and len(ends) == 0 and ends.dtype == np.int64
    with pytest.raises(FixError):
        encode_reports(report("0", "0"), "FIX.4.4", "S", "T", "", 1, STAMP)     # empty Account, as encode
    with pytest.raises(FixError):
        encode_reports(report("0", "0"), "FIX.5.0", "S", "T", "A", 1, STAMP)


def test_widest_report_fits_the_per_message_bound():
    """Every field at its widest: the buffer is sized by this bound and the kernel does not
    check it as it writes."""
    from gateways.fix import report_encoder as E
    longest = max(R.REASON_TEXT, key=lambda r: len(R.REASON_TEXT[r]))
    raw = report("8", "8", reason=longest, cl_ord_id=b"C" * R.CLORD_LEN, orig=b"O" * R.CLORD_LEN)
    e = raw.view(R.ExecReport)[0]
    e["order_id"] = e["exec_id"] = 2**64 - 1
    for f in ("price", "qty", "last_px", "last_qty", "leaves_qty", "cum_qty", "avg_px"):
        e[f] = -2**63
    e["symbol"][:] = list(b"S" * R.SYMBOL_LEN)
    strings = ("FIX.4.2", "S" * 30, "T" * 30, "A" * 16, STAMP)
    buf, _ = encode_reports(raw, strings[0], *strings[1:4], -2**63, strings[4])
    assert buf == python_path(e, strings[0], *strings[1:4], -2**63, strings[4])
    assert len(buf) - sum(map(len, strings)) - len(R.REASON_TEXT[longest]) <= E._FIXED_BOUND


# ------------------------------------------------------------------ property
PRINTABLE = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=16)


def printable(width: int, min_size: int):
    return st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=min_size,
                   max_size=width).map(str.encode)


def with_decimals(k):
    return st.builds(lambda whole, frac: whole * R.PRICE_SCALE + frac * 10 ** (8 - k),
                     st.integers(0, 10**7), st.integers(0, 10**k - 1))


PRICES = st.one_of(st.sampled_from([0, 1, R.PRICE_SCALE, 10**15, -1, 2**63 - 1, -2**63]),
                   st.integers(1, 8).flatmap(with_decimals), st.integers(0, 10**15), st.integers(-2**63, 2**63 - 1))
QTYS = st.one_of(st.just(0), st.integers(1, 10**6), st.integers(-2**63, 2**63 - 1))
IDS = st.one_of(st.integers(0, 2**63 - 1), st.integers(0, 2**64 - 1))
REASONS = st.one_of(st.just(0), st.sampled_from(sorted(R.REASON_TEXT)), st.integers(0, 65535))
NUMBERS = {"price": PRICES, "last_px": PRICES, "avg_px": PRICES, "qty": QTYS, "last_qty": QTYS,
           "leaves_qty": QTYS, "cum_qty": QTYS, "reason": REASONS, "order_id": IDS, "exec_id": IDS}
# What the core writes ...
NORMAL = st.fixed_dictionaries({
    "type": st.just(R.EXEC_REPORT), "exec_type": st.sampled_from(EXEC_TYPES), "ord_status": st.sampled_from(STATUSES),
    "side": st.sampled_from(SIDES), "ord_type": st.sampled_from([R.ORD_MARKET, R.ORD_LIMIT]),
    "cl_ord_id": printable(R.CLORD_LEN, 1), "orig_cl_ord_id": printable(R.CLORD_LEN, 0),
    "symbol": printable(R.SYMBOL_LEN, 1), **NUMBERS})
# ... and anything else a record can hold (another type, unknown codes, spaces, non-ASCII, NULs inside).
WILD = st.fixed_dictionaries({
    "type": st.sampled_from([R.EXEC_REPORT, R.CANCEL_REJECT]),
    **{k: st.one_of(st.sampled_from(v), st.integers(0, 255)) for k, v in
       [("exec_type", EXEC_TYPES), ("ord_status", STATUSES), ("side", SIDES), ("ord_type", [1, 2])]},
    **{k: st.one_of(printable(w, 0), st.binary(max_size=w)) for k, w in
       [("cl_ord_id", R.CLORD_LEN), ("orig_cl_ord_id", R.CLORD_LEN), ("symbol", R.SYMBOL_LEN)]},
    **NUMBERS})
EVENT = st.one_of(NORMAL, NORMAL, NORMAL, WILD)


def normal(d) -> bool:
    """What the core writes: encodable must take all of it."""
    printable = lambda b: all(0x21 <= c <= 0x7E for c in b)  # noqa: E731
    return (d["type"] == R.EXEC_REPORT and d["exec_type"] in EXEC_TYPES and d["ord_status"] in STATUSES
            and d["side"] in SIDES and d["ord_type"] in (R.ORD_MARKET, R.ORD_LIMIT)
            and all(printable(d[f]) for f in ("cl_ord_id", "orig_cl_ord_id", "symbol"))
            and d["cl_ord_id"] != b"" and d["symbol"] != b"")


@settings(max_examples=300, deadline=None)
@given(st.lists(EVENT, min_size=1, max_size=20), st.sampled_from(["FIX.4.2", "FIX.4.4"]), PRINTABLE, PRINTABLE,
       PRINTABLE, st.integers(1, 2**40), PRINTABLE)
def test_batch_bytes_are_the_python_paths(events, begin_string, sender, target, account, first_seq, stamp):
    raw = R.new_events(len(events))
    er = raw.view(R.ExecReport)
    for e, d in zip(er, events):
        for k, v in d.items():
            if isinstance(v, bytes):
                e[k][:len(v)] = list(v)
            else:
                e[k] = v
    ok = encodable(raw)
    buf, ends = encode_reports(raw, begin_string, sender, target, account, first_seq, stamp)
    assert ok.dtype == np.bool_ and ends.dtype == np.int64 and len(ends) == len(events)
    assert ends[-1] == len(buf) and np.all(np.diff(ends) > 0)
    for i, (d, msg) in enumerate(zip(events, messages(buf, ends))):
        if normal(d):
            assert ok[i], d
        if not ok[i]:
            continue
        assert msg == python_path(er[i], begin_string, sender, target, account, first_seq + i, stamp)
        m = parse(msg)
        assert (m.msg_type, m.get_int(34), m.get_int(17)) == ("8", first_seq + i, d["exec_id"])
