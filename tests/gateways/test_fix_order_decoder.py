"""The batch path in (order_decoder) against the Python path it stands in for: a message it
calls fast is one the session accepts without a word and ``orders.py`` turns into the same
command bytes; everything else it leaves to the Python path."""

from datetime import datetime, timedelta, timezone

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from gateways.fix import orders as O
from gateways.fix.codec import checksum, parse
from gateways.fix.order_decoder import NEED_MORE, NOT_FRAMED, OrderDecoder
from gateways.fix.session import ACCEPTOR, FixSession, SessionConfig
from gateways.fix.store import MemoryStore

T0 = datetime(2026, 11, 24, 10, 0, 0, tzinfo=timezone.utc)
NOW = "20261124-10:00:00.000"
OURS, THEIRS, ACCOUNT, CLIENT = "TANDEM", "CLIENT1", "ACC1", 7


def raw(begin: str, msg_type: str, fields) -> bytes:
    """A message as a counterparty might send it, empty values and all (codec.encode refuses those)."""
    body = b"35=" + msg_type.encode() + b"\x01" + b"".join(b"%d=%s\x01" % (t, v.encode()) for t, v in fields)
    head = b"8=" + begin.encode() + b"\x019=%d\x01" % len(body)
    return head + body + b"10=%03d\x01" % (sum(head + body) % 256)


def header(seq: int, sent: str = NOW, sender: str = THEIRS, target: str = OURS) -> list:
    return [(49, sender), (56, target), (34, str(seq)), (52, sent)]


def order(seq: int, cl: str = "1", **extra) -> list:
    f = {11: cl, 1: ACCOUNT, 55: "AAA", 54: "1", 60: NOW, 38: "100", 40: "2", 44: "10.5", 59: "0", 21: "1"}
    f.update({int(k[1:]): v for k, v in extra.items()})
    return header(seq) + [(t, v) for t, v in f.items() if v is not None]


def decoder(begin: str = "FIX.4.4", skew: float | None = 120.0) -> OrderDecoder:
    return OrderDecoder(begin, THEIRS, OURS, CLIENT, ACCOUNT, skew)


def now_us() -> int:
    return int(T0.timestamp() * 1_000_000)


def python_path(begin: str, message: bytes, seq: int):
    """What the session and orders.py make of one message arriving with MsgSeqNum ``seq``
    expected: (delivered to the application?, anything written back?, command or None)."""
    s = FixSession(SessionConfig(OURS, THEIRS, role=ACCEPTOR, begin_string=begin), MemoryStore(), clock=lambda: T0)
    s.connected(0.0)
    s.data_received(raw(begin, "A", header(1) + [(98, "0"), (108, "30")]), 0.0)
    assert s.logged_on
    s.take_outgoing()
    s.take_events()
    s.store.set_next_target_seq(seq)
    s.data_received(message, 0.0)
    apps, written = s.take_app(), s.take_outgoing()
    cmd = None
    if len(apps) == 1:
        try:
            cmd = O.TRANSLATE[apps[0].msg_type](apps[0], O.SessionInfo(begin, CLIENT, ACCOUNT))
        except (O.Refusal, KeyError):
            cmd = None
    return len(apps) == 1, written, cmd


def test_plain_orders_are_fast_and_equal_the_python_path():
    msgs = [raw("FIX.4.4", "D", order(5)), raw("FIX.4.4", "F", header(6) + [(11, "2"), (41, "1"), (55, "AAA"),
                                                                            (54, "1")]),
            raw("FIX.4.4", "G", order(7, cl="3", _41="1", _44="10.25")), raw("FIX.4.4", "D", order(8, _40="1", _44=None))]
    d = decoder()
    buf = b"".join(msgs)
    count, used, status = d.decode(buf, 5, now_us())
    assert (count, used, status) == (4, len(buf), NEED_MORE)
    assert d.fast[:4].tolist() == [1, 1, 1, 1] and d.seqs[:4].tolist() == [5, 6, 7, 8]
    for i, m in enumerate(msgs):
        delivered, written, cmd = python_path("FIX.4.4", m, 5 + i)
        assert delivered and not written
        assert d.commands(i, i + 1).tobytes() == cmd.tobytes()


