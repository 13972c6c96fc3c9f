"""Cutting a journal back to a seq (a node rejoining as standby drops a tail the new
primary never had): later segments go, the cut segment is unsealed and reopened, and
the journal keeps verifying and appending."""

import numpy as np
import pytest

from journal import JournalError, JournalReader, JournalWriter, SnapshotStore, verify
from journal.truncate import truncate

from journal_testkit import SMALL_SEGMENT, frames_per_segment, same, seq_range


def write(path, n, kind="input", start=1):
    with JournalWriter(path, kind=kind, segment_bytes=SMALL_SEGMENT, index_every=16) as w:
        w.append(seq_range(start, n))


@pytest.mark.parametrize("cut", [0, 1, 150, 399, 400, 401, 700])
def test_cut_then_append_and_verify(tmp_path, cut):
    per = frames_per_segment()
    n = 2 * per + 150
    write(tmp_path, n)
    SnapshotStore(tmp_path).save(min(cut + 5, n), {"x": np.zeros(3)}, 1)
    if cut > 5:
        SnapshotStore(tmp_path).save(cut - 5, {"x": np.zeros(3)}, 1)
    removed = truncate(tmp_path, cut)
    assert removed == n - cut
    tail = np.frombuffer((tmp_path / f"truncated-{cut}.bin").read_bytes(), seq_range(1, 1).dtype)
    assert same(tail, seq_range(cut + 1, n - cut))
    assert all(s <= cut for s in SnapshotStore(tmp_path).list())
    w = JournalWriter(tmp_path, segment_bytes=SMALL_SEGMENT, index_every=16)
    report = w.open()
    assert report.last_seq == cut
    w.append(seq_range(cut + 1, 300, seed=9))  # different content after the cut
    w.close()
    v = verify(tmp_path)
    assert v.ok and v.final_seq == cut + 300, v.reason
    got = np.concatenate(list(JournalReader(tmp_path).iter_batches()))
    assert same(got[cut:], seq_range(cut + 1, 300, seed=9))
    assert same(got[:cut], seq_range(1, cut))


def test_output_journal_cut_keeps_whole_seqs(tmp_path):
    recs = seq_range(1, 600)
    hdr = recs.view(np.uint8).reshape(600, 128)
    seqs = (np.arange(600) // 3 + 1).astype("<u8")  # three events per input seq
    hdr[:, 16:24] = seqs.view(np.uint8).reshape(600, 8)
    with JournalWriter(tmp_path, kind="output", segment_bytes=SMALL_SEGMENT) as w:
        w.append(recs)
    assert truncate(tmp_path, 100) == 600 - 300
    w = JournalWriter(tmp_path, kind="output", segment_bytes=SMALL_SEGMENT)
    assert w.open().last_seq == 100
    w.close()
    assert verify(tmp_path).ok


def test_nothing_to_cut_and_writer_open(tmp_path):
    write(tmp_path, 50)
    assert truncate(tmp_path, 50) == 0 and truncate(tmp_path, 80) == 0
    w = JournalWriter(tmp_path, segment_bytes=SMALL_SEGMENT)
    w.open()
    try:
        with pytest.raises(JournalError, match="writer has this journal open"):
            truncate(tmp_path, 10)
    finally:
        w.close()
