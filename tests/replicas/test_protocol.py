"""Replication messages: round trip, and every malformed message is refused by name
(never an exception out of receive(), never a record taken from it)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from replicas import protocol as P
from sequencer import records

RS = records.COMMAND_SIZE


def data(lo, n, epoch=3, node=1):
    recs = records.new_commands(n)
    records.header(recs)["seq"] = np.arange(lo, lo + n)
    return P.encode(P.DATA, epoch, node, seq_lo=lo, seq_hi=lo + n - 1, value2=99, payload=recs), recs


def test_round_trip():
    msg, recs = data(10, 5)
    h, payload = P.decode(msg, RS)
    assert (h["kind"], h["epoch"], h["node_id"], h["seq_lo"], h["seq_hi"], h["value2"]) == (P.DATA, 3, 1, 10, 14, 99)
    assert payload.tobytes() == recs.tobytes()
    h, payload = P.decode(P.encode(P.START, 2, 7, target=9, value=5, payload=b'{"a": 1}'), RS)
    assert (h["target"], h["value"], bytes(payload)) == (9, 5, b'{"a": 1}')


@pytest.mark.parametrize("mutate, message", [
    (lambda m: m[:40], "shorter than the 64-byte header"),
    (lambda m: np.concatenate([np.zeros(4, np.uint8), m[4:]]), "bad magic"),
    (lambda m: _set(m, "version", 9), "protocol version 9"),
    (lambda m: _set(m, "kind", 77), "unknown message kind 77"),
    (lambda m: m[:-1], "DATA 10..14 carries"),
    (lambda m: _set(m, "seq_hi", 9), "DATA 10..9 carries"),
    (lambda m: _set(m, "seq_lo", 0), "DATA 0..14 carries"),
])
def test_bad_messages_are_named(mutate, message):
    msg, _ = data(10, 5)
    with pytest.raises(P.BadMessage, match=message):
        P.decode(mutate(msg.copy()), RS)
    assert P.receive(mutate(msg.copy()), 2, RS) == (None, None)


def _set(msg, field, value):
    msg[:P.HEADER_SIZE].view(P.HEADER)[field] = value
    return msg


def test_own_messages_are_skipped():
    msg, _ = data(1, 1, node=4)
    assert P.receive(msg, 4, RS) == (None, None)
    h, _ = P.receive(msg, 5, RS)
    assert h["node_id"] == 4


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600))
def test_fuzzed_bytes_never_raise(raw):
    h, payload = P.receive(np.frombuffer(raw, np.uint8).copy(), 1, RS)
    if h is not None:  # only well-formed messages get through
        assert h["magic"] == P.MAGIC and h["kind"] in P.KIND_NAMES
        if h["kind"] == P.DATA:
            assert len(payload) == (int(h["seq_hi"]) - int(h["seq_lo"]) + 1) * RS