def test_what_the_python_path_must_decide_is_slow():
    d = decoder()
    cases = [order(5, _38="1.5"),                        # a quantity that is not whole: Reject
             order(5, _1="OTHER"),                       # another account: rejecting report
             order(5, _54="7"),                          # unknown side
             order(5, _11=""),                           # an empty value
             header(5, sent="20261124-09:00:00") + order(5)[4:],    # SendingTime an hour off
             header(5, sender="STRANGER") + order(5)[4:],
             order(5) + [(43, "Y"), (122, NOW)],         # a possible duplicate
             order(5, _847="1003", _168=NOW),            # an algo window: parsed the Python way
             order(5, _95="3")]                          # a data field
    for fields in cases:
        count, _, _ = d.decode(raw("FIX.4.4", "D", fields), 5, now_us())
        assert count == 1 and d.fast[0] == 0, fields
    count, _, _ = d.decode(raw("FIX.4.4", "D", order(6)), 5, now_us())   # out of sequence
    assert count == 1 and d.fast[0] == 0
    count, _, _ = d.decode(raw("FIX.4.4", "0", header(5)), 5, now_us())   # not an order
    assert count == 1 and d.fast[0] == 0


def test_framing_stops_where_the_framer_must_look():
    d = decoder()
    good = raw("FIX.4.4", "D", order(1))
    assert d.decode(good + good[:30], 1, now_us()) == (1, len(good), NEED_MORE)
    bad = bytearray(good)
    bad[-3] ^= 1                                          # CheckSum wrong
    assert d.decode(good + bytes(bad) + good, 1, now_us()) == (1, len(good), NOT_FRAMED)
    assert d.decode(b"junk" + good, 1, now_us()) == (0, 0, NOT_FRAMED)


_values = {
    11: st.sampled_from(["1", "ABC-9", "x" * 20, "x" * 21, "", "a b"]),
    41: st.sampled_from(["1", "Z", "", "y" * 21]),
    55: st.sampled_from(["AAA", "BBBBBBBB", "CCCCCCCCC", "", "a\x7fb"]),
    54: st.sampled_from(["1", "2", "5", "3", "12", ""]),
    38: st.sampled_from(["1", "100", "007", "1.0", "1.5", "-3", "0", "4611686018427387904", "x", "1e2"]),
    40: st.sampled_from(["1", "2", "3", "", "22"]),
    44: st.sampled_from(["10", "10.5", "0.00000001", "1.000000001", "5.", ".5", "0", "-1", "1.2.3", "1e3",
                         "46116860184.27387904"]),
    59: st.sampled_from(["0", "3", "4", "1", "6", ""]),
    1: st.sampled_from([ACCOUNT, "OTHER", ""]),
    21: st.sampled_from(["1", "2", ""]),
    60: st.sampled_from([NOW, ""]),
    100: st.sampled_from(["1", "65535", "65536", "0", "x"]),
    847: st.sampled_from(["1000", "1004", "1005", "999", "x"]),
    168: st.sampled_from([NOW, "bad"]),
    43: st.sampled_from(["N", "Y", "x"]),
    9999: st.sampled_from(["anything"]),
}
_sent = st.sampled_from([NOW, "20261124-10:00:00", "20261124-10:01:59.999", "20261124-10:02:00.001",
                         "20261124-09:57:59", "20261324-10:00:00", "20260230-10:00:00", "20261124-10:00:00.",
                         "20261124-10:00:00.1234567", "2026112410:00:00", "20261124-24:00:00"])


