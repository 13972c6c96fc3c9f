"""SoupBinTCP 3.00 framing: byte-exact packets, the stream reader, fuzzing."""

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from venues.protocols import soupbintcp as soup
from venues.protocols.soupbintcp import PacketReader, SoupError


def pkt(t: bytes, payload: bytes = b"") -> bytes:
    """Independent framing: u2 big-endian length (type + payload), type, payload."""
    return struct.pack(">H", len(payload) + 1) + t + payload


# ---------------------------------------------------------------- byte-exact

def test_login_request_bytes():
    want = (b"\x00\x2f" b"L" b"TRADR1" b"pa55word  " b"    SESS01"
            b"                 123")
    assert len(want) == 2 + 1 + 6 + 10 + 10 + 20
    assert soup.encode_login_request("TRADR1", "pa55word", "SESS01", 123) == want
    t, payload = PacketReader().feed(want)[0]
    assert t == "L"
    assert soup.decode_login_request(payload) == ("TRADR1", "pa55word", "SESS01", 123)


def test_login_request_defaults_blank_session_and_sequence_zero():
    want = pkt(b"L", b"ab    " + b"x" * 10 + b" " * 10 + b" " * 19 + b"0")
    assert soup.encode_login_request("ab", "x" * 10) == want
    assert soup.decode_login_request(want[3:]) == ("ab", "x" * 10, "", 0)


def test_login_accepted_bytes():
    want = b"\x00\x1f" b"A" b"   SESSION" b"                   1"
    assert soup.encode_login_accepted("SESSION", 1) == want
    assert soup.decode_login_accepted(want[3:]) == ("SESSION", 1)
    big = 10 ** 20 - 1
    assert soup.encode_login_accepted(b"0123456789", big) == pkt(
        b"A", b"0123456789" + str(big).encode())


@pytest.mark.parametrize("code", ["A", "S"])
def test_login_rejected_bytes(code):
    want = b"\x00\x02J" + code.encode()
    assert soup.encode_login_rejected(code) == want
    assert soup.decode_login_rejected(want[3:]) == code


@pytest.mark.parametrize("encoder,raw", [
    (soup.encode_server_heartbeat, b"\x00\x01H"),
    (soup.encode_end_of_session, b"\x00\x01Z"),
    (soup.encode_client_heartbeat, b"\x00\x01R"),
    (soup.encode_logout_request, b"\x00\x01O"),
])
def test_empty_packets_bytes(encoder, raw):
    assert encoder() == raw
    assert PacketReader().feed(raw) == [(chr(raw[2]), b"")]


@pytest.mark.parametrize("encoder,t", [
    (soup.encode_sequenced_data, b"S"),
    (soup.encode_unsequenced_data, b"U"),
])
def test_data_packets_bytes(encoder, t):
    msg = bytes(range(256)) * 3  # any byte is allowed in SoupBinTCP data
    assert encoder(msg) == struct.pack(">H", 769) + t + msg
    assert encoder(b"") == b"\x00\x01" + t
    big = b"\xff" * (0xFFFF - 1)
    assert encoder(big)[:3] == b"\xff\xff" + t
    with pytest.raises(SoupError, match="exceeds"):
        encoder(big + b"x")


def test_debug_bytes():
    assert soup.encode_debug("hello world") == b"\x00\x0c+hello world"
    assert PacketReader().feed(b"\x00\x0c+hello world") == [("+", b"hello world")]


@pytest.mark.parametrize("call,match", [
    (lambda: soup.encode_login_request("toolong", "p"), "username"),
    (lambda: soup.encode_login_request("u", "p" * 11), "password"),
    (lambda: soup.encode_login_request("u", "p", "s" * 11), "requested session"),
    (lambda: soup.encode_login_request("u", "p", "", -1), "requested sequence"),
    (lambda: soup.encode_login_request("u", "p", "", 10 ** 20), "20 ASCII digits"),
    (lambda: soup.encode_login_request("u", "p", "", 1.0), "not an integer"),
    (lambda: soup.encode_login_request("ü", "p"), "not ASCII"),
    (lambda: soup.encode_login_request("a\nb", "p"), "non-printable"),
    (lambda: soup.encode_login_rejected("X"), "reject code"),
    (lambda: soup.frame("Q", b""), "unknown"),
    (lambda: soup.frame("H", b"x"), "must be 0 bytes"),
])
def test_encode_refuses_bad_values(call, match):
    with pytest.raises(SoupError, match=match):
        call()


