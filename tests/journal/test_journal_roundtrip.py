"""Append, read back, iterate and tail journals, across segment rollovers."""

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from journal_testkit import SMALL_SEGMENT, frames_per_segment, records, same, seq_range, seqs_of

from journal import JournalError, JournalReader, JournalTailer, JournalWriter, verify
from journal.format import list_segments, read_seal_file
from journal.meta import open_meta

REPO = Path(__file__).resolve().parents[2]


def small_writer(path, **kw):
    kw.setdefault("segment_bytes", SMALL_SEGMENT)
    kw.setdefault("fsync", "none")
    return JournalWriter(path, **kw)


def test_round_trip_across_rollovers(tmp_path):
    per = frames_per_segment()
    n = per * 4 + 17
    data = seq_range(1, n)
    with small_writer(tmp_path / "j", index_every=64) as w:
        for lo in range(0, n, 300):  # batches that straddle segment boundaries
            w.append(data[lo:lo + 300])
        assert (w.last_seq, w.count) == (n, n)
        assert w.last_ts == 1000 + n
    assert len(list_segments(tmp_path / "j")) == 5
    with JournalReader(tmp_path / "j") as r:
        assert (r.kind, r.record_size, r.first_seq, r.last_seq) == ("input", 128, 1, n)
        assert r.frame_count() == n
        assert same(r.read(1, n), data)
        for lo, hi in [(1, 1), (per, per + 1), (per * 2 - 3, per * 3 + 5), (n - 4, n), (77, 1234)]:
            assert same(r.read(lo, hi), data[lo - 1:hi]), (lo, hi)
        assert len(r.read(n + 1, n + 10)) == 0
        assert same(r.read(n - 2, n + 50), data[n - 3:])  # clipped to what exists
        batches = list(r.iter_batches(batch_records=1000))
        assert [len(b) for b in batches] == [1000] * (n // 1000) + [n % 1000]
        assert same(np.concatenate(batches), data)
        assert same(np.concatenate(list(r.iter_batches(500, 700, batch_records=64))),
                    data[499:700])


def test_structured_dtype_records_and_any_batch_shape(tmp_path):
    from sequencer import records as R
    recs = np.zeros(10, R.NewOrder)
    recs["type"], recs["version"] = R.NEW_ORDER, 1
    recs["seq"] = np.arange(1, 11)
    recs["ts"] = 5
    recs["qty"] = np.arange(10) * 100
    with small_writer(tmp_path / "j") as w:
        w.append(recs[:3])
        w.append(recs[3:3])  # empty batch: nothing happens
        w.append(recs[3:])
        with pytest.raises(JournalError, match="1-D array of 128-byte records"):
            w.append(np.zeros(3, np.dtype((np.void, 64))))
    with JournalReader(tmp_path / "j") as r:
        back = r.read(1, 10).view(R.NewOrder)
        assert (back["qty"] == recs["qty"]).all() and (back["seq"] == recs["seq"]).all()


def test_reopen_continues_in_same_or_new_segment(tmp_path):
    j = tmp_path / "j"
    with small_writer(j) as w:
        w.append(seq_range(1, 10))
    # close(seal=True) sealed segment 1: the next open starts segment 2
    w = small_writer(j)
    report = w.open()
    assert (report.last_seq, report.segments, report.truncated_bytes) == (10, 2, 0)
    assert read_seal_file(j, 1).frames == 10
    w.append(seq_range(11, 5))
    w.close(seal=False)
    w = small_writer(j)
    assert w.open().last_seq == 15
    assert len(list_segments(j)) == 2 and read_seal_file(j, 2) is None
    w.append(seq_range(16, 5))
    w.close()
    with JournalReader(j) as r:
        assert same(r.read(1, 20), seq_range(1, 20))
    assert verify(j).ok


def test_close_seal_of_an_empty_segment_is_a_no_op(tmp_path):
    j = tmp_path / "j"
    for _ in range(3):
        w = small_writer(j)
        w.open()
        w.close()
    assert [i for i, _ in list_segments(j)] == [1]
    with JournalReader(j) as r:
        assert (r.first_seq, r.last_seq, r.frame_count()) == (None, 0, 0)
        assert len(r.read(1, 10)) == 0


def test_output_journal_repeated_and_jumping_seqs(tmp_path):
    j = tmp_path / "out"
    # several events per input seq, some inputs without events
    seqs = np.repeat(np.arange(1, 2001, 3), 1 + np.arange(667) % 3)
    data = records(seqs, size=192, types=101, ts=np.arange(len(seqs)) // 2)
    with small_writer(j, kind="output", record_size=192, index_every=16) as w:
        for lo in range(0, len(data), 97):
            w.append(data[lo:lo + 97])
        assert w.last_seq == seqs[-1]
    with JournalReader(j) as r:
        assert (r.kind, r.record_size, r.first_seq, r.last_seq) == ("output", 192, 1, seqs[-1])
        assert same(r.read(1, int(seqs[-1])), data)
        for lo, hi in [(1, 1), (2, 3), (700, 705), (1000, 1600), (1999, 5000)]:
            want = data[(seqs >= lo) & (seqs <= hi)]
            assert same(r.read(lo, hi), want), (lo, hi)
        # every seq with events, read alone, gives exactly its events (index lands right)
        for s in np.unique(seqs)[::7]:
            assert (seqs_of(r.read(int(s), int(s))) == s).all()
            assert len(r.read(int(s), int(s))) == (seqs == s).sum()
    assert verify(j).ok


def test_output_seq_spanning_a_rollover(tmp_path):
    j = tmp_path / "out"
    per = frames_per_segment(record_size=192)
    seqs = np.concatenate([np.arange(1, per - 5), np.full(20, per), np.arange(per + 1, per + 50)])
    data = records(seqs, size=192)
    with small_writer(j, kind="output", record_size=192, index_every=4) as w:
        w.append(data)
    with JournalReader(j) as r:
        assert len(r.read(per, per)) == 20  # ten in each segment
        assert same(r.read(per, per + 3), data[(seqs >= per) & (seqs <= per + 3)])
    assert verify(j).ok


def test_sparse_index(tmp_path):
    j = tmp_path / "j"
    per = frames_per_segment()
    with small_writer(j, index_every=100) as w:
        w.append(seq_range(1, per * 2 + 10))
    meta = open_meta(j, create=False)
    try:
        entries = meta.index_entries()
    finally:
        meta.close()
    keys = [e[0] for e in entries]
    assert keys == sorted(keys)
    # segment starts are indexed, and no gap between entries exceeds index_every
    assert {1, per + 1, 2 * per + 1} <= set(keys)
    assert max(np.diff(keys)) <= 100
    for seq, seg, off in entries:
        first = 1 + (seg - 1) * per
        assert off == 128 + (seq - first) * 160


def test_order_violations_refused_and_nothing_written(tmp_path):
    j = tmp_path / "j"
    with small_writer(j) as w:
        with pytest.raises(JournalError, match="expected 1"):
            w.append(seq_range(2, 3))  # a new input journal starts at 1
        w.append(seq_range(1, 5))
        for bad, match in [
            (records([6, 7, 9]), "seq 9 breaks the gapless order"),
            (records([7, 8]), "expected 6"),
            (records([5]), "expected 6"),
            (records([6, 7], ts=[2000, 1999]), "ts 1999 is before"),
            (records([6], ts=[1]), "ts 1 is before the previous ts 1005"),
        ]:
            with pytest.raises(JournalError, match=match):
                w.append(bad)
            assert (w.last_seq, w.count, w.last_ts) == (5, 5, 1005)
        w.append(seq_range(6, 2))
    with JournalReader(j) as r:
        assert same(r.read(1, 100), seq_range(1, 7))

    o = tmp_path / "o"
    with small_writer(o, kind="output") as w:
        w.append(records([3, 3, 5]))
        with pytest.raises(JournalError, match="seq 4 is below the previous seq 5"):
            w.append(records([5, 4]))
        w.append(records([5, 9]))
        assert w.count == 5
    assert verify(o).ok


def test_tailer_follows_writer_across_rollovers(tmp_path):
    j = tmp_path / "j"
    per = frames_per_segment()
    total = per * 5 + 3
    data = seq_range(1, total)
    w = small_writer(j)
    w.open()
    w.append(data[:10])
    t = JournalTailer(j)
    got = [t.poll()]
    assert len(got[0]) == 10
    assert len(t.poll()) == 0

    def write():
        for lo in range(10, total, 37):
            w.append(data[lo:lo + 37])
            time.sleep(0.0005)

    th = threading.Thread(target=write)
    th.start()
    deadline = time.monotonic() + 30
    while sum(map(len, got)) < total and time.monotonic() < deadline:
        got.append(t.poll(max_records=50))
        if len(got[-1]) == 0:
            # Idle like a tailer agent: a tight loop here starves the writer's threads of
            # the GIL (in production the tailer is another process).
            time.sleep(0.0002)
    th.join()
    w.close()
    t.close()
    assert same(np.concatenate(got), data)


def test_tailer_from_seq_and_output_journal(tmp_path):
    j = tmp_path / "o"
    seqs = np.repeat(np.arange(1, 600), 2)
    data = records(seqs, size=192)
    with small_writer(j, kind="output", record_size=192, index_every=8) as w:
        w.append(data[:500])
        t = JournalTailer(j, from_seq=100)
        first = t.poll()
        assert seqs_of(first)[0] == 100 and same(first, data[198:500])
        w.append(data[500:])
        assert same(t.poll(), data[500:])
        t.close()


def test_half_written_frame_is_never_returned(tmp_path):
    j = tmp_path / "j"
    w = small_writer(j)
    w.open()
    w.append(seq_range(1, 5))
    t = JournalTailer(j)
    assert len(t.poll()) == 5
    # the first 100 bytes of frame 6, as a writer caught mid-frame would leave them
    with JournalWriter(tmp_path / "model", segment_bytes=SMALL_SEGMENT, fsync="none") as m:
        m.append(seq_range(1, 6))
    model = (tmp_path / "model" / "0000000001.seg").read_bytes()
    end = 128 + 5 * 160
    with open(j / "0000000001.seg", "r+b") as f:
        f.seek(end)
        f.write(model[end:end + 100])
    assert len(t.poll()) == 0
    with JournalReader(j) as r:
        assert r.last_seq == 5 and len(r.read(1, 10)) == 5
    w.append(seq_range(6, 2))  # the writer completes it
    assert same(t.poll(), seq_range(6, 2))
    w.close()
    t.close()


def test_second_writer_is_refused(tmp_path):
    with small_writer(tmp_path / "j") as w:
        with pytest.raises(JournalError, match="another writer"):
            small_writer(tmp_path / "j").open()
        w.append(seq_range(1, 2))


WRITER_SCRIPT = """
import sys, time, numpy as np
sys.path.insert(0, sys.argv[2])
from journal_testkit import seq_range
from journal import JournalWriter
w = JournalWriter(sys.argv[1], segment_bytes=64 << 10, fsync=sys.argv[3])
w.open()
for lo in range(1, 3001, 50):
    w.append(seq_range(lo, 50))
    time.sleep(0.002)
if sys.argv[4] == "crash":
    import os
    os._exit(0)  # no close, no seal: as if the process died
w.close()
"""


@pytest.mark.parametrize("end", ["close", "crash"])
def test_writer_process_and_reader_process(tmp_path, end):
    j = tmp_path / "j"
    proc = subprocess.Popen([sys.executable, "-c", WRITER_SCRIPT, str(j),
                             str(Path(__file__).parent), "batch", end], cwd=REPO)
    got = []
    deadline = time.monotonic() + 60
    t = None
    while sum(map(len, got)) < 3000 and time.monotonic() < deadline:
        if t is None:
            try:
                t = JournalTailer(j)
            except JournalError:
                time.sleep(0.01)
                continue
        got.append(t.poll())
        time.sleep(0.001)
    assert proc.wait(60) == 0
    t.close()
    assert same(np.concatenate(got), seq_range(1, 3000))
    w = small_writer(j)
    report = w.open()
    assert (report.last_seq, report.truncated_bytes, report.torn_at_seq) == (3000, 0, None)
    w.append(seq_range(3001, 1))
    w.close()
    result = verify(j)
    assert result.ok and result.final_seq == 3001, result.reason
    json.dumps(result.to_json())
