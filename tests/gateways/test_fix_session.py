"""The FIX session state machine against a scripted counterparty: exact bytes in, exact
bytes out (sequence numbers included), one rule per test; and the session stores."""

from datetime import datetime, timedelta, timezone

import pytest

from gateways.fix.session import (ACCEPTOR, DISCONNECT, INITIATOR, LOGGED_ON, LOGGED_OUT, REJECT_RECEIVED,
                                  FixSession, SessionConfig, SessionEvent, format_utc, parse_utc)
from gateways.fix.store import LmdbStore, MemoryStore

SOH = "\x01"
T0 = datetime(2024, 1, 2, 9, 30, 0, tzinfo=timezone.utc)
T = "20240102-09:30:00.000"


def hand(*fields: str) -> bytes:
    """A message from 'tag=value' strings; BodyLength and CheckSum computed here by the
    spec's definitions (independently of the codec)."""
    begin, *rest = fields
    body = "".join(f + SOH for f in rest).encode()
    head = f"{begin}{SOH}9={len(body)}{SOH}".encode()
    return head + body + f"10={sum(head + body) % 256:03d}{SOH}".encode()


def msg(sender, target, seq, mt, *fields, t=T, possdup=False, orig=None):
    hdr = [f"35={mt}", f"49={sender}", f"56={target}", f"34={seq}"]
    if possdup:
        hdr.append("43=Y")
    hdr.append(f"52={t}")
    if orig:
        hdr.append(f"122={orig}")
    return hand("8=FIX.4.2", *hdr, *fields)


def cp(seq, mt, *fields, **kw):
    """A message from the counterparty CLIENT to the session under test (VENUE)."""
    return msg("CLIENT", "VENUE", seq, mt, *fields, **kw)


def ve(seq, mt, *fields, **kw):
    """A message the session under test (VENUE) must write."""
    return msg("VENUE", "CLIENT", seq, mt, *fields, **kw)


class Clock:
    def __init__(self):
        self.t = T0

    def __call__(self):
        return self.t


def acceptor(store=None, clock=None, **kw) -> FixSession:
    cfg = SessionConfig("VENUE", "CLIENT", role=ACCEPTOR, **kw)
    s = FixSession(cfg, store or MemoryStore(), clock=clock or (lambda: T0))
    s.connected(0.0)
    return s


def logged_on(**kw) -> FixSession:
    s = acceptor(**kw)
    s.data_received(cp(1, "A", "98=0", "108=30"), 0.0)
    assert s.take_outgoing() == ve(1, "A", "98=0", "108=30")
    assert s.take_events() == [SessionEvent(LOGGED_ON)]
    return s


def out(s):
    return s.take_outgoing()


# ---------------------------------------------------------------- times


def test_utc_timestamps():
    assert format_utc(datetime(2024, 1, 2, 3, 4, 5, 678900, tzinfo=timezone.utc)) == "20240102-03:04:05.678"
    assert parse_utc(b"20240102-03:04:05") == datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    assert parse_utc(b"20240102-03:04:05.5") == datetime(2024, 1, 2, 3, 4, 5, 500000, tzinfo=timezone.utc)
    for bad in (b"2024-01-02 03:04:05", b"20240102-03:04:05.", b"20241302-03:04:05", b"x", None):
        assert parse_utc(bad) is None


# ---------------------------------------------------------------- logon


def test_acceptor_answers_logon_with_the_counterparty_heartbeat():
    s = acceptor()
    s.data_received(cp(1, "A", "98=0", "108=7"), 0.0)
    assert out(s) == ve(1, "A", "98=0", "108=7")
    assert s.take_events() == [SessionEvent(LOGGED_ON)] and s.logged_on and s.heartbeat_s == 7
    assert (s.store.next_sender_seq, s.store.next_target_seq) == (2, 2)


def test_logon_reset_seq_num_flag_resets_both_sides():
    store = MemoryStore()
    store.store_sent(1, b"old")
    store.set_next_sender_seq(9)
    store.set_next_target_seq(4)
    s = acceptor(store)
    s.data_received(cp(1, "A", "98=0", "108=30", "141=Y"), 0.0)
    assert out(s) == ve(1, "A", "98=0", "108=30", "141=Y")
    assert (store.next_sender_seq, store.next_target_seq) == (2, 2) and store.get_sent(1, 0)[0][1] != b"old"


