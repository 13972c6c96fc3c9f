"""The binary session state machine: exact response bytes for login, rejects, replays,
heartbeats and logouts; commands out of order messages; responses from real core
events; the response stores (memory and LMDB, across a reconnect); and fuzzing of the
whole receive path in random chunkings."""

import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateways.binary import protocol as P
from tests.gateways.binary_testkit import ORDER, reference_code
from gateways.binary.session import DISCONNECT, LOGGED_IN, LOGGED_OUT, BinaryConfig, BinarySession, SessionEvent
from gateways.binary.store import LmdbStore, MemoryStore
from sequencer import records as R

RESP = struct.Struct("<BBHIQQQqIIIBBBxq")
KEY = "s3cret-key"


def resp(msg_type, seq=0, reason=0, ref=0, clid=0) -> bytes:
    """A session response packed by hand."""
    return RESP.pack(msg_type, 0, reason, seq, clid, 0, 0, 0, 0, 0, 0, 0, ref, 0, 0)


def session(store=None, now=0.0, **kw) -> BinarySession:
    cfg = BinaryConfig(api_key=KEY, client_id=42, account="ACCT-42", source_id=3, **kw)
    s = BinarySession(cfg, store)
    s.connected(now)
    return s


def logged_in(store=None, **kw) -> BinarySession:
    s = session(store, **kw)
    s.on_bytes(P.login(KEY), 0.0)
    s.take_outgoing(), s.take_events()
    return s


def responses(s) -> np.ndarray:
    out = s.take_outgoing()
    assert len(out) % P.RESPONSE_SIZE == 0
    return P.decode_responses(out)


def exec_report(exec_type, cl, orig="", status=R.STATUS_NEW, last_qty=0, leaves=100, cum=0):
    raw = R.new_events(1)
    e = raw.view(R.ExecReport)
    e["type"], e["version"], e["ts"], e["order_id"], e["client_id"] = R.EXEC_REPORT, 2, 1000, 9, 42
    e["side"], e["exec_type"], e["ord_status"], e["price"], e["qty"] = R.SIDE_BUY, exec_type, status, 5, 100
    e["last_px"], e["last_qty"], e["leaves_qty"], e["cum_qty"] = (5 if last_qty else 0), last_qty, leaves, cum
    e["cl_ord_id"][0] = R.ascii_field(cl, R.CLORD_LEN)
    e["orig_cl_ord_id"][0] = R.ascii_field(orig, R.CLORD_LEN)
    return raw


def day_events():
    """Ack, two fills and a pending report (not sent) for order 1."""
    return np.concatenate([
        exec_report(R.EXEC_PENDING_NEW, "1", status=R.STATUS_PENDING_NEW),
        exec_report(R.EXEC_NEW, "1"),
        exec_report(R.EXEC_TRADE, "1", status=R.STATUS_PARTIAL, last_qty=30, leaves=70, cum=30),
        exec_report(R.EXEC_TRADE, "1", status=R.STATUS_FILLED, last_qty=70, leaves=0, cum=100),
    ])


# ------------------------------------------------------------------ config
@pytest.mark.parametrize("kw", [dict(api_key=""), dict(api_key="x" * 25), dict(api_key="has space"),
                                dict(client_id=0), dict(client_id=2**32), dict(account="A" * 17)])
def test_config_refuses_what_cannot_work(kw):
    args = dict(api_key=KEY, client_id=1, account="A") | kw
    with pytest.raises(ValueError):
        BinaryConfig(**args)


# ------------------------------------------------------------------ login
def test_login_accepted():
    s = session()
    assert s.state == "login_wait"
    s.on_bytes(P.login(KEY), 1.0)
    assert s.take_outgoing() == resp(P.LOGIN_ACCEPTED, seq=1)
    assert s.take_events() == [SessionEvent(LOGGED_IN)]
    assert s.logged_in and s.state == "active"


