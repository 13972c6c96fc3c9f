"""The gateway benchmark's load client: its FIX reader (one Numba pass per read) and how
``run_phase`` marks answers, fed a stream cut at every awkward point."""

import numpy as np
import pytest

from perf.gateway_client import NOW, FixReader, _mark_answered, fix_message

HEAD = [(49, "TANDEM"), (56, "CLIENT1"), (34, 2), (52, NOW)]


def er(cl, exec_type="A", **extra):
    fields = HEAD + [(37, 9000 + (cl or 0))]
    if cl is not None:
        fields.append((11, cl))
    fields += [(17, 7000 + (cl or 0))]
    if exec_type is not None:
        fields.append((150, exec_type))
    return fix_message("FIX.4.4", "8", fields + [(39, "A"), (55, "AAA"), (54, 1), (38, 1), (151, 1), (14, 0),
                                                 (6, 0), (60, NOW)])


REJECT = fix_message("FIX.4.4", "3", HEAD + [(45, 3), (58, "bad tag")])
STREAM = b"".join([
    er(1), er(2), fix_message("FIX.4.4", "0", HEAD),                     # Heartbeat: expected, no sample
    er(3, "0"), REJECT, er(4), er(2),                                    # 2 again: the client dedups, not the reader
    fix_message("FIX.4.4", "AE", HEAD + [(571, "r1")]),                  # a 2-character MsgType
    er(None), er(5, None), er(6, "AB"),                                  # no ClOrdID; no ExecType; a 2-char ExecType
    fix_message("FIX.4.4", "8", HEAD + [(11, "x7"), (150, "F"), (11, 7), (60, NOW)]),   # a non-decimal 11: the next
])
IDS = [1, 2, 3, 4, 2, 5, 6, 7]
EXEC_TYPES = {"A": 5, "0": 1, "?": 1, "AB": 1, "F": 1}
OTHER = {"0": 1, "3": 1, "AE": 1}
SAMPLES = [f"49=TANDEM|56=CLIENT1|34=2|52={NOW}|45=3|58=bad tag", f"49=TANDEM|56=CLIENT1|34=2|52={NOW}|571=r1"]


def feed_all(chunks):
    r = FixReader()
    ids = []
    for c in chunks:
        got = r.feed(c)
        assert got.dtype == np.int64
        ids += got.tolist()
    return r, ids


def check(r, ids):
    assert ids == IDS
    assert r.exec_types == EXEC_TYPES
    assert list(r.exec_types) == list(EXEC_TYPES)   # first-appearance order, as the JSON shows it
    assert r.other == OTHER
    assert r.samples == SAMPLES
    assert r.buf == b""


def test_whole_stream_in_one_read():
    check(*feed_all([STREAM]))


def test_every_split_point():
    # every cut: mid-field, mid-"10=", between the checksum and its SOH, between messages
    for i in range(1, len(STREAM)):
        check(*feed_all([STREAM[:i], STREAM[i:]]))


@pytest.mark.parametrize("size", [1, 2, 3, 7, 8, 9, 64, 200])
def test_small_reads(size):
    check(*feed_all([STREAM[o:o + size] for o in range(0, len(STREAM), size)]))


def test_incomplete_tail_is_kept():
    r = FixReader()
    m = er(42)
    assert r.feed(m[:-1]).tolist() == [] and r.buf == m[:-1]
    assert r.feed(m[-1:] + m[:10]).tolist() == [42] and r.buf == m[:10]


def test_only_five_samples():
    r = FixReader()
    r.feed(REJECT * 7)
    assert r.other == {"3": 7} and len(r.samples) == 5


def test_mark_answered():
    answered = np.zeros(6, np.bool_)
    recv_ns = np.zeros(6, np.int64)
    answered[2] = True                     # id 12: answered by an earlier read
    ids = np.array([11, 12, 11, 9, 15, 16, 13], np.int64)   # 11 twice; 9 below, 15 and 16 at or past `sent`
    assert _mark_answered(ids, 10, 5, answered, recv_ns, 77) == 2
    assert answered.tolist() == [False, True, True, True, False, False]
    assert recv_ns.tolist() == [0, 77, 0, 77, 0, 0]