def test_logon_credentials_checked():
    s = acceptor(username="u1", password="pw")
    s.data_received(cp(1, "A", "98=0", "108=30", "553=u1", "554=bad"), 0.0)
    assert out(s) == ve(1, "5", "58=Invalid username or password")
    assert s.take_events() == [SessionEvent(LOGGED_OUT, "Invalid username or password"),
                               SessionEvent(DISCONNECT, "Invalid username or password")]
    s = acceptor(username="u1", password="pw")
    s.data_received(cp(1, "A", "98=0", "108=30", "553=u1", "554=pw"), 0.0)
    assert out(s) == ve(1, "A", "98=0", "108=30") and s.logged_on


def test_logon_with_wrong_comp_id_is_refused():
    s = acceptor()
    s.data_received(msg("INTRUDER", "VENUE", 1, "A", "98=0", "108=30"), 0.0)
    assert out(s) == ve(1, "5", "58=CompID problem")
    assert s.take_events()[-1] == SessionEvent(DISCONNECT, "CompID problem") and not s.logged_on


def test_logon_without_heartbeat_interval_is_refused():
    s = acceptor()
    s.data_received(cp(1, "A", "98=0"), 0.0)
    assert out(s) == ve(1, "5", "58=HeartBtInt(108) missing or negative")


def test_first_message_not_a_logon_disconnects_silently():
    s = acceptor()
    s.data_received(cp(1, "0"), 0.0)
    assert out(s) == b""
    assert s.take_events() == [SessionEvent(DISCONNECT, "first message is 35=0, not a Logon")]
    s.data_received(cp(1, "A", "98=0", "108=30"), 0.1)   # after disconnect: ignored
    assert out(s) == b""


def test_no_logon_in_time():
    s = acceptor(logon_timeout_s=2)
    s.tick(1.9)
    assert s.take_events() == []
    s.tick(2.0)
    assert s.take_events() == [SessionEvent(DISCONNECT, "no Logon within 2s")]


def test_logon_with_a_gap_is_accepted_then_a_resend_requested():
    s = acceptor()
    s.data_received(cp(4, "A", "98=0", "108=30"), 0.0)
    assert out(s) == ve(1, "A", "98=0", "108=30") + ve(2, "2", "7=1", "16=0")
    assert s.logged_on and s.store.next_target_seq == 1
    # the counterparty gap-fills 1..3 and resends nothing else; its Logon (4) is admin too
    s.data_received(cp(1, "4", "123=Y", "36=5", possdup=True), 0.1)
    assert s.store.next_target_seq == 5
    s.data_received(cp(5, "D", "11=X"), 0.2)
    assert [m.get(11) for m in s.take_app()] == [b"X"]


def test_logon_with_a_seq_too_low_is_refused():
    store = MemoryStore()
    store.set_next_target_seq(5)
    s = acceptor(store)
    s.data_received(cp(3, "A", "98=0", "108=30"), 0.0)
    assert out(s) == ve(1, "5", "58=MsgSeqNum too low, expecting 5 but received 3")
    assert s.take_events()[-1].kind == DISCONNECT


# ---------------------------------------------------------------- heartbeats


def test_heartbeat_test_request_and_timeout():
    s = logged_on()
    s.tick(29.9)
    assert out(s) == b""
    s.tick(30.0)
    assert out(s) == ve(2, "0")
    s.tick(36.0)  # 30 s + 20% slack heard nothing: TestRequest
    assert out(s) == ve(3, "1", "112=TEST1")
    s.tick(66.0)  # still sending heartbeats on our side
    assert out(s) == ve(4, "0")
    assert s.take_events() == []
    s.tick(72.0)  # no answer to the TestRequest
    assert s.take_events() == [SessionEvent(DISCONNECT, "no answer to TestRequest")]


def test_any_input_answers_a_pending_test_request():
    s = logged_on()
    s.tick(36.0)
    assert out(s) == ve(2, "1", "112=TEST1")
    s.data_received(cp(2, "0", "112=TEST1"), 40.0)
    s.tick(71.0)
    assert s.take_events() == [] and out(s) == ve(3, "0")


def test_test_request_is_answered_with_its_id():
    s = logged_on()
    s.data_received(cp(2, "1", "112=ping 1"), 1.0)
    assert out(s) == ve(2, "0", "112=ping 1")
    s.data_received(cp(3, "1"), 1.0)
    assert out(s) == ve(3, "3", "45=3", "371=112", "372=1", "373=1", "58=Required tag missing: 112")
    assert s.store.next_target_seq == 4


# ---------------------------------------------------------------- sequence numbers