@pytest.mark.parametrize("raw, reason", [
    (P.login("wrong-key"), P.PR_BAD_API_KEY),
    (P.login(KEY[:-1]), P.PR_BAD_API_KEY),
    (P.login(KEY + "x"), P.PR_BAD_API_KEY),
    (P.login(KEY, version=2), P.PR_BAD_VERSION),
    (P.login(KEY, flags=1), P.PR_BAD_FIELD),
])
def test_login_rejected_then_disconnect(raw, reason):
    s = session()
    s.on_bytes(raw + P.new_order(1, 1, 1, 1, 1), 1.0)
    assert s.take_outgoing() == resp(P.LOGIN_REJECTED, seq=1, reason=reason)
    assert s.take_events() == [SessionEvent(DISCONNECT, f"login rejected: {P.reason_text(reason)}")]
    assert not s.logged_in and len(s.take_commands()) == 0
    s.on_bytes(P.login(KEY), 2.0)       # nothing is read after the decision to close
    assert s.take_outgoing() == b"" and s.state == "closing"


def test_messages_before_login_are_rejected_then_disconnect():
    s = session()
    s.on_bytes(P.new_order(7, 1, 1, 1, 1) + P.heartbeat() + P.replay_request(1), 1.0)
    assert s.take_outgoing() == (resp(P.SESSION_REJECT, 1, P.PR_NOT_LOGGED_IN, ref=1, clid=7)
                                 + resp(P.SESSION_REJECT, 1, P.PR_NOT_LOGGED_IN, ref=P.HEARTBEAT)
                                 + resp(P.SESSION_REJECT, 1, P.PR_NOT_LOGGED_IN, ref=P.REPLAY_REQUEST))
    assert s.take_events() == []
    s.on_bytes(P.cancel(8, 7) + P.login(KEY), 1.5)     # the fourth bad message is one too many
    assert s.take_outgoing() == (resp(P.SESSION_REJECT, 1, P.PR_NOT_LOGGED_IN, ref=2, clid=8)
                                 + resp(P.SERVER_LOGOUT, 1, P.PR_TOO_MANY_BAD))
    assert s.take_events() == [SessionEvent(LOGGED_OUT, "too many invalid messages"),
                               SessionEvent(DISCONNECT, "logout: too many invalid messages")]
    assert len(s.take_commands()) == 0


def test_login_and_orders_in_one_read():
    s = session()
    s.on_bytes(P.new_order(1, 1, 1, 1, 1) + P.login(KEY) + P.new_order(2, 1, 1, 1, 1), 1.0)
    assert s.take_outgoing() == (resp(P.SESSION_REJECT, 1, P.PR_NOT_LOGGED_IN, ref=1, clid=1)
                                 + resp(P.LOGIN_ACCEPTED, 1))
    cmds = s.take_commands()
    assert P.parse_ids(cmds.view(R.NewOrder)["cl_ord_id"]).tolist() == [2]


def test_second_login_is_a_bad_message():
    s = logged_in()
    s.on_bytes(P.login(KEY), 1.0)
    assert s.take_outgoing() == resp(P.SESSION_REJECT, 1, P.PR_ALREADY_LOGGED_IN, ref=P.LOGIN)
    assert s.logged_in


def test_no_login_in_time():
    s = session(now=10.0, login_timeout_s=5.0)
    s.tick(14.9)
    assert s.take_events() == []
    s.tick(15.0)
    assert s.take_events() == [SessionEvent(DISCONNECT, "no Login within 5.0s")]


# ------------------------------------------------------------------ orders
def test_orders_split_across_reads_become_commands_of_the_session_client():
    s = logged_in()
    data = P.new_order(100, R.SIDE_BUY, 5, 10, 2_50000000) + P.replace(101, 100, 20, 2_60000000) + P.cancel(102, 101)
    s.on_bytes(data[:50], 1.0)
    assert R.header(s.take_commands())["type"].tolist() == [R.NEW_ORDER]
    s.on_bytes(data[50:], 1.1)
    assert s.take_outgoing() == b""
    cmds = s.take_commands()
    types = R.header(cmds)["type"]
    assert types.tolist() == [R.REPLACE, R.CANCEL]
    for t in (R.REPLACE, R.CANCEL):
        v = cmds[types == t].view(R.COMMAND_DTYPES[t])
        assert v["client_id"].tolist() == [42]    # the core refuses another client's order
        assert R.ascii_text(v["orig_cl_ord_id"][0]) == ("100" if t == R.REPLACE else "101")
    assert len(s.take_commands()) == 0


