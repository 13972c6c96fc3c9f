"""The adapter's venue session state and its OUCH translation, against the simulator
engine in-process: requests out, answers back as records, and a state rebuilt from
the journaled streams that re-sends exactly what the venue has not answered."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sequencer import records as R
from venues import session_state as S
from venues.ouch_adapter import decode_answer, encode_request
from venues.protocols import ouch42 as ouch
from venues.sim.engine import VenueConfig, VenueEngine

TS = 34_200_000_000_000
PX = 100 * R.PRICE_SCALE
CENT = R.PRICE_SCALE // 100


def venue_order(order_id, side=R.SIDE_BUY, qty=300, price=PX, action=S.NEW, ord_type=R.ORD_LIMIT, tif=R.TIF_DAY,
                seq=1):
    ev = R.new_events(1).view(R.VenueOrder)
    ev["type"], ev["version"], ev["seq"] = R.VENUE_ORDER, 1, seq
    ev["order_id"], ev["venue_id"], ev["action"] = order_id, 1, action
    ev["side"], ev["qty"], ev["price"], ev["ord_type"], ev["tif"] = side, qty, price, ord_type, tif
    ev["symbol"][0] = R.ascii_field("AAA", R.SYMBOL_LEN)
    return ev


def venue_cancel(order_id, seq=1):
    ev = R.new_events(1).view(R.VenueCancel)
    ev["type"], ev["version"], ev["seq"], ev["order_id"], ev["venue_id"] = R.VENUE_CANCEL, 1, seq, order_id, 1
    return ev


class Rig:
    """The adapter state talking to a venue engine, with a journal of both streams."""

    def __init__(self):
        self.engine = VenueEngine(VenueConfig(symbols=["AAA"], initial_prices={"AAA": PX}, seed=3))
        self.engine.start_of_day(TS)
        self.state = S.SessionState(1, 77, take_fee=30_000, make_fee=-20_000)
        self.venue_log: list[bytes] = []   # the venue's sequenced messages to this session
        self.requests, self.records = [], []
        self.ts = TS

    def send(self, ev, state=None):
        state = state or self.state
        self.requests.append(ev)
        req = state.request(ev[0])
        if req is not None:
            self.to_venue([req])
        return req

    def to_venue(self, reqs, session="TNDM01"):
        for req in reqs:
            self.ts += 1
            out = self.engine.on_ouch(session, encode_request(req, "TNDM"), self.ts)
            self.venue_log += out.get(session, [])

    def deliver(self, state=None, first=1):
        """Decode venue messages from sequence number ``first``; journal the records."""
        state = state or self.state
        recs = []
        for i, payload in enumerate(self.venue_log[first - 1:], start=first):
            rec = decode_answer(state, i, payload)
            if rec is not None:
                recs.append(rec)
        self.records += recs
        return recs

    def rebuilt(self):
        """A new state from the journaled streams, in journal order."""
        st = S.SessionState(1, 77, take_fee=30_000, make_fee=-20_000)
        for ev in self.requests:
            st.request(ev[0])
        for rec in self.records:
            st.apply(rec.copy())
        return st


def test_token_round_trip_and_limits():
    assert S.token(42) == "00000000420000" and len(S.token(42, 3)) == S.TOKEN_LEN
    assert S.parse_token(S.token(9_876_543_210 - 1, 12)) == (9_876_543_209, 12)
    assert S.parse_token("T1") is None and S.parse_token("0000000042000X") is None
    with pytest.raises(ValueError):
        S.token(10**10)


def test_accept_partial_fill_replace_cancel():
    r = Rig()
    r.send(venue_order(5, qty=300, price=PX - CENT))
    [ack] = r.deliver()
    assert ack["type"][0] == R.VENUE_ACK and ack["ack_of"][0] == S.NEW and ack["order_id"][0] == 5
    assert ack["qty"][0] == 300 and ack["price"][0] == PX - CENT and ack["venue_order_id"][0] > 0
    assert ack["source_id"][0] == 77 and ack["source_seq"][0] == 1 and ack["venue_seq"][0] == 1
    assert ack["version"][0] == 2
    # a seller trades 100 against us: executed at our price, we added liquidity (rebate)
    n = len(r.venue_log)
    r.ts += 1
    out = r.engine.on_ouch("OTHER", ouch.encode_enter_order(
        order_token="S1", side="S", shares=100, stock="AAA", price=ouch.price_to_ouch(PX - 5 * CENT),
        time_in_force=0, firm="OTHR", display="Y", capacity="A", intermarket_sweep="N",
        minimum_quantity=0, cross_type="N", customer_type=" "), r.ts)
    r.venue_log += out["TNDM01"]
    [fill] = r.deliver(first=n + 1)
    assert fill["type"][0] == R.VENUE_FILL and fill["qty"][0] == 100 and fill["price"][0] == PX - CENT
    assert fill["liquidity"][0] == R.LIQUIDITY_ADDED and fill["fee"][0] == -20_000 * 100
    assert fill["source_seq"][0] == 2
    # replace to 250 total: 150 open at the venue
    n = len(r.venue_log)
    req = r.send(venue_order(5, qty=250, price=PX - 2 * CENT, action=S.REPLACE, seq=9))
    assert req.prev_token == S.token(5) and req.token == S.token(5, 1) and req.open_qty == 150
    [rep] = r.deliver(first=n + 1)
    assert rep["ack_of"][0] == S.REPLACE and rep["qty"][0] == 250 and rep["price"][0] == PX - 2 * CENT
    # the cancel uses the replacement token
    n = len(r.venue_log)
    assert r.send(venue_cancel(5, seq=10)).token == S.token(5, 1)
    [cx] = r.deliver(first=n + 1)
    assert cx["type"][0] == R.VENUE_CANCELLED and cx["qty"][0] == 150
    assert r.state.unanswered() == [] and r.state.orders[5].done
    assert r.engine.live_orders("TNDM01") == {} and r.engine.bbo("AAA")[:2] == (0, 0)


def test_rejects_become_venue_rejects():
    r = Rig()
    r.send(venue_order(6, price=PX + CENT // 2))      # off the tick: rejected 'X'
    [rej] = r.deliver()
    assert rej["type"][0] == R.VENUE_REJECT and rej["reject_of"][0] == S.NEW and rej["reason"][0] == ord("X")
    assert R.ascii_text(rej["text"][0]).startswith("OUCH X")
    r.send(venue_order(7))
    r.send(venue_cancel(7))
    r.deliver(first=2)
    n = len(r.venue_log)
    # a second cancel of the dead order: the venue's Cancel Reject is an echo here (already done)
    r.state.orders[7].pending.append(S.Request(S.CANCEL, 7, S.token(7)))
    r.to_venue([S.Request(S.CANCEL, 7, S.token(7))])
    assert r.deliver(first=n + 1) == [] and r.state.dropped == 1


def test_market_order_encodes_the_sentinel():
    req = S.Request(S.NEW, 3, S.token(3), symbol="AAA", side=R.SIDE_SELL, qty=10, open_qty=10,
                    ord_type=R.ORD_MARKET, tif=R.TIF_IOC)
    m = ouch.decode(encode_request(req, "TNDM"), ouch.INBOUND)[1]
    assert m["price"] == ouch.MARKET_PRICE and m["time_in_force"] == 0 and m["side"] == b"S"


def test_restart_rebuilds_state_and_resends_only_unanswered():
    """An adapter dies after sending two orders whose answers were not journaled; the
    rebuilt state logs in from the last journaled venue seq and re-sends both; the
    venue's duplicate-token rejects for the one it had are dropped."""
    r = Rig()
    r.send(venue_order(1))
    r.deliver()                                # journaled: ack of order 1 (venue seq 1)
    r.send(venue_order(2))                     # reached the venue, answer lost with the process
    r.requests.append(venue_order(3))          # never reached the venue
    st = r.rebuilt()
    assert st.venue_seq == 1 and st.source_seq == 1
    again = st.unanswered()
    assert [q.order_id for q in again] == [2, 3]
    # login from venue seq 2: the venue replays order 2's ack, then answers the re-sends
    r.to_venue(again)
    recs = r.deliver(state=st, first=st.venue_seq + 1)
    assert [(int(x["order_id"][0]), int(x["type"][0])) for x in recs] == [(2, R.VENUE_ACK), (3, R.VENUE_ACK)]
    assert [int(x["source_seq"][0]) for x in recs] == [2, 3]
    assert st.dropped == 1  # the venue's reject of order 2's duplicate token
    assert st.unanswered() == []