def test_gap_sends_one_resend_request_and_discards_until_filled():
    s = logged_on()
    s.data_received(cp(4, "D", "11=C"), 1.0)
    assert out(s) == ve(2, "2", "7=2", "16=0")
    s.data_received(cp(5, "D", "11=D"), 1.1)
    assert out(s) == b"" and s.take_app() == []       # same gap: no second request
    for seq, cl in ((2, "A"), (3, "B"), (4, "C"), (5, "D")):
        s.data_received(cp(seq, "D", f"11={cl}", possdup=True, orig=T), 1.2)
    s.data_received(cp(6, "D", "11=E"), 1.3)
    assert [m.get_str(11) for m in s.take_app()] == ["A", "B", "C", "D", "E"]
    assert out(s) == b""
    s.data_received(cp(9, "D", "11=H"), 1.4)             # a new gap later: a new request
    assert out(s) == ve(3, "2", "7=7", "16=0")


def test_gap_fill_moves_the_expected_number():
    s = logged_on()
    s.data_received(cp(2, "4", "123=Y", "36=6", possdup=True), 1.0)
    assert s.store.next_target_seq == 6 and out(s) == b""
    s.data_received(cp(6, "4", "123=Y", "36=6"), 1.0)    # NewSeqNo not above MsgSeqNum
    assert out(s) == ve(2, "3", "45=6", "371=36", "372=4", "373=5", "58=NewSeqNo 6 not above MsgSeqNum 6")
    assert s.store.next_target_seq == 7


def test_sequence_reset_mode_ignores_msg_seq_num():
    s = logged_on()
    s.data_received(cp(99, "4", "36=20"), 1.0)
    assert s.store.next_target_seq == 20 and out(s) == b""
    s.data_received(cp(1, "4", "123=N", "36=10"), 1.0)
    assert out(s) == ve(2, "3", "45=1", "371=36", "372=4", "373=5", "58=NewSeqNo 10 below the expected 20")
    assert s.store.next_target_seq == 20


def test_seq_too_low_without_poss_dup_logs_out():
    s = logged_on()
    s.data_received(cp(2, "D", "11=A"), 1.0)
    s.data_received(cp(2, "D", "11=A"), 1.0)
    assert out(s) == ve(2, "5", "58=MsgSeqNum too low, expecting 3 but received 2")
    assert s.take_events() == [SessionEvent(LOGGED_OUT, "MsgSeqNum too low, expecting 3 but received 2"),
                               SessionEvent(DISCONNECT, "MsgSeqNum too low, expecting 3 but received 2")]


def test_poss_dup_duplicate_is_ignored():
    s = logged_on()
    s.data_received(cp(2, "D", "11=A"), 1.0)
    s.data_received(cp(2, "D", "11=A", possdup=True, orig=T), 1.0)
    assert len(s.take_app()) == 1 and out(s) == b"" and s.take_events() == []


def test_missing_msg_seq_num_logs_out():
    s = logged_on()
    s.data_received(hand("8=FIX.4.2", "35=0", "49=CLIENT", "56=VENUE", f"52={T}"), 1.0)
    assert out(s) == ve(2, "5", "58=MsgSeqNum(34) missing or not a positive integer")


# ---------------------------------------------------------------- resends served


def test_resend_request_served_from_the_store():
    clock = Clock()
    s = logged_on(clock=clock)
    s.send_app("8", [(11, "A"), (39, "0")], 1.0)     # 2
    s.send_app("8", [(11, "B"), (39, "0")], 2.0)     # 3
    s.tick(32.0)                                      # 4: Heartbeat
    s.send_app("8", [(11, "C"), (39, "2")], 33.0)    # 5
    assert out(s) == (ve(2, "8", "11=A", "39=0") + ve(3, "8", "11=B", "39=0") + ve(4, "0")
                      + ve(5, "8", "11=C", "39=2"))
    clock.t = T0 + timedelta(seconds=40, milliseconds=5)
    t2 = "20240102-09:30:40.005"
    s.data_received(cp(2, "2", "7=1", "16=0", t=t2), 40.0)
    assert out(s) == (ve(1, "4", "123=Y", "36=2", t=t2, possdup=True, orig=t2)     # the Logon
                      + ve(2, "8", "11=A", "39=0", t=t2, possdup=True, orig=T)
                      + ve(3, "8", "11=B", "39=0", t=t2, possdup=True, orig=T)
                      + ve(4, "4", "123=Y", "36=5", t=t2, possdup=True, orig=t2)   # the Heartbeat
                      + ve(5, "8", "11=C", "39=2", t=t2, possdup=True, orig=T))
    assert s.store.next_sender_seq == 6                                           # resends take no number
    s.data_received(cp(3, "2", "7=3", "16=3", t=t2), 41.0)
    assert out(s) == ve(3, "8", "11=B", "39=0", t=t2, possdup=True, orig=T)