def test_new_order_command_fields():
    s = logged_in()
    s.on_bytes(P.new_order(2**64 - 1, R.SIDE_SELL_SHORT, 65535, 2**32 - 1, 1), 1.0)
    n = s.take_commands().view(R.NewOrder)[0]
    assert (n["client_id"], n["symbol_id"], n["qty"], n["side"], n["price"]) == (42, 65535, 2**32 - 1, 5, 1)
    assert R.ascii_text(n["account"]) == "ACCT-42" and R.ascii_text(n["cl_ord_id"]) == "18446744073709551615"
    assert n["source_id"] == 0 and n["source_seq"] == 0   # the gateway stamps them


def test_bad_orders_are_rejected_and_good_ones_pass_in_order():
    s = logged_in()
    s.on_bytes(P.new_order(1, 1, 1, 1, 1) + P.new_order(2, 9, 1, 1, 1) + bytes(32) + P.new_order(4, 2, 1, 1, 1),
               1.0)
    assert s.take_outgoing() == (resp(P.SESSION_REJECT, 1, P.PR_BAD_SIDE, ref=1, clid=2)
                                 + resp(P.SESSION_REJECT, 1, P.PR_UNKNOWN_TYPE, ref=0))
    cmds = s.take_commands()
    assert P.parse_ids(cmds.view(R.NewOrder)["cl_ord_id"]).tolist() == [1, 4]
    assert s.bad_messages == 2 and s.logged_in


def test_too_many_bad_messages_disconnects_and_drops_the_rest():
    s = logged_in()
    bad = bytes([99]) + bytes(31)
    s.on_bytes(bad * 3, 1.0)
    assert s.take_events() == []
    s.on_bytes(P.new_order(1, 1, 1, 1, 1) + bad + P.new_order(2, 1, 1, 1, 1), 2.0)
    out = responses(s)
    assert out["msg_type"].tolist() == [P.SESSION_REJECT] * 4 + [P.SERVER_LOGOUT]
    assert out["reason"][-1] == P.PR_TOO_MANY_BAD
    assert [e.kind for e in s.take_events()] == [LOGGED_OUT, DISCONNECT]
    assert P.parse_ids(s.take_commands().view(R.NewOrder)["cl_ord_id"]).tolist() == [1]


def test_bad_messages_outside_the_window_are_forgiven():
    s = logged_in(max_bad_messages=2, bad_window_s=10.0)
    bad = bytes([99]) + bytes(31)
    for t in (0.0, 6.0, 12.0, 18.0):       # never more than two within 10 s
        s.on_bytes(bad, t)
    assert s.take_events() == [] and s.bad_messages == 4
    s.on_bytes(bad + bad, 19.0)            # 12, 18, 19, 19: too many
    assert [e.kind for e in s.take_events()] == [LOGGED_OUT, DISCONNECT]


# ------------------------------------------------------------------ end of stream
def test_eof_inside_a_message_is_a_truncated_frame():
    s = logged_in()
    s.on_bytes(P.new_order(5, 1, 1, 1, 1)[:20], 1.0)
    assert len(s.take_commands()) == 0
    s.eof(1.5)
    assert s.take_outgoing() == resp(P.SESSION_REJECT, 1, P.PR_TRUNCATED, ref=1)
    assert s.take_events() == [SessionEvent(DISCONNECT, "end of stream inside a message")]


def test_eof_between_messages():
    s = logged_in()
    s.on_bytes(P.new_order(5, 1, 1, 1, 1), 1.0)
    s.eof(1.5)
    assert s.take_outgoing() == b""
    assert s.take_events() == [SessionEvent(DISCONNECT, "end of stream")]
    assert len(s.take_commands()) == 1


