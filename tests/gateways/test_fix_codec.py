"""FIX tag=value codec: byte-exact encoding against hand-built messages, parsing, the
stream framer (split, packed, garbled input, resynchronisation) and fuzzing."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateways.fix.codec import FixError, FixFramer, FixMessage, checksum, encode, parse

SOH = "\x01"


def hand(*fields: str) -> bytes:
    """A message from its fields written out by hand ('|' for SOH); 9 and 10 are
    computed here from the spec's definition, independently of the codec."""
    begin, mt, *rest = fields
    body = (mt + "|" + "".join(f + "|" for f in rest)).replace("|", SOH).encode()
    head = f"{begin}{SOH}9={len(body)}{SOH}".encode()
    total = sum(head + body) % 256
    return head + body + f"10={total:03d}{SOH}".encode()


def test_checksum_is_byte_sum_mod_256_three_digits():
    assert checksum(b"") == b"000"
    assert checksum(b"\x01") == b"001"
    assert checksum(b"A" * 4) == b"%03d" % (65 * 4 % 256)


def test_encode_heartbeat_byte_exact():
    got = encode("FIX.4.2", "0", [(49, "VENUE"), (56, "CLIENT"), (34, 7), (52, "20240102-09:30:00.000")])
    body = b"35=0\x0149=VENUE\x0156=CLIENT\x0134=7\x0152=20240102-09:30:00.000\x01"
    assert len(body) == 54
    head = b"8=FIX.4.2\x019=54\x01"
    assert got == head + body + b"10=%03d\x01" % (sum(head + body) % 256)
    assert got == hand("8=FIX.4.2", "35=0", "49=VENUE", "56=CLIENT", "34=7", "52=20240102-09:30:00.000")


def test_encode_a_literal_message():
    # counted by hand: body "35=A|34=1|98=0|108=30|" is 22 bytes
    got = encode("FIX.4.4", "A", [(34, 1), (98, 0), (108, 30)])
    prefix = b"8=FIX.4.4\x019=22\x0135=A\x0134=1\x0198=0\x01108=30\x01"
    assert got[:-7] == prefix
    assert got[-7:] == b"10=%03d\x01" % (sum(prefix) % 256)


def test_encode_accepts_str_bytes_int_and_keeps_order_and_repeats():
    got = encode("FIX.4.2", b"D", [(11, b"A1"), (55, "AAA"), (38, 100), (11, "dup")])
    assert got == hand("8=FIX.4.2", "35=D", "11=A1", "55=AAA", "38=100", "11=dup")


@pytest.mark.parametrize("fields, what", [
    ([(10, "1")], "tag 10"), ([(9, "1")], "tag 9"), ([(0, "x")], "positive"), ([(-1, "x")], "positive"),
    ([("11", "x")], "not an integer"), ([(58, "a\x01b")], "SOH"), ([(58, "")], "empty"),
    ([(58, "é")], "ASCII"), ([(58, 1.5)], "str, bytes or int"), ([(43, True)], "bool"),
])
def test_encode_refuses(fields, what):
    with pytest.raises(FixError, match=what):
        encode("FIX.4.2", "0", fields)


def test_parse_fields_and_getters():
    raw = hand("8=FIX.4.2", "35=8", "49=V", "56=C", "34=12", "38=100", "453=2", "448=A", "448=B", "58=x=y")
    m = parse(raw)
    assert isinstance(m, FixMessage) and m.raw == raw
    assert m.begin_string == "FIX.4.2" and m.msg_type == "8"
    assert m.fields[:3] == [(8, b"FIX.4.2"), (9, m.get(9)), (35, b"8")] and m.fields[-1][0] == 10
    assert m.get_int(34) == 12 and m.get(38) == b"100" and m.get_str(49) == "V"
    assert m.get_all(448) == [b"A", b"B"] and m.get(448) == b"A"   # a group stays as ordered pairs
    assert m.get(58) == b"x=y"                                       # only the first '=' splits
    assert m.get(999) is None and 999 not in m and 34 in m
    assert m.body() == [(38, b"100"), (453, b"2"), (448, b"A"), (448, b"B"), (58, b"x=y")]
    with pytest.raises(FixError, match="tag 49"):
        m.get_int(49)


def test_parse_a_data_field_containing_soh():
    raw = hand("8=FIX.4.2", "35=B", "34=1", "95=5", "96=a\x01b=c", "58=t")
    m = parse(raw)
    assert m.get(96) == b"a\x01b=c" and m.get(58) == b"t"
    assert parse(encode("FIX.4.2", "B", [(95, 3), (96, b"\x01\x01\x01")])).get(96) == b"\x01\x01\x01"


@pytest.mark.parametrize("mutate, what", [
    (lambda r: r.replace(b"10=", b"11=")[:-4] + b"000\x01", "CheckSum"),
    (lambda r: r[:-4] + b"%03d\x01" % ((int(r[-4:-1]) + 1) % 256), "CheckSum"),
    (lambda r: r[:-2] + b"\x01", "truncated|CheckSum|BodyLength"),
    (lambda r: r.replace(b"9=", b"9=1", 1), "truncated"),
    (lambda r: r + b"x", "after the CheckSum"),
    (lambda r: b"9=5\x01" + r, "8=FIX"),
])
def test_parse_refuses_garbled(mutate, what):
    raw = hand("8=FIX.4.2", "35=0", "34=1")
    with pytest.raises(FixError, match=what):
        parse(mutate(raw))


