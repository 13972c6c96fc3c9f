"""Recovery: torn tails are truncated and reported, corruption and foreign formats raise."""

import shutil

import numpy as np
import pytest
from journal_testkit import SMALL_SEGMENT, frames_per_segment, same, seq_range

from journal import (
    CorruptJournal, FormatError, JournalReader, JournalWriter, verify,
)
from journal.format import SegmentHeader, list_segments, read_seal_file, segment_path
from journal.meta import meta_path, open_meta

F = 160  # frame bytes for 128-byte records


def writer(path, **kw):
    kw.setdefault("segment_bytes", SMALL_SEGMENT)
    kw.setdefault("fsync", "none")
    return JournalWriter(path, **kw)


def make(path, n, seal=False, **kw):
    w = writer(path, **kw)
    w.open()
    if n:
        w.append(seq_range(1, n))
    w.close(seal=seal)
    return path


def last_segment(path):
    return list_segments(path)[-1][1]


def patch(path, offset, data):
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(data)


def flip(path, offset, mask=0x5A):
    with open(path, "r+b") as f:
        f.seek(offset)
        b = f.read(1)[0]
        f.seek(offset)
        f.write(bytes([b ^ mask]))


def end_offset(n_in_segment):
    return 128 + n_in_segment * F


@pytest.mark.parametrize("kept", [0, 1, 60, 100, F - 1])
def test_torn_last_frame_is_truncated_and_reported(tmp_path, kept):
    """Only the first ``kept`` bytes of frame 50 reached the file."""
    j = make(tmp_path / "j", 50)
    seg = last_segment(j)
    start = end_offset(49)
    patch(seg, start + kept, bytes(F - kept))
    w = writer(j)
    report = w.open()
    assert report.last_seq == 49 and report.last_ts == 1049
    if kept == 0:  # nothing of it was written: a clean end, nothing to report
        assert (report.truncated_bytes, report.torn_at_seq) == (0, None)
    else:
        assert (report.truncated_bytes, report.torn_at_seq) == (kept, 50)
        assert "torn tail" in report.message and "seq 50" in report.message
    assert seg.read_bytes()[start:] == bytes(SMALL_SEGMENT - start)  # zeroed
    w.append(seq_range(50, 5))  # gapless from the recovered end
    w.close()
    with JournalReader(j) as r:
        assert same(r.read(1, 100), seq_range(1, 54))
    assert verify(j).ok


def test_garbled_last_frame_is_truncated(tmp_path):
    j = make(tmp_path / "j", 30, index_every=1)
    seg = last_segment(j)
    patch(seg, end_offset(29) + 40, b"\xff" * 8)  # hash no longer matches
    w = writer(j, index_every=1)
    report = w.open()
    assert (report.last_seq, report.truncated_bytes, report.torn_at_seq) == (29, F, 30)
    meta = open_meta(j, create=False)
    assert max(e[0] for e in meta.index_entries()) == 29  # the torn frame's entry is gone
    meta.close()
    w.append(seq_range(30, 1))
    w.close()
    assert verify(j).ok


def test_garbage_after_the_last_frame_is_truncated(tmp_path):
    j = make(tmp_path / "j", 10)
    patch(last_segment(j), end_offset(10), b"\x00\x00\x00\x00\x01\x00\x01\x00abc")
    w = writer(j)
    report = w.open()
    assert (report.last_seq, report.truncated_bytes, report.torn_at_seq) == (10, 11, 11)
    w.close()


def test_torn_first_frame_of_a_new_segment(tmp_path):
    per = frames_per_segment()
    j = make(tmp_path / "j", per + 1)
    seg = last_segment(j)
    assert seg.name == "0000000002.seg"
    patch(seg, 128 + 100, bytes(F - 100))
    w = writer(j)
    report = w.open()
    assert (report.last_seq, report.torn_at_seq, report.truncated_bytes) == (per, per + 1, 100)
    w.append(seq_range(per + 1, 3))
    w.close()
    assert verify(j).ok


def test_output_journal_torn_tail_names_the_frame_seq(tmp_path):
    j = tmp_path / "o"
    from journal_testkit import records
    w = writer(j, kind="output")
    w.open()
    w.append(records([4, 4, 9, 12]))
    w.close(seal=False)
    seg = last_segment(j)
    patch(seg, end_offset(3) + 100, bytes(60))
    w = writer(j, kind="output")
    report = w.open()
    assert (report.last_seq, report.torn_at_seq) == (9, 12)
    w.close()


def test_bad_frame_followed_by_valid_frames_is_corruption(tmp_path):
    j = make(tmp_path / "j", 40)
    seg = last_segment(j)
    before = seg.read_bytes()
    flip(seg, end_offset(24) + 50)  # inside frame 25 (its record's ts)
    with pytest.raises(CorruptJournal, match="valid frame follows") as e:
        writer(j).open()
    assert (e.value.seq, e.value.offset, e.value.segment) == (25, end_offset(24), 1)
    assert seg.read_bytes()[end_offset(25):] == before[end_offset(25):]  # nothing dropped
    with pytest.raises(CorruptJournal) as e:
        with JournalReader(j) as r:
            list(r.iter_batches())
    assert e.value.seq == 25
    # the writer's lock was released: once repaired, the journal opens
    patch(seg, 0, before[:SMALL_SEGMENT])
    w = writer(j)
    assert w.open().last_seq == 40
    w.close()