# ------------------------------------------------------------------ timers and logout
def test_heartbeat_when_quiet_and_logout_when_silent():
    s = logged_in(heartbeat_s=1.0, idle_timeout_s=5.0)
    s.tick(0.9)
    assert s.take_outgoing() == b""
    s.tick(1.0)
    assert s.take_outgoing() == resp(P.SERVER_HEARTBEAT, 1)
    s.tick(1.5)
    assert s.take_outgoing() == b""
    s.on_bytes(P.heartbeat(), 3.0)          # a client heartbeat keeps it alive, unanswered
    assert s.take_outgoing() == b""
    s.tick(7.9)
    assert s.take_events() == []
    s.take_outgoing()
    s.tick(8.0)
    assert s.take_outgoing() == resp(P.SERVER_LOGOUT, 1, P.PR_IDLE)
    assert [e.kind for e in s.take_events()] == [LOGGED_OUT, DISCONNECT]


def test_responses_postpone_the_heartbeat():
    s = logged_in(heartbeat_s=1.0)
    s.on_events(day_events(), now=0.8)
    s.take_outgoing()
    s.tick(1.5)
    assert s.take_outgoing() == b""
    s.tick(1.8)
    assert s.take_outgoing() == resp(P.SERVER_HEARTBEAT, 4)


def test_client_logout():
    s = logged_in()
    s.on_bytes(P.logout() + P.new_order(1, 1, 1, 1, 1), 1.0)
    assert s.take_outgoing() == resp(P.SERVER_LOGOUT, 1)
    assert s.take_events() == [SessionEvent(LOGGED_OUT, "client logged out"),
                               SessionEvent(DISCONNECT, "client logged out")]
    assert len(s.take_commands()) == 0


def test_gateway_logout():
    s = logged_in()
    s.logout(now=1.0)
    assert s.take_outgoing() == resp(P.SERVER_LOGOUT, 1, P.PR_SHUTDOWN)
    assert [e.kind for e in s.take_events()] == [LOGGED_OUT, DISCONNECT]


# ------------------------------------------------------------------ responses
def test_events_become_numbered_responses():
    s = logged_in()
    s.on_events(day_events(), now=1.0)
    out = responses(s)
    assert out["msg_type"].tolist() == [P.ACK, P.FILL, P.FILL]
    assert out["response_seq"].tolist() == [1, 2, 3]
    assert out["qty"].tolist() == [100, 30, 70] and out["leaves_qty"].tolist() == [100, 70, 0]
    assert not out["flags"].any()
    assert s.store.next_seq == 4
    s.on_events(R.new_events(0))
    s.on_events(exec_report(R.EXEC_PENDING_CANCEL, "2", "1"))
    assert s.take_outgoing() == b"" and s.store.next_seq == 4
    s.on_bytes(P.heartbeat() + bytes([99]) + bytes(31), 2.0)
    assert s.take_outgoing() == resp(P.SESSION_REJECT, 4, P.PR_UNKNOWN_TYPE, ref=99)


def test_responses_while_not_logged_in_are_stored_only():
    s = BinarySession(BinaryConfig(api_key=KEY, client_id=42, account="A"))
    s.on_events(day_events())
    s.connected(0.0)
    s.on_events(exec_report(R.EXEC_CANCELED, "2", "1", status=R.STATUS_CANCELED, leaves=0))
    assert s.take_outgoing() == b"" and s.store.next_seq == 5
    s.on_bytes(P.login(KEY, next_response_seq=0), 1.0)    # 0: only new ones
    assert s.take_outgoing() == resp(P.LOGIN_ACCEPTED, 5)