def test_parse_checks_first_three_tags():
    body = b"34=1\x0135=0\x01"
    head = b"8=FIX.4.2\x019=%d\x01" % len(body)
    msg = head + body + b"10=%03d\x01" % (sum(head + body) % 256)
    with pytest.raises(FixError, match="third field is not MsgType"):
        parse(msg)
    body = b"35=0\x01"
    msg = b"8=FIX.4.2\x0135=0\x019=5\x01" + body
    with pytest.raises(FixError, match="second field is not BodyLength"):
        parse(msg + b"10=%03d\x01" % (sum(msg) % 256))


def test_checksum_not_three_digits_is_garbled():
    prefix = b"8=FIX.4.2\x019=5\x0135=0\x01"
    two = prefix + b"10=%02d\x01" % (sum(prefix) % 100)
    with pytest.raises(FixError):
        parse(two)
    f = FixFramer()
    assert f.feed(two) == []
    assert f.feed(hand("8=FIX.4.2", "35=0", "34=2"))[0].get(34) == b"2"


def msgs(n):
    return [hand("8=FIX.4.2", "35=0", f"34={i}", "58=hello") for i in range(1, n + 1)]


def test_framer_split_and_packed():
    stream = b"".join(msgs(5))
    for cut in range(1, len(stream)):
        f = FixFramer()
        got = f.feed(stream[:cut]) + f.feed(stream[cut:])
        assert [m.get_int(34) for m in got] == [1, 2, 3, 4, 5]
        assert f.garbled == [] and f.buffered == 0
    f = FixFramer()
    got = []
    for b in stream:  # one byte at a time
        got += f.feed(bytes([b]))
    assert [m.raw for m in got] == msgs(5)


def test_framer_drops_garbled_and_resyncs_on_next_begin_string():
    good = msgs(3)
    bad_sum = good[1][:-4] + b"%03d\x01" % ((int(good[1][-4:-1]) + 7) % 256)
    bad_len = good[1].replace(b"9=", b"9=9", 1)   # BodyLength too long: runs into message 3
    bad_order = b"8=FIX.4.2\x0135=0\x019=3\x01"
    for bad in (bad_sum, bad_len, bad_order, b"garbage\x01\x01" + good[2][:0]):
        f = FixFramer()
        got = f.feed(good[0] + bad + good[2])
        assert [m.get_int(34) for m in got] == [1, 3], bad
        assert f.garbled_count >= 1 and f.garbled


def test_framer_short_body_length_is_garbled():
    good = msgs(2)
    short = good[0].replace(b"9=%d" % parse(good[0]).get_int(9), b"9=%d" % (parse(good[0]).get_int(9) - 3), 1)
    f = FixFramer()
    assert [m.get_int(34) for m in f.feed(short + good[1])] == [2]
    assert "BodyLength" in f.garbled[0]


def test_framer_waits_for_a_split_begin_string():
    m = msgs(1)[0]
    f = FixFramer()
    assert f.feed(b"junk" + m[:3]) == []
    assert [x.raw for x in f.feed(m[3:])] == [m]


_PIECES = [b"8=FIX.4.2\x01", b"8=FIX", b"9=5\x01", b"9=99999999\x01", b"35=0\x01", b"10=000\x01", b"\x01",
           b"95=3\x0196=", b"=", hand("8=FIX.4.2", "35=0", "34=1"),
           hand("8=FIX.4.4", "35=B", "95=2", "96=\x01\x01")]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.one_of(st.binary(max_size=80), st.sampled_from(_PIECES)), max_size=30))
def test_framer_never_raises_on_arbitrary_bytes(chunks):
    f = FixFramer()
    for c in chunks:
        for m in f.feed(c):
            assert m.fields[0][0] == 8 and m.fields[-1][0] == 10 and m.raw.startswith(b"8=FIX")


_value = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=20)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 9999).filter(lambda t: t not in (8, 9, 10, 35) and t not in
                                                      (90, 93, 95, 212, 348, 350, 352, 354, 356, 358, 360,
                                                       362, 364, 445, 618, 621)), _value), max_size=15),
       st.binary(max_size=40), st.integers(0, 10_000))
def test_roundtrip_through_framer_with_noise(fields, noise, cut):
    raw = encode("FIX.4.4", "D", fields)
    m = parse(raw)
    assert [(t, v.decode()) for t, v in m.fields[3:-1]] == [(t, v) for t, v in fields]
    while b"8=FIX" in noise:
        noise = noise.replace(b"8=FIX", b"")
    stream = noise + raw + raw
    cut %= len(stream) + 1
    f = FixFramer()
    got = f.feed(stream[:cut]) + f.feed(stream[cut:])
    assert [g.raw for g in got][-2:] == [raw, raw]