def test_decoders_check_payloads():
    with pytest.raises(SoupError, match="30 bytes, got 29"):
        soup.decode_login_accepted(b" " * 29)
    with pytest.raises(SoupError, match="not a space-padded ASCII number"):
        soup.decode_login_accepted(b" " * 10 + b" " * 18 + b"1x")
    with pytest.raises(SoupError, match="not a space-padded ASCII number"):
        soup.decode_login_request(b" " * 46)
    with pytest.raises(SoupError, match="reject code"):
        soup.decode_login_rejected(b"Q")
    with pytest.raises(SoupError, match="non-printable"):
        soup.decode_login_request(b"\x00" * 26 + b" " * 19 + b"1")


# ---------------------------------------------------------------- reader

def test_reader_handles_partial_and_coalesced_packets():
    stream = (soup.encode_login_accepted("S1", 5) + soup.encode_sequenced_data(b"abc")
              + soup.encode_server_heartbeat() + soup.encode_sequenced_data(b"")
              + soup.encode_end_of_session())
    want = [("A", b"        S1" + b" " * 19 + b"5"), ("S", b"abc"), ("H", b""),
            ("S", b""), ("Z", b"")]
    assert PacketReader(soup.SERVER_TYPES).feed(stream) == want
    r = PacketReader(soup.SERVER_TYPES)
    got = []
    for i in range(len(stream)):  # one byte at a time
        got += r.feed(stream[i:i + 1])
    assert got == want and r.pending == 0
    r = PacketReader()
    assert r.feed(stream[:1]) == [] and r.pending == 1
    assert r.feed(b"") == []


@pytest.mark.parametrize("raw,match", [
    (b"\x00\x00S", "packet length 0"),
    (b"\x00\x01Q", "unknown packet type 'Q'"),
    (b"\x00\x05\x00abcd", "unknown packet type"),
    (b"\x00\x02H!", "Server Heartbeat .'H'. payload must be 0 bytes, length field says 1"),
    (b"\x00\x1eA" + b" " * 29, "Login Accepted .'A'. payload must be 30 bytes"),
    (b"\x00\x2eL", "Login Request .'L'. payload must be 46 bytes, length field says 45"),
])
def test_reader_rejects_bad_packets(raw, match):
    r = PacketReader()
    with pytest.raises(SoupError, match=match):
        r.feed(raw)
    assert r.failed is not None
    with pytest.raises(SoupError, match="already failed"):
        r.feed(soup.encode_server_heartbeat())


def test_reader_reports_good_packets_before_the_bad_one():
    r = PacketReader()
    with pytest.raises(SoupError, match=r"offset \+3") as e:
        r.feed(b"\x00\x01H" + b"\x00\x01?")
    assert e.value.packets == [("H", b"")]


def test_reader_enforces_direction():
    with pytest.raises(SoupError, match="unexpected Login Request"):
        PacketReader(soup.SERVER_TYPES).feed(soup.encode_login_request("u", "p"))
    with pytest.raises(SoupError, match="unexpected Sequenced Data"):
        PacketReader(soup.CLIENT_TYPES).feed(soup.encode_sequenced_data(b"x"))
    with pytest.raises(SoupError, match="unknown"):
        PacketReader({"Q"})


# ---------------------------------------------------------------- fuzz

_packets = st.one_of(
    st.tuples(st.sampled_from("+SU"), st.binary(max_size=300)),
    st.tuples(st.sampled_from("HZRO"), st.just(b"")),
    st.tuples(st.just("J"), st.sampled_from([b"A", b"S"])),
    st.tuples(st.just("A"), st.binary(min_size=30, max_size=30)),
    st.tuples(st.just("L"), st.binary(min_size=46, max_size=46)),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(_packets, max_size=20), st.data())
def test_reader_round_trip_any_split(packets, data):
    stream = b"".join(pkt(t.encode(), p) for t, p in packets)
    assert b"".join(soup.frame(t, p) for t, p in packets) == stream
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=10)))
    r, got, prev = PacketReader(), [], 0
    for c in cuts + [len(stream)]:
        got += r.feed(stream[prev:c])
        prev = c
    assert got == packets and r.pending == 0


@settings(max_examples=500, deadline=None)
@given(st.lists(st.binary(max_size=80), max_size=8))
def test_reader_on_garbage_raises_only_souperror(chunks):
    r = PacketReader()
    for c in chunks:
        try:
            for t, p in r.feed(c):
                assert t in soup.ALL_TYPES
                for dec in (soup.decode_login_accepted, soup.decode_login_rejected,
                            soup.decode_login_request):
                    try:
                        dec(p)
                    except SoupError:
                        pass
        except SoupError:
            return