@st.composite
def messages(draw):
    begin = draw(st.sampled_from(["FIX.4.2", "FIX.4.4"]))
    out = []
    for i in range(draw(st.integers(1, 6))):
        msg_type = draw(st.sampled_from(["D", "D", "F", "G", "0", "AE"]))
        seq = 10 + i + draw(st.sampled_from([0, 0, 0, 1, -1]))
        fields = header(seq, draw(_sent), draw(st.sampled_from([THEIRS, THEIRS, "X"])),
                        draw(st.sampled_from([OURS, OURS, "Y"])))
        base = dict(order(seq))
        base[41] = "1"
        for tag in draw(st.lists(st.sampled_from(sorted(base) + [100, 847, 168, 43, 9999]), max_size=4)):
            if draw(st.booleans()):
                base.pop(tag, None)
            else:
                base[tag] = draw(_values[tag]) if tag in _values else base.get(tag, "1")
        fields += [(t, v) for t, v in base.items() if t not in (49, 56, 34, 52)]
        if draw(st.booleans()) and fields:
            fields.append(draw(st.sampled_from(fields)))    # a repeated tag: the first one counts
        out.append((seq, raw(begin, msg_type, fields)))
    return begin, out


@settings(max_examples=400, deadline=None)
@given(messages())
def test_fast_means_the_python_path_gives_the_same_command(case):
    begin, msgs = case
    d = decoder(begin)
    buf = b"".join(m for _, m in msgs)
    count, used, status = d.decode(buf, 10, now_us())
    assert (count, used, status) == (len(msgs), len(buf), NEED_MORE)
    for i, (seq, m) in enumerate(msgs):
        assert d.seqs[i] == seq
        if not d.fast[i]:
            continue
        delivered, written, cmd = python_path(begin, m, 10 + i)
        assert delivered and not written and cmd is not None, parse(m)
        assert d.commands(i, i + 1).tobytes() == cmd.tobytes(), parse(m)


def test_sending_time_skew_is_left_to_the_session_near_the_limit():
    d = decoder()
    for offset_s, fast in ((119.5, 1), (119.9995, 0)):     # the last millisecond is the session's to judge
        sent = (T0 - timedelta(seconds=offset_s)).strftime("%Y%m%d-%H:%M:%S.%f")
        d.decode(raw("FIX.4.4", "D", header(1, sent=sent) + order(1)[4:]), 1, now_us())
        assert d.fast[0] == fast, sent
    d = decoder(skew=None)
    d.decode(raw("FIX.4.4", "D", header(1, sent="20200101-00:00:00") + order(1)[4:]), 1, now_us())
    assert d.fast[0] == 1


def test_commands_are_raw_records():
    d = decoder()
    d.decode(raw("FIX.4.4", "D", order(1, cl="77")), 1, now_us())
    c = d.commands(0, 1)
    assert c.dtype.itemsize == 128 and len(c) == 1
    o = c.view(O.R.NewOrder)[0]
    assert bytes(o["cl_ord_id"]).rstrip(b"\0") == b"77" and o["qty"] == 100 and o["price"] == 10_50000000
    assert np.all(c.view(O.R.NewOrder)["client_id"] == CLIENT)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.binary(max_size=40), st.sampled_from([b"8=FIX.4.4\x01", b"9=", b"35=D\x01", b"\x01",
                                                                   b"10=", raw("FIX.4.4", "D", order(1))])),
                max_size=12))
def test_any_bytes_are_framed_or_left_to_the_framer(chunks):
    """Arbitrary bytes: decode never raises, and what it frames is whole messages from the start."""
    buf = b"".join(chunks)
    d = decoder()
    count, used, status = d.decode(buf, 1, now_us())
    assert 0 <= used <= len(buf) and status in (NEED_MORE, NOT_FRAMED)
    assert count == 0 or (d.starts[0] == 0 and d.ends[count - 1] == used)
    for i in range(count):                        # each one a whole message, summed right
        m = buf[d.starts[i]:d.ends[i]]
        assert m.startswith(b"8=FIX") and m[-8:-4] == b"\x0110=" and checksum(m[:-7]) == m[-4:-1]
        assert i == 0 or d.starts[i] == d.ends[i - 1]
