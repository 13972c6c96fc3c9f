"""The FIX venue adapter's translation: requests to FIX 4.2 orders, ExecutionReports and
OrderCancelRejects back to records (the session layer is tested in tests/gateways, the
whole path over TCP in tests/e2e/test_venue_adapter.py)."""

from sequencer import records as R
from gateways.fix.codec import encode, parse
from venues import session_state as S
from venues.fix_adapter import decode_answer, request_message

PX = 100 * R.PRICE_SCALE


def state_with_order(oid=7, qty=300):
    st = S.SessionState(2, 104, take_fee=20_000, make_fee=0)
    ev = R.new_events(1).view(R.VenueOrder)
    ev["type"], ev["order_id"], ev["venue_id"], ev["action"] = R.VENUE_ORDER, oid, 2, S.NEW
    ev["side"], ev["qty"], ev["price"], ev["ord_type"], ev["tif"] = R.SIDE_BUY, qty, PX, R.ORD_LIMIT, R.TIF_DAY
    ev["symbol"][0] = R.ascii_field("AAA", R.SYMBOL_LEN)
    return st, st.request(ev[0])


def answer(seq, msg_type, *fields):
    return parse(encode("FIX.4.2", msg_type, [(49, "XFIX"), (56, "TNDM01"), (34, seq), (52, "20261124-10:00:00.000"),
                                              *fields]))


def er(seq, exec_type, clordid, *fields, exec_id=None):
    return answer(seq, "8", (37, "55"), (11, clordid), (17, exec_id or f"X{seq}"), (20, "0"), (150, exec_type),
                  (39, exec_type), (55, "AAA"), (54, "1"), (38, 300), (44, "100"), *fields)


def test_requests_as_fix_orders():
    st, new = state_with_order()
    assert request_message(new) == ("D", [(11, S.token(7)), (21, "1"), (55, "AAA"), (54, "1"), (38, 300),
                                          (40, "2"), (44, "100"), (59, "0")])
    kind, fields = request_message(S.Request(S.REPLACE, 7, S.token(7, 1), S.token(7), symbol="AAA",
                                             side=R.SIDE_BUY, price=PX + R.PRICE_SCALE // 100, qty=250))
    assert kind == "G" and (41, S.token(7)) in fields and (11, S.token(7, 1)) in fields and (44, "100.01") in fields
    kind, fields = request_message(S.Request(S.CANCEL, 7, S.token(7), symbol="AAA", side=R.SIDE_BUY))
    assert kind == "F" and fields[:2] == [(41, S.token(7)), (11, "X" + S.token(7))]


def test_execution_reports_become_records():
    st, _ = state_with_order()
    tok = S.token(7)
    ack = decode_answer(st, er(3, "0", tok, (151, 300), (14, 0)))
    assert (ack["type"][0], ack["ack_of"][0], ack["venue_order_id"][0], ack["qty"][0], ack["venue_seq"][0]) == \
           (R.VENUE_ACK, S.NEW, 55, 300, 3)
    fill = decode_answer(st, er(4, "1", tok, (32, 100), (31, "99.99"), (14, 100), (151, 200), (9730, "R"),
                                exec_id="E12R"))
    assert (fill["qty"][0], fill["price"][0], fill["liquidity"][0], fill["venue_exec_id"][0]) == \
           (100, 99_99 * R.PRICE_SCALE // 100, R.LIQUIDITY_REMOVED, 12)
    assert fill["fee"][0] == 100 * 20_000 and fill["source_seq"][0] == 2
    cx = decode_answer(st, er(5, "4", "X" + tok, (41, tok), (14, 100), (151, 0)))
    assert (cx["type"][0], cx["qty"][0]) == (R.VENUE_CANCELLED, 200)
    assert st.orders[7].done


def test_rejects_and_cancel_rejects():
    st, _ = state_with_order(oid=9)
    rej = decode_answer(st, er(1, "8", S.token(9), (103, 1), (58, "unknown symbol")))
    assert (rej["type"][0], rej["reject_of"][0], rej["reason"][0]) == (R.VENUE_REJECT, S.NEW, 1)
    assert R.ascii_text(rej["text"][0]).startswith("FIX: unknown")

    st, _ = state_with_order(oid=10)
    decode_answer(st, er(1, "0", S.token(10), (151, 300)))
    st.orders[10].pending.append(S.Request(S.CANCEL, 10, S.token(10)))
    cr = decode_answer(st, answer(2, "9", (37, "55"), (11, "X" + S.token(10)), (41, S.token(10)), (39, "0"),
                                  (434, "1"), (102, "2")))
    assert (cr["type"][0], cr["reject_of"][0]) == (R.VENUE_REJECT, S.CANCEL)
    st.orders[10].gen = 1
    st.orders[10].pending.append(S.Request(S.REPLACE, 10, S.token(10, 1), S.token(10)))
    rr = decode_answer(st, answer(3, "9", (37, "55"), (11, S.token(10, 1)), (41, S.token(10)), (39, "0"),
                                  (434, "2"), (102, "2")))
    assert (rr["type"][0], rr["reject_of"][0]) == (R.VENUE_REJECT, S.REPLACE)
    # a bust is for the operators: no record
    assert decode_answer(st, er(4, "H", S.token(10), (19, "X3"))) is None and st.broken_trades == 1