def test_replay_at_login_after_reconnect_with_a_new_session_on_the_same_lmdb_store(tmp_path):
    store = LmdbStore(tmp_path / "sess")
    s = logged_in(store)
    s.on_events(day_events(), now=1.0)
    sent = s.take_outgoing()
    assert P.decode_responses(sent)["response_seq"].tolist() == [1, 2, 3]
    s.disconnected(2.0)
    s.on_events(exec_report(R.EXEC_NEW, "2"), now=3.0)      # the client is away: stored only
    assert s.take_outgoing() == b""
    store.close()

    store = LmdbStore(tmp_path / "sess")                   # the gateway restarted
    s2 = session(store, now=10.0)
    s2.on_bytes(P.login(KEY, next_response_seq=2), 10.0)
    out = s2.take_outgoing()
    assert out[:64] == resp(P.LOGIN_ACCEPTED, 5)
    replayed = P.decode_responses(out[64:-64])
    assert replayed["response_seq"].tolist() == [2, 3, 4]
    assert (replayed["flags"] == P.FLAG_REPLAYED).all()
    again = bytearray(out[64:-64])
    for i in range(3):
        again[i * 64 + 54] = 0                               # without the flag: the same bytes as first sent
    assert bytes(again[:128]) == sent[64:]
    assert replayed["client_order_id"].tolist() == [1, 1, 2]
    assert out[-64:] == resp(P.REPLAY_COMPLETE, 5)
    s2.on_events(exec_report(R.EXEC_NEW, "3"), now=11.0)
    assert responses(s2)["response_seq"].tolist() == [5]
    store.close()


def test_login_asking_beyond_the_last_response_replays_nothing():
    s = session()
    s.on_events(day_events())
    s.on_bytes(P.login(KEY, next_response_seq=50), 1.0)
    assert s.take_outgoing() == resp(P.LOGIN_ACCEPTED, 4) + resp(P.REPLAY_COMPLETE, 4)


def test_replay_request():
    s = logged_in()
    s.on_events(day_events(), now=1.0)
    s.take_outgoing()
    s.on_bytes(P.replay_request(2, 1), 2.0)
    out = responses(s)
    assert out["response_seq"].tolist() == [2, 4] and out["msg_type"].tolist() == [P.FILL, P.REPLAY_COMPLETE]
    s.on_bytes(P.replay_request(1), 2.0)
    assert responses(s)["response_seq"].tolist() == [1, 2, 3, 4]
    s.on_bytes(P.replay_request(4), 2.0)                     # nothing missed: only the end marker
    assert s.take_outgoing() == resp(P.REPLAY_COMPLETE, 4)
    s.on_bytes(P.replay_request(0) + P.replay_request(5), 2.0)
    assert s.take_outgoing() == (resp(P.SESSION_REJECT, 4, P.PR_BAD_FIELD, ref=P.REPLAY_REQUEST) * 2)


# ------------------------------------------------------------------ stores
@pytest.fixture(params=["memory", "lmdb"])
def store(request, tmp_path):
    s = MemoryStore() if request.param == "memory" else LmdbStore(tmp_path / "store", sync=False)
    yield s
    s.close()


def numbered(first, n):
    r = np.zeros(n, P.RESPONSE)
    r["msg_type"], r["response_seq"] = P.ACK, np.arange(first, first + n)
    return r.tobytes()


def test_store_ranges_across_batches(store):
    assert store.next_seq == 1 and store.get(1, 10) == b""
    store.append(1, numbered(1, 3))
    store.append(4, numbered(4, 1))
    store.append(5, numbered(5, 4))
    assert store.next_seq == 9
    for begin in range(0, 11):
        for end in range(begin, 12):
            got = P.decode_responses(store.get(begin, end))["response_seq"].tolist()
            assert got == list(range(max(begin, 1), min(end, 9))), (begin, end)


def test_store_refuses_gaps_and_partial_responses(store):
    store.append(1, numbered(1, 2))
    with pytest.raises(ValueError):
        store.append(4, numbered(4, 1))
    with pytest.raises(ValueError):
        store.append(3, b"x" * 10)
    store.append(3, b"")
    assert store.next_seq == 3


def test_store_reset(store):
    store.append(1, numbered(1, 5))
    store.reset()
    assert store.next_seq == 1 and store.get(1, 100) == b""
    store.append(1, numbered(1, 1))
    assert len(store.get(1, 100)) == 64


def test_lmdb_store_survives_reopening(tmp_path):
    s = LmdbStore(tmp_path / "x")
    s.append(1, numbered(1, 3))
    s.close()
    s = LmdbStore(tmp_path / "x")
    assert s.next_seq == 4 and P.decode_responses(s.get(2, 4))["response_seq"].tolist() == [2, 3]
    s.close()


