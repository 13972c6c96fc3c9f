"""MoldUDP64 framing: byte-exact packets, request packets, gap tracking."""

import random
import struct

import pytest
from hypothesis import given, settings, strategies as st

from venues.protocols import moldudp64 as M

SESSION = b"20261124A "


def hand_packet(session, seq, msgs, count=None):
    count = len(msgs) if count is None else count
    return session + struct.pack(">QH", seq, count) + b"".join(
        struct.pack(">H", len(m)) + m for m in msgs)


def test_downstream_packet_byte_exact():
    msgs = [b"hello", b"", b"x" * 300]
    want = hand_packet(SESSION, 2**40 + 1, msgs)
    assert M.encode_packet("20261124A", 2**40 + 1, msgs) == want
    p = M.decode_packet(want)
    assert (p.session, p.seq, p.count, p.messages, p.kind) == (SESSION, 2**40 + 1, 3, tuple(msgs), "data")
    assert p.next_seq == 2**40 + 4
    assert len(want) == M.HEADER_LEN + 3 * 2 + 305


def test_heartbeat_and_end_of_session():
    hb = SESSION + struct.pack(">QH", 77, 0)
    eos = SESSION + struct.pack(">QH", 77, 0xFFFF)
    assert M.encode_heartbeat("20261124A", 77) == hb == M.encode_packet("20261124A", 77, [])
    assert M.encode_end_of_session("20261124A", 77) == eos
    assert M.decode_packet(hb).kind == "heartbeat"
    p = M.decode_packet(eos)
    assert (p.kind, p.seq, p.messages) == ("end_of_session", 77, ())
    with pytest.raises(M.MoldError):
        M.decode_packet(eos + b"\x00")


def test_request_packet_byte_exact():
    want = b"ABC       " + struct.pack(">QH", 5, 12)
    assert M.encode_request("ABC", 5, 12) == want and len(want) == 20
    r = M.decode_request(want)
    assert (r.session, r.seq, r.count) == (b"ABC       ", 5, 12)
    with pytest.raises(M.MoldError):
        M.decode_request(want[:-1])
    with pytest.raises(M.MoldError):
        M.encode_request("ABC", 5, 0)
    with pytest.raises(M.MoldError):
        M.encode_request("ELEVENCHARS", 5, 1)


def test_malformed_packets():
    good = hand_packet(SESSION, 1, [b"abc", b"de"])
    for bad in (good[:19], good[:-1], good + b"\x00", hand_packet(SESSION, 1, [b"abc"], count=2),
                hand_packet(SESSION, 2**64 - 1, [b"a", b"b"])):
        with pytest.raises(M.MoldError):
            M.decode_packet(bad)
    with pytest.raises(M.MoldError):
        M.encode_packet(SESSION, 1, [b"x" * 70_000])


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=120))
def test_fuzz_decoders_only_raise_mold_error(data):
    for fn in (M.decode_packet, M.decode_request):
        try:
            fn(data)
        except M.MoldError:
            pass
    try:
        M.GapTracker().feed(data)
    except M.MoldError:
        pass


def _packets(n_msgs, per_packet, first=1):
    msgs = [f"m{i}".encode() for i in range(first, first + n_msgs)]
    pkts = []
    for i in range(0, n_msgs, per_packet):
        pkts.append(M.encode_packet(SESSION, first + i, msgs[i:i + per_packet]))
    return msgs, pkts


def test_gap_tracker_in_order():
    msgs, pkts = _packets(10, 3)
    g = M.GapTracker()
    out = [m for p in pkts for m in g.feed(p)]
    assert out == msgs and g.next_seq == 11 and g.missing() == []


def test_gap_tracker_detects_gaps_and_fills_them():
    msgs, pkts = _packets(12, 3)  # packets start at 1, 4, 7, 10
    g = M.GapTracker()
    assert g.feed(pkts[0]) == msgs[0:3]
    assert g.feed(pkts[2]) == []
    assert g.missing() == [(4, 3)]
    assert g.requests() == [M.encode_request(SESSION, 4, 3)]
    g.feed(M.encode_heartbeat(SESSION, 16))  # messages up to 15 exist
    assert g.missing() == [(4, 3), (10, 6)]
    assert g.missing(limit=1) == [(4, 3)]
    assert g.feed(pkts[1]) == msgs[3:9]
    assert g.missing() == [(10, 6)]
    assert g.feed(pkts[3]) == msgs[9:12]
    assert g.missing() == [(13, 3)] and not g.complete
    g.feed(M.encode_end_of_session(SESSION, 13))
    assert g.ended


def test_gap_tracker_duplicates_and_foreign_session():
    msgs, pkts = _packets(6, 2)
    g = M.GapTracker()
    g.feed(pkts[0])
    assert g.feed(pkts[0]) == [] and g.duplicates == 2
    g.feed(pkts[2])
    assert g.feed(pkts[2]) == [] and g.duplicates == 4
    assert g.feed(M.encode_packet("OTHER", 3, [b"zz", b"yy"])) == [] and g.foreign == 1
    # an overlapping retransmission: 3,4 new, 5 already buffered
    assert g.feed(M.encode_packet(SESSION, 3, [msgs[2], msgs[3], msgs[4]])) == msgs[2:]
    assert g.duplicates == 5 and g.missing() == []
    g.feed(M.encode_end_of_session(SESSION, 7))
    assert g.complete


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 60), st.integers(1, 7), st.randoms(use_true_random=False))
def test_gap_tracker_any_order_with_dups(n, per, rnd):
    msgs, pkts = _packets(n, per, first=100)
    stream = pkts + rnd.sample(pkts, k=min(3, len(pkts)))
    rnd.shuffle(stream)
    g = M.GapTracker(next_seq=100)
    out = []
    for p in stream:
        out += g.feed(p)
        gaps = g.missing()
        covered = {s + i for s, c in gaps for i in range(c)}
        assert covered.isdisjoint(g.pending) and all(s >= g.next_seq for s in covered)
    assert out == msgs and g.missing() == [] and g.next_seq == 100 + n


def test_random_order_large():
    msgs, pkts = _packets(5000, 10)
    random.Random(1).shuffle(pkts)
    g = M.GapTracker()
    out = [m for p in pkts for m in g.feed(p)]
    assert out == msgs