def test_gap_inside_valid_frames_is_corruption(tmp_path):
    """Frames whose hashes are fine but whose seqs jump: not a torn tail either."""
    j = make(tmp_path / "j", 20)
    other = make(tmp_path / "k", 30)
    seg, oseg = last_segment(j), last_segment(other)
    frame_30 = oseg.read_bytes()[end_offset(29):end_offset(30)]
    patch(seg, end_offset(20), frame_30)
    with pytest.raises(CorruptJournal, match="expected 21") as e:
        writer(j).open()
    assert e.value.seq == 30


def test_sealed_segment_missing_seal_or_segment(tmp_path):
    per = frames_per_segment()
    j = make(tmp_path / "j", per * 3)
    (j / "0000000002.seal").unlink()
    with pytest.raises(CorruptJournal, match="segment 2 has no seal"):
        writer(j).open()
    j2 = make(tmp_path / "j2", per * 3)
    segment_path(j2, 2).unlink()
    with pytest.raises(CorruptJournal, match="segment 2 is missing"):
        writer(j2).open()


def test_lost_lmdb_is_rebuilt(tmp_path):
    per = frames_per_segment()
    j = make(tmp_path / "j", per * 2 + 30, index_every=50)
    meta = open_meta(j, create=False)
    before = meta.index_entries()
    meta.close()
    shutil.rmtree(meta_path(j))
    w = writer(j, index_every=50)
    w.open()
    meta = open_meta(j, create=False)
    assert meta.index_entries() == before
    assert meta.get_seal(1) == read_seal_file(j, 1)
    meta.close()
    w.append(seq_range(per * 2 + 31, 10))
    w.close()
    with JournalReader(j) as r:
        assert same(r.read(per, per * 2 + 40), seq_range(per, per + 41))
    assert verify(j).ok


@pytest.mark.parametrize("content", [bytes(SMALL_SEGMENT), b""])
def test_empty_segment_file_from_an_interrupted_creation_is_removed(tmp_path, content):
    """Created without fsync before a power loss: the header (or even the file size)
    never reached the disk."""
    j = make(tmp_path / "j", 5, seal=True)
    segment_path(j, 2).write_bytes(content)
    (j / "0000000003.seg.tmp").write_bytes(b"partial")
    w = writer(j)
    report = w.open()
    assert report.last_seq == 5 and "removed empty segment" in report.message
    assert not (j / "0000000003.seg.tmp").exists()
    w.append(seq_range(6, 1))
    w.close()
    assert verify(j).ok


# ------------------------------------------------------------------ other formats

def test_wrong_kind(tmp_path):
    j = make(tmp_path / "j", 3)
    with pytest.raises(FormatError, match="input journal, not an output journal"):
        writer(j, kind="output").open()


def test_wrong_record_size(tmp_path):
    j = make(tmp_path / "j", 3)
    with pytest.raises(FormatError, match="records are 128 bytes, expected 192"):
        writer(j, record_size=192).open()


def test_wrong_magic(tmp_path):
    j = tmp_path / "j"
    j.mkdir()
    segment_path(j, 1).write_bytes(b"SQLite format 3\x00" + bytes(SMALL_SEGMENT))
    with pytest.raises(FormatError, match="not a Tandem journal segment"):
        writer(j).open()
    with pytest.raises(FormatError, match="not a Tandem journal segment"):
        JournalReader(j)


def test_unknown_format_version(tmp_path):
    j = tmp_path / "j"
    j.mkdir()
    hdr = SegmentHeader(1, 128, 1, 1, bytes(32), format_version=9).pack()
    segment_path(j, 1).write_bytes(hdr + bytes(SMALL_SEGMENT - 128))
    with pytest.raises(FormatError, match="format version 9"):
        writer(j).open()
    res = verify(j)
    assert not res.ok and res.reason.startswith("format:") and "format version 9" in res.reason


def test_newer_schema_version(tmp_path):
    j = tmp_path / "j"
    j.mkdir()
    hdr = SegmentHeader(1, 128, 1, 1, bytes(32), schema_version=999).pack()
    segment_path(j, 1).write_bytes(hdr + bytes(SMALL_SEGMENT - 128))
    with pytest.raises(FormatError, match="schema version 999"):
        JournalReader(j)


def test_damaged_header_is_corruption_not_format(tmp_path):
    j = make(tmp_path / "j", 3)
    flip(last_segment(j), 30)
    with pytest.raises(CorruptJournal, match="header checksum") as e:
        writer(j).open()
    assert e.value.segment == 1


def test_frames_before_the_tail_are_untouched_by_recovery(tmp_path):
    j = make(tmp_path / "j", 100)
    before = last_segment(j).read_bytes()
    w = writer(j)
    report = w.open()
    w.close(seal=False)
    assert report.truncated_bytes == 0
    assert last_segment(j).read_bytes() == before
    assert np.frombuffer(before[end_offset(100):], np.uint8).max() == 0