# ------------------------------------------------------------------ fuzz
# order-like messages (session types excluded: they change the session's state)
order_like = st.one_of(
    st.binary(min_size=32, max_size=32).filter(lambda b: b[0] not in P.SESSION_TYPES),
    st.builds(ORDER.pack, st.sampled_from([1, 2, 3, 7]), st.sampled_from([0, 1, 2, 5, 6]),
              st.integers(0, 3), st.integers(0, 3), st.integers(-2, 2 * R.PRICE_SCALE),
              st.integers(0, 2**64 - 1), st.integers(0, 3)))


def chunks(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({min(c, len(data)) for c in cuts})
    return [data[a:b] for a, b in zip([0] + points, points + [len(data)])]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(order_like, max_size=25), st.binary(max_size=31), st.lists(st.integers(0, 900), max_size=10))
def test_fuzz_every_bad_message_is_answered_and_good_ones_become_commands(msgs, tail, cuts):
    s = logged_in(max_bad_messages=10**6)
    for part in chunks(b"".join(msgs) + tail, cuts):
        s.on_bytes(part, 1.0)
    s.eof(2.0)
    expected = [(reference_code(m), m) for m in msgs]
    out = responses(s)
    rejects = [(int(r["reason"]), int(r["ref_msg_type"])) for r in out]
    want = [(c, m[0]) for c, m in expected if c] + ([(P.PR_TRUNCATED, tail[0])] if tail else [])
    assert rejects == want
    assert (out["msg_type"] == P.SESSION_REJECT).all()
    good = [m for c, m in expected if c == 0]
    cmds = s.take_commands()
    assert len(cmds) == len(good) and R.check_commands(cmds).all()
    types = R.header(cmds)["type"]
    assert types.tolist() == [m[0] for m in good]
    for t in P.ORDER_TYPES:
        v = cmds[types == t].view(R.COMMAND_DTYPES[t])
        assert P.parse_ids(v["cl_ord_id"]).tolist() == [ORDER.unpack(m)[5] for m in good if m[0] == t]
        assert (v["client_id"] == 42).all()
    assert s.take_events()[-1].kind == DISCONNECT


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=600), st.lists(st.integers(0, 600), max_size=10), st.booleans())
def test_fuzz_random_streams_never_raise(data, cuts, login_first):
    s = session()
    if login_first:
        s.on_bytes(P.login(KEY), 0.0)
    t = 0.0
    for part in chunks(data, cuts):
        t += 0.1
        s.on_bytes(part, t)
        s.tick(t)
    s.eof(t)
    out = responses(s)
    assert set(out["msg_type"].tolist()) <= {P.LOGIN_ACCEPTED, P.LOGIN_REJECTED, P.SESSION_REJECT, P.SERVER_LOGOUT,
                                             P.SERVER_HEARTBEAT, P.REPLAY_COMPLETE}
    assert (out["msg_type"] == P.SESSION_REJECT).sum() <= s.config.max_bad_messages + 1
    assert R.check_commands(s.take_commands()).all()
    assert s.take_events()[-1].kind == DISCONNECT