def test_reject_is_resent_not_gap_filled():
    s = logged_on()
    s.data_received(cp(2, "1"), 1.0)                  # our 2: Reject (no TestReqID)
    assert out(s)
    s.data_received(cp(3, "2", "7=2", "16=2"), 2.0)
    assert out(s) == ve(2, "3", "45=2", "371=112", "372=1", "373=1", "58=Required tag missing: 112",
                        possdup=True, orig=T)


def test_resend_request_with_a_gap_is_served_then_answered_with_our_own():
    s = logged_on()
    s.send_app("8", [(11, "A")], 1.0)
    out(s)
    s.data_received(cp(5, "2", "7=2", "16=0"), 2.0)
    assert out(s) == ve(2, "8", "11=A", possdup=True, orig=T) + ve(3, "2", "7=2", "16=0")


def test_messages_sent_while_down_are_recovered_at_the_next_logon():
    store = MemoryStore()
    s = logged_on(store=store)
    s.disconnected(5.0)
    assert s.send_app("8", [(11, "A")], 6.0) == 2 and s.send_app("8", [(11, "B")], 6.0) == 3
    assert out(s) == b""
    s.connected(10.0)
    s.data_received(cp(2, "A", "98=0", "108=30"), 10.0)
    assert out(s) == ve(4, "A", "98=0", "108=30")        # the counterparty sees 4, expected 2
    s.data_received(cp(3, "2", "7=2", "16=0"), 10.1)
    assert out(s) == (ve(2, "8", "11=A", possdup=True, orig=T) + ve(3, "8", "11=B", possdup=True, orig=T)
                      + ve(4, "4", "123=Y", "36=5", possdup=True, orig=T))


# ---------------------------------------------------------------- rejects


@pytest.mark.parametrize("fields, reject", [
    (["35=D", "49=CLIENT", "56=VENUE", "34=2", "11=A"],
     ["45=2", "371=52", "372=D", "373=1", "58=Required tag missing: 52"]),
    (["35=D", "49=CLIENT", "56=VENUE", "34=2", f"52={T}", "11=", "55=AAA"],
     ["45=2", "371=11", "372=D", "373=4", "58=Tag specified without a value"]),
    (["35=D", "49=CLIENT", "56=VENUE", "34=2", "52=2024-01-02", "11=A"],
     ["45=2", "371=52", "372=D", "373=6", "58=Incorrect data format for value"]),
    (["35=D", "49=CLIENT", "56=VENUE", "34=2", "43=X", f"52={T}", "11=A"],
     ["45=2", "371=43", "372=D", "373=5", "58=Value is incorrect (out of range) for this tag"]),
    (["35=D", "49=CLIENT", "56=VENUE", "34=2", "43=Y", f"52={T}", "11=A"],
     ["45=2", "371=122", "372=D", "373=1", "58=Required tag missing: 122"]),
    (["35=D", "49=CLIENT", "56=VENUE", "34=2", "43=Y", f"52={T}", "122=20240102-09:31:00", "11=A"],
     ["45=2", "371=122", "372=D", "373=10", "58=OrigSendingTime later than SendingTime"]),
])
def test_session_reject_and_the_seq_is_consumed(fields, reject):
    s = logged_on()
    s.data_received(hand("8=FIX.4.2", *fields), 1.0)
    assert out(s) == ve(2, "3", *reject)
    assert s.take_app() == [] and s.store.next_target_seq == 3 and s.logged_on


def test_comp_id_problem_rejects_then_logs_out():
    s = logged_on()
    s.data_received(msg("OTHER", "VENUE", 2, "D", "11=A"), 1.0)
    assert out(s) == ve(2, "3", "45=2", "371=49", "372=D", "373=9", "58=CompID problem") + \
        ve(3, "5", "58=CompID problem")
    assert s.take_events()[-1] == SessionEvent(DISCONNECT, "CompID problem")


def test_sending_time_accuracy_rejects_then_logs_out():
    s = logged_on()
    s.data_received(cp(2, "D", "11=A", t="20240102-09:33:00.001"), 1.0)
    assert out(s) == ve(2, "3", "45=2", "371=52", "372=D", "373=10", "58=SendingTime accuracy problem") + \
        ve(3, "5", "58=SendingTime accuracy problem")
    assert s.take_events()[-1].kind == DISCONNECT


