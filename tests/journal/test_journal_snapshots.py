"""Snapshots of business-logic state in the journal's LMDB."""

import logging

import numpy as np
import pytest
from journal_testkit import SMALL_SEGMENT, seq_range

import journal.snapshots as snapshots
from journal import JournalReader, JournalWriter, SnapshotError, SnapshotStore
from journal.meta import open_meta, seq_key

ORDER = np.dtype([("id", "<u8"), ("px", "<i8"), ("qty", "<i8"), ("side", "u1"),
                  ("cl_ord_id", "u1", (20,))], align=False)


def state(k=0):
    orders = np.zeros(7, ORDER)
    orders["id"] = np.arange(7) + k
    orders["cl_ord_id"][:, 0] = 65 + k
    return {
        "orders": orders,
        "positions": np.arange(12, dtype="<i8").reshape(3, 4) * (k + 1),
        "flags": np.array([True, False, True]),
        "empty": np.zeros((0, 5), np.float64),
        "fortran": np.asfortranarray(np.arange(6, dtype=np.int32).reshape(2, 3)),
        "big_endian": np.arange(4, dtype=">u4"),
    }


def assert_same(a: dict, b: dict):
    assert list(a) == list(b)
    for name in a:
        assert a[name].dtype == b[name].dtype and a[name].shape == b[name].shape, name
        assert np.array_equal(a[name], b[name]), name


def corrupt(journal, seq, fn):
    meta = open_meta(journal, create=True)
    db = meta.dbs[b"snapshots"]
    with meta.env.begin(write=True, db=db) as txn:
        txn.put(seq_key(seq), fn(bytes(txn.get(seq_key(seq)))))
    meta.close()


def test_round_trip(tmp_path):
    with SnapshotStore(tmp_path / "j") as s:
        s.save(100, state(1), digest=0xDEADBEEF)
        s.save(50, state(2), digest=(1 << 64) - 1)
        assert s.list() == [50, 100]
        snap = s.load(100)
        assert (snap.seq, snap.digest) == (100, 0xDEADBEEF)
        assert_same(snap.arrays, state(1))
        assert s.load(50).digest == (1 << 64) - 1
        assert s.latest_valid().seq == 100
        assert s.latest_valid(max_seq=99).seq == 50
        assert s.latest_valid(max_seq=49) is None
        s.delete(50)
        assert s.list() == [100]
        with pytest.raises(SnapshotError, match="no snapshot at seq 50"):
            s.load(50)


def test_serialization_is_deterministic():
    a = snapshots.encode_snapshot(9, state(3), 77)
    b = snapshots.encode_snapshot(9, state(3), 77)
    assert a == b
    assert snapshots.encode_snapshot(9, dict(reversed(state(3).items())), 77) != a


def test_shares_lmdb_with_a_writer_and_reader(tmp_path):
    j = tmp_path / "j"
    w = JournalWriter(j, segment_bytes=SMALL_SEGMENT, fsync="none")
    w.open()
    w.append(seq_range(1, 10))
    with SnapshotStore(j) as s, JournalReader(j) as r:
        s.save(10, state(), 1)
        assert r.last_seq == 10 and s.load(10).seq == 10
    w.close()


@pytest.mark.parametrize("damage, match", [
    (lambda v: v[:300] + bytes([v[300] ^ 1]) + v[301:], "checksum mismatch"),
    (lambda v: v[:-1] + bytes([v[-1] ^ 1]), "checksum mismatch"),
    (lambda v: v[: len(v) // 2], "truncated"),
    (lambda v: v[:10], "truncated"),
    (lambda v: b"NOTASNAP" + v[8:], "bad magic"),
])
def test_corrupted_snapshot(tmp_path, damage, match, caplog):
    j = tmp_path / "j"
    with SnapshotStore(j) as s:
        s.save(10, state(1), 1)
        s.save(20, state(2), 2)
        corrupt(j, 20, damage)
        with pytest.raises(SnapshotError, match=match):
            s.load(20)
        with caplog.at_level(logging.WARNING):
            snap = s.latest_valid()
        assert snap.seq == 10  # falls back to the older one
        assert_same(snap.arrays, state(1))
        assert "snapshot at seq 20" in caplog.text and match in caplog.text


def test_other_schema_version_is_refused(tmp_path, monkeypatch):
    j = tmp_path / "j"
    with SnapshotStore(j) as s:
        s.save(10, state(), 1)
        monkeypatch.setattr(snapshots, "SCHEMA_VERSION", snapshots.SCHEMA_VERSION + 1)
        s.save(20, state(), 2)
        monkeypatch.undo()
        with pytest.raises(SnapshotError, match="schema version"):
            s.load(20)
        assert s.latest_valid().seq == 10


def test_object_arrays_are_refused(tmp_path):
    with SnapshotStore(tmp_path / "j") as s:
        with pytest.raises(SnapshotError, match="object"):
            s.save(1, {"x": np.array([object()])}, 0)
        assert s.list() == []