# ------------------------------------------------------------------ through the real core
class Core:
    """The business logic with clients 42 and 43 and symbol 1 (venue 1); stamps seq/ts
    as the sequencer would and hands each client its own events, as the gateway does."""

    def __init__(self):
        from sequencer.logic import BusinessLogic
        from sequencer.state import Capacity, State
        self.bl = BusinessLogic(State.create(Capacity(orders=64, clients=64, symbols=8)), 0)
        self.seq = 0
        px = R.PRICE_SCALE
        setup = [self.admin(R.ADMIN_ADD_CLIENT, cid, 1000, 10**6 * px, 10**7 * px, f"ACCT-{cid}") for cid in (42, 43)]
        setup.append(self.admin(R.ADMIN_ADD_SYMBOL, 1, 50 * px, 1, 0, "AAA"))
        assert len(self.run(np.concatenate(setup))) == 0

    @staticmethod
    def admin(action, target, v0, v1, v2, name):
        raw = R.admin_command(action, target, v0, v1, v2)
        raw.view(R.Admin)["name"][0] = R.ascii_field(name, R.ACCOUNT_LEN)
        return raw

    @staticmethod
    def venue(dtype, type_code, **fields):
        raw = R.new_commands(1)
        v = raw.view(dtype)
        v["type"], v["version"], v["venue_id"] = type_code, 2, 1
        for k, x in fields.items():
            v[k] = x
        return raw

    def run(self, cmds):
        hdr = R.header(cmds)
        hdr["seq"] = np.arange(self.seq + 1, self.seq + 1 + len(cmds))
        hdr["ts"] = hdr["seq"] * 1000
        self.seq += len(cmds)
        return self.bl.apply(cmds)

    def deliver(self, cmds, *sessions):
        events = self.run(cmds)
        etype = R.header(events)["type"]
        for s in sessions:
            mine = ((etype == R.EXEC_REPORT) & (events.view(R.ExecReport)["client_id"] == s.config.client_id)) | (
                (etype == R.CANCEL_REJECT) & (events.view(R.CancelReject)["client_id"] == s.config.client_id))
            s.on_events(events[mine], now=1.0)


def test_an_order_life_through_the_core():
    core, px = Core(), R.PRICE_SCALE
    me = logged_in()
    other = BinarySession(BinaryConfig(api_key="other-key", client_id=43, account="ACCT-43"))
    other.connected(0.0)
    other.on_bytes(P.login("other-key"), 0.0)
    other.take_outgoing()

    def send(s, data):
        s.on_bytes(data, 1.0)
        core.deliver(s.take_commands(), me, other)

    send(me, P.new_order(1001, R.SIDE_BUY, 1, 100, 50 * px))      # PENDING_NEW: nothing yet
    assert me.take_outgoing() == b""
    core.deliver(Core.venue(R.VenueAck, R.VENUE_ACK, order_id=1, ack_of=R.VENUE_ACTION_NEW), me, other)
    core.deliver(Core.venue(R.VenueFill, R.VENUE_FILL, order_id=1, qty=30, price=50 * px), me, other)
    send(me, P.replace(1002, 1001, 200, 51 * px))
    core.deliver(Core.venue(R.VenueAck, R.VENUE_ACK, order_id=1, ack_of=R.VENUE_ACTION_REPLACE, qty=200,
                            price=51 * px), me, other)
    send(other, P.cancel(2001, 1002))                                 # not its order
    send(me, P.cancel(1003, 1002))
    core.deliver(Core.venue(R.VenueCancelled, R.VENUE_CANCELLED, order_id=1, qty=170), me, other)
    send(me, P.new_order(1004, R.SIDE_BUY, 1, 5000, 50 * px))       # above the client's max qty

    out = responses(me)
    got = [(int(r["response_seq"]), int(r["msg_type"]), int(r["client_order_id"]), int(r["orig_client_order_id"]),
            int(r["qty"]), int(r["leaves_qty"]), int(r["cum_qty"]), int(r["reason"])) for r in out]
    assert got == [
        (1, P.ACK, 1001, 0, 100, 100, 0, 0),
        (2, P.FILL, 1001, 0, 30, 70, 30, 0),
        (3, P.REPLACED, 1002, 1001, 200, 170, 30, 0),
        (4, P.CANCELLED, 1003, 1002, 200, 0, 30, 0),
        (5, P.REJECT, 1004, 0, 5000, 0, 0, R.REASON_MAX_QTY),
    ]
    assert out["order_id"].tolist() == [1, 1, 1, 1, 0]
    assert out["price"].tolist()[:3] == [50 * px, 50 * px, 51 * px]
    rej = responses(other)
    assert len(rej) == 1
    assert (rej["msg_type"][0], rej["reason"][0], rej["client_order_id"][0], rej["orig_client_order_id"][0],
            rej["order_id"][0], rej["ref_msg_type"][0]) == (P.CANCEL_REJECT, R.REASON_UNKNOWN_ORDER, 2001, 1002, 0,
                                                           P.CANCEL)