def test_application_asks_for_a_session_reject():
    s = logged_on()
    s.data_received(cp(2, "D", "55=AAA"), 1.0)
    [m] = s.take_app()
    s.reject(m, 1, 11, "Required tag missing: 11", 1.0)
    assert out(s) == ve(2, "3", "45=2", "371=11", "372=D", "373=1", "58=Required tag missing: 11")


def test_reject_received_is_an_event():
    s = logged_on()
    s.data_received(cp(2, "3", "45=1", "58=bad"), 1.0)
    assert s.take_events() == [SessionEvent(REJECT_RECEIVED, "bad")] and s.store.next_target_seq == 3


def test_garbled_message_consumes_no_seq():
    s = logged_on()
    good = cp(2, "D", "11=A")
    s.data_received(good[:-4] + b"999\x01" + good, 1.0)
    assert [m.get(11) for m in s.take_app()] == [b"A"] and out(s) == b""
    assert s.framer.garbled_count == 1


# ---------------------------------------------------------------- logout


def test_counterparty_logout_is_answered():
    s = logged_on()
    s.data_received(cp(2, "5", "58=bye"), 1.0)
    assert out(s) == ve(2, "5")
    assert s.take_events() == [SessionEvent(LOGGED_OUT, "bye"),
                               SessionEvent(DISCONNECT, "counterparty logged out: bye")]


def test_our_logout_answered_and_unanswered():
    s = logged_on()
    s.logout("end of day", 1.0)
    assert out(s) == ve(2, "5", "58=end of day")
    s.data_received(cp(2, "D", "11=late"), 1.5)        # still processed while the Logout is out
    assert len(s.take_app()) == 1
    s.data_received(cp(3, "5"), 2.0)
    assert out(s) == b""
    assert s.take_events() == [SessionEvent(LOGGED_OUT, ""), SessionEvent(DISCONNECT, "logout complete")]
    s = logged_on(logout_timeout_s=5)
    s.logout(None, 1.0)
    assert out(s) == ve(2, "5")
    s.tick(5.9)
    assert s.take_events() == []
    s.tick(6.0)
    assert s.take_events() == [SessionEvent(DISCONNECT, "Logout not answered")]


# ---------------------------------------------------------------- initiator


def test_initiator_logon_with_reset_and_credentials():
    store = MemoryStore()
    store.set_next_sender_seq(40)
    cfg = SessionConfig("CLIENT", "VENUE", role=INITIATOR, heartbeat_s=5, username="u", password="p",
                        reset_on_logon=True)
    s = FixSession(cfg, store, clock=lambda: T0)
    s.connected(0.0)
    assert out(s) == cp(1, "A", "98=0", "108=5", "141=Y", "553=u", "554=p")
    s.data_received(ve(1, "A", "98=0", "108=5", "141=Y"), 0.1)
    assert s.take_events() == [SessionEvent(LOGGED_ON)] and s.store.next_target_seq == 2


def test_initiator_sees_a_gap_in_the_logon_answer():
    cfg = SessionConfig("CLIENT", "VENUE", role=INITIATOR, heartbeat_s=5)
    s = FixSession(cfg, MemoryStore(), clock=lambda: T0)
    s.connected(0.0)
    assert out(s) == cp(1, "A", "98=0", "108=5")
    s.data_received(ve(3, "A", "98=0", "108=5"), 0.1)
    assert out(s) == cp(2, "2", "7=1", "16=0")
    s.data_received(ve(1, "8", "11=A", possdup=True, orig=T) + ve(2, "8", "11=B", possdup=True, orig=T)
                    + ve(3, "4", "123=Y", "36=4", possdup=True), 0.2)
    assert [m.get(11) for m in s.take_app()] == [b"A", b"B"] and s.store.next_target_seq == 4


def test_initiator_logon_refused():
    cfg = SessionConfig("CLIENT", "VENUE", role=INITIATOR)
    s = FixSession(cfg, MemoryStore(), clock=lambda: T0)
    s.connected(0.0)
    out(s)
    s.data_received(ve(1, "5", "58=Invalid username or password"), 0.1)
    assert s.take_events() == [SessionEvent(LOGGED_OUT, "Invalid username or password"),
                               SessionEvent(DISCONNECT, "Logon refused: Invalid username or password")]