def test_records_from_recovery_equal_the_live_ones():
    r = Rig()
    for oid in (1, 2, 3):
        r.send(venue_order(oid, qty=100 * oid))
    r.send(venue_cancel(2))
    r.deliver()
    st = r.rebuilt()
    live = r.state
    assert st.source_seq == live.source_seq and st.venue_seq == live.venue_seq
    assert {k: (o.done, o.accepted, o.cum, o.live_gen) for k, o in st.orders.items()} == \
           {k: (o.done, o.accepted, o.cum, o.live_gen) for k, o in live.orders.items()}
    assert [int(x["source_seq"][0]) for x in r.records] == [1, 2, 3, 4]


def test_system_events_and_broken_trades_are_not_records():
    """System Event and Broken Trade change nothing the core keeps: no record; a break is
    counted (and logged as an error) for the operators."""
    r = Rig()
    r.send(venue_order(8, qty=100, price=PX))
    r.ts += 1
    out = r.engine.on_ouch("OTHER", ouch.encode_enter_order(
        order_token="S8", side="S", shares=100, stock="AAA", price=ouch.price_to_ouch(PX),
        time_in_force=0, firm="OTHR", display="Y", capacity="A", intermarket_sweep="N",
        minimum_quantity=0, cross_type="N", customer_type=" "), r.ts)
    r.venue_log += out["TNDM01"]
    match = int(ouch.decode(out["TNDM01"][-1])[1]["match_number"])
    broken = r.engine.break_trade(match, "E", r.ts + 1)
    assert set(broken) == {"TNDM01", "OTHER"}
    r.venue_log += broken["TNDM01"] + r.engine.system_event("E", ["TNDM01"], r.ts + 2)["TNDM01"]
    recs = r.deliver()
    assert [int(x["type"][0]) for x in recs] == [R.VENUE_ACK, R.VENUE_FILL]
    assert r.state.broken_trades == 1 and r.engine.break_trade(match, "E", r.ts + 3) == {}


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=90), st.sampled_from(list("AUECDJIBSPTM")))
def test_garbage_from_the_venue_is_an_ouch_error_never_a_crash(data, letter):
    """Whatever the venue sends, the adapter's decoder answers a record, nothing, or an
    OuchError/ValueError (the session then skips the message and logs it)."""
    state = S.SessionState(1, 77)
    state.request(venue_order(int.from_bytes(data[:2] or b"\1", "big") % 50 + 1)[0])
    payload = letter.encode() + data
    try:
        rec = decode_answer(state, 1, payload)
    except (ouch.OuchError, ValueError):
        return
    assert rec is None or int(rec["type"][0]) in (R.VENUE_ACK, R.VENUE_FILL, R.VENUE_CANCELLED, R.VENUE_REJECT)
