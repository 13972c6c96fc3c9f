"""FIX application messages to records and reports back, per version."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateways.fix.codec import encode, parse
from gateways.fix.orders import (REQUIRED_TAG_MISSING, VALUE_INCORRECT, INCORRECT_DATA_FORMAT, Refusal, SessionInfo,
                                 cancel, cancel_reject, execution_report, new_order, replace)
from sequencer import records as R

S42 = SessionInfo("FIX.4.2", 7, "ACC7")
S44 = SessionInfo("FIX.4.4", 7, "ACC7")
NOS = [(11, "ORD1"), (21, "1"), (1, "ACC7"), (55, "AAPL"), (54, "1"), (60, "20261124-10:00:00"), (38, "300"),
       (40, "2"), (44, "101.25"), (59, "0")]


def msg(msg_type, fields):
    return parse(encode("FIX.4.2", msg_type, [(49, "C"), (56, "T"), (34, 2), (52, "20261124-10:00:00")] + fields))


def without(tag):
    return [(t, v) for t, v in NOS if t != tag]


def test_new_order_single_becomes_a_new_order():
    o = new_order(msg("D", NOS), S42).view(R.NewOrder)[0]
    assert (o["type"], o["version"], o["client_id"], o["symbol_id"]) == (R.NEW_ORDER, 2, 7, 0)
    assert R.ascii_text(o["cl_ord_id"]) == "ORD1" and R.ascii_text(o["symbol"]) == "AAPL"
    assert R.ascii_text(o["account"]) == "ACC7"
    assert (o["side"], o["qty"], o["ord_type"], o["price"], o["tif"]) == \
           (R.SIDE_BUY, 300, R.ORD_LIMIT, 10_125_000_000, R.TIF_DAY)
    routed = new_order(msg("D", NOS + [(847, "1001"), (100, "2")]), S42).view(R.NewOrder)[0]
    assert routed["strategy"] == R.STRATEGY_SWEEP and routed["venue_id"] == 2


@pytest.mark.parametrize("fields, reason, tag", [
    (without(11), REQUIRED_TAG_MISSING, 11),
    (without(44), REQUIRED_TAG_MISSING, 44),
    (without(21), REQUIRED_TAG_MISSING, 21),           # HandlInst: required in 4.2
    (without(60), REQUIRED_TAG_MISSING, 60),
    (without(38) + [(38, "abc")], INCORRECT_DATA_FORMAT, 38),
    (without(38) + [(38, "10.5")], VALUE_INCORRECT, 38),
    (without(44) + [(44, "1.123456789")], VALUE_INCORRECT, 44),
    (without(54) + [(54, "9")], VALUE_INCORRECT, 54),
    (without(40) + [(40, "P")], VALUE_INCORRECT, 40),
    (without(11) + [(11, "X" * 21)], VALUE_INCORRECT, 11),
])
def test_bad_fields_are_refused_with_the_session_reason(fields, reason, tag):
    with pytest.raises(Refusal) as e:
        new_order(msg("D", fields), S42)
    assert (e.value.reason, e.value.tag, e.value.business) == (reason, tag, False)


def test_another_account_is_a_business_refusal():
    with pytest.raises(Refusal) as e:
        new_order(msg("D", without(1) + [(1, "ACC8")]), S42)
    assert e.value.business and e.value.tag == 1
    # 4.4 does not require HandlInst
    assert new_order(msg("D", without(21)), S44).view(R.NewOrder)["qty"][0] == 300


def test_cancel_and_replace():
    c = cancel(msg("F", [(41, "ORD1"), (11, "CXL1"), (55, "AAPL"), (54, "1"), (60, "20261124-10:00:00")]), S42)
    c = c.view(R.Cancel)[0]
    assert (R.ascii_text(c["orig_cl_ord_id"]), R.ascii_text(c["cl_ord_id"]), c["client_id"]) == ("ORD1", "CXL1", 7)
    r = replace(msg("G", [(41, "ORD1"), (11, "RPL1"), (21, "1"), (55, "AAPL"), (54, "1"), (38, "200"), (40, "2"),
                          (44, "101.3"), (60, "20261124-10:00:00")]), S42).view(R.Replace)[0]
    assert (r["qty"], r["price"], R.ascii_text(r["orig_cl_ord_id"])) == (200, 10_130_000_000, "ORD1")


def report(exec_type, status, last_qty=0, reason=0):
    e = R.new_events(1).view(R.ExecReport)[0]
    e["type"], e["order_id"], e["exec_id"], e["client_id"] = R.EXEC_REPORT, 42, 9001, 7
    e["exec_type"], e["ord_status"], e["side"], e["ord_type"] = ord(exec_type), ord(status), R.SIDE_BUY, R.ORD_LIMIT
    e["price"], e["qty"], e["last_qty"], e["last_px"] = 10_125_000_000, 300, last_qty, 10_125_000_000
    e["leaves_qty"], e["cum_qty"], e["avg_px"], e["reason"] = 300 - last_qty, last_qty, 10_125_000_000, reason
    e["cl_ord_id"][:4] = list(b"ORD1")
    e["symbol"][:4] = list(b"AAPL")
    return e


def test_fill_reports_per_version():
    r42 = dict(execution_report(report("1", "1", 100), "FIX.4.2", "ACC7"))
    r44 = dict(execution_report(report("1", "1", 100), "FIX.4.4", "ACC7"))
    assert (r42[150], r42[39], r42[20], r42[32], r42[31], r42[151], r42[14]) == ("1", "1", "0", 100, "101.25", 200, 100)
    assert r44[150] == "F" and r44[39] == "1" and 20 not in r44 and r44[32] == 100
    assert r42[17] == 9001 and r42[37] == 42 and r42[6] == "101.25"
    # the core reports fills as trades (F): 4.2 says partial fill / fill by OrdStatus
    assert dict(execution_report(report("F", "1", 100), "FIX.4.2", "ACC7"))[150] == "1"
    assert dict(execution_report(report("F", "2", 100), "FIX.4.2", "ACC7"))[150] == "2"
    assert dict(execution_report(report("F", "2", 100), "FIX.4.4", "ACC7"))[150] == "F"


def test_reject_report_carries_the_reason():
    r = dict(execution_report(report("8", "8", reason=R.REASON_UNKNOWN_SYMBOL), "FIX.4.4", "ACC7"))
    assert (r[150], r[39], r[58], r[103]) == ("8", "8", "unknown symbol", 1)


def test_cancel_reject():
    e = R.new_events(1).view(R.CancelReject)[0]
    e["type"], e["order_id"], e["reason"], e["response_to"], e["ord_status"] = \
        R.CANCEL_REJECT, 42, R.REASON_TOO_LATE, ord("1"), ord("2")
    e["cl_ord_id"][:4], e["orig_cl_ord_id"][:4] = list(b"CXL1"), list(b"ORD1")
    f = dict(cancel_reject(e))
    assert (f[41], f[11], f[39], f[434], f[102], f[58]) == ("ORD1", "CXL1", "2", "1", 0, "order already done")


_TAGS = [1, 11, 21, 38, 40, 41, 44, 54, 55, 59, 60, 100, 126, 168, 847]


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["D", "F", "G"]), st.sampled_from([S42, S44]),
       st.lists(st.tuples(st.sampled_from(_TAGS), st.binary(min_size=1, max_size=24).filter(
           lambda b: b"\x01" not in b and b"=" not in b)), max_size=14))
def test_any_application_message_is_a_record_or_a_refusal(msg_type, session, fields):
    """Whatever a client puts in D/F/G, translation gives one command or a Refusal that
    names a tag and a reason: no other exception escapes."""
    from gateways.fix.orders import TRANSLATE
    try:
        raw = TRANSLATE[msg_type](msg(msg_type, fields), session)
    except Refusal as r:
        assert r.tag in _TAGS and r.text
        return
    assert len(raw) == 1 and R.header(raw)["type"][0] in (R.NEW_ORDER, R.CANCEL, R.REPLACE)


@pytest.mark.parametrize("fixed, text", [(1, "0.00000001"), (5_000_000, "0.05"), (100_000_000, "1"),
                                         (10_050_000_000, "100.5"), (0, "0"), (12_345_678_901, "123.45678901")])
def test_prices_are_plain_decimals(fixed, text):
    """FIX prices never use an exponent (Decimal's str writes 1E-8)."""
    from gateways.fix.orders import _px
    assert _px(fixed) == text