# ---------------------------------------------------------------- stores


@pytest.mark.parametrize("kind", ["memory", "lmdb"])
def test_store_interface(kind, tmp_path):
    st = MemoryStore() if kind == "memory" else LmdbStore(tmp_path / "s")
    assert (st.next_sender_seq, st.next_target_seq) == (1, 1)
    for i in range(1, 6):
        st.store_sent(i, b"m%d" % i)
    st.set_next_target_seq(9)
    assert st.next_sender_seq == 6 and st.next_target_seq == 9
    assert st.get_sent(2, 4) == [(2, b"m2"), (3, b"m3"), (4, b"m4")]
    assert st.get_sent(4, 0) == [(4, b"m4"), (5, b"m5")] and st.get_sent(7, 0) == []
    with pytest.raises(ValueError):
        st.set_next_sender_seq(0)
    st.reset()
    assert (st.next_sender_seq, st.next_target_seq, st.get_sent(1, 0)) == (1, 1, [])
    st.close()


@pytest.mark.parametrize("kind", ["memory", "lmdb"])
def test_store_keeps_batches_and_serves_any_range_across_them(kind, tmp_path):
    st = MemoryStore() if kind == "memory" else LmdbStore(tmp_path / "s")
    st.store_sent(1, b"a")
    st.store_sent_many(2, b"bbcccd", [2, 5, 6])      # 2: bb, 3: ccc, 4: d
    st.store_sent_many(5, b"ee", [1, 2])             # 5: e, 6: e
    assert st.next_sender_seq == 7
    assert st.get_sent(1, 0) == [(1, b"a"), (2, b"bb"), (3, b"ccc"), (4, b"d"), (5, b"e"), (6, b"e")]
    assert st.get_sent(3, 5) == [(3, b"ccc"), (4, b"d"), (5, b"e")]
    assert st.get_sent(4, 4) == [(4, b"d")] and st.get_sent(6, 9) == [(6, b"e")] and st.get_sent(7, 0) == []
    st.close()


def test_lmdb_store_survives_a_restart_and_serves_resends(tmp_path):
    d = tmp_path / "CLIENT-VENUE"
    s = logged_on(store=LmdbStore(d))
    s.send_app("8", [(11, "A")], 1.0)
    s.data_received(cp(2, "0"), 1.0)
    s.store.close()
    # a new process: same directory, same session
    s2 = acceptor(store=LmdbStore(d))
    assert (s2.store.next_sender_seq, s2.store.next_target_seq) == (3, 3)
    s2.data_received(cp(3, "A", "98=0", "108=30"), 0.0)
    assert out(s2) == ve(3, "A", "98=0", "108=30")
    s2.data_received(cp(4, "2", "7=1", "16=0"), 0.1)
    assert out(s2) == (ve(1, "4", "123=Y", "36=2", possdup=True, orig=T) + ve(2, "8", "11=A", possdup=True, orig=T)
                       + ve(3, "4", "123=Y", "36=4", possdup=True, orig=T))
    s2.store.close()


# ---------------------------------------------------------------- robustness

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_vals = st.sampled_from(["1", "0", "-3", "Y", "N", "x", T, "20240102-09:31:00", "CLIENT", "VENUE", "99999999999"])
_field = st.tuples(st.sampled_from([7, 16, 34, 36, 43, 49, 52, 56, 58, 98, 108, 112, 122, 123, 141, 553, 554]),
                   _vals)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["0", "1", "2", "3", "4", "5", "A", "D", "8"]), st.integers(1, 8),
                          st.booleans(), st.lists(_field, max_size=6)), max_size=15))
def test_session_never_raises_on_wild_counterparty_messages(script):
    """Logged-on sessions (both roles) fed valid-looking headers with random fields:
    whatever they answer, they never raise."""
    from gateways.fix.codec import encode

    for role in (ACCEPTOR, INITIATOR):
        me, them = ("VENUE", "CLIENT")
        s = FixSession(SessionConfig(me, them, role=role), MemoryStore(), clock=lambda: T0)
        s.connected(0.0)
        s.data_received(msg(them, me, 1, "A", "98=0", "108=30"), 0.0)
        assert s.logged_on
        for i, (mt, seq, header, fields) in enumerate(script):
            hdr = [(49, them), (56, me), (34, seq), (52, T)] if header else []
            s.data_received(encode("FIX.4.2", mt, hdr + fields), float(i))
            s.tick(float(i) * 20)
            s.take_outgoing(), s.take_app(), s.take_events()
