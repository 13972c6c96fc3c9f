"""The LMDB environment of a journal directory: sparse index, seals, snapshots.

``<journal>/meta.lmdb`` holds three named databases:

- ``index``: seq (big-endian u8, so cursor order is seq order) -> (segment u4, offset u8)
  of the first frame carrying that seq; sparse (each segment start and every
  ``index_every`` frames). Derived data: recovery rebuilds what is missing.
- ``seals``: segment index (big-endian u8) -> SealInfo (the sidecar seal files are the
  primary copy; this one is checked against them by ``verify``).
- ``snapshots``: seq (big-endian u8) -> serialized business-logic state.

LMDB refuses a second open of the same environment in one process, and a writer, its
readers, tailers and the snapshot store often share a process (tests, tools), so
environments are shared through a reference-counted registry keyed by directory.

Commits do not fsync (``sync=False``): the index is rebuilt on recovery and the seals
have durable sidecars; ``sync()`` is called where durability matters (snapshots, seals).
"""

from __future__ import annotations

import os
import struct
import threading
from pathlib import Path

import lmdb

from .format import SealInfo

MAP_SIZE = 16 << 30
DB_NAMES = (b"index", b"seals", b"snapshots")

_U8 = struct.Struct(">Q")
_LOC = struct.Struct("<IQ")

_lock = threading.RLock()  # re-entrant: a close() from a finalizer may run inside it
_open: dict[str, "Meta"] = {}


def seq_key(seq: int) -> bytes:
    return _U8.pack(seq)


def key_seq(key) -> int:
    return _U8.unpack(bytes(key))[0]


def meta_path(journal: Path) -> Path:
    return Path(journal) / "meta.lmdb"


def open_meta(journal: Path, create: bool) -> "Meta | None":
    """The shared environment of ``journal``; None if it has none and ``create`` is False."""
    path = meta_path(journal)
    key = os.path.realpath(path)
    with _lock:
        m = _open.get(key)
        if m is not None:
            if create and m.readonly:
                raise lmdb.Error(f"{path} is open read-only in this process")
            if create:
                m.open_dbs(create=True)
            m.refs += 1
            return m
        if not path.exists() and not create:
            return None
        readonly = not create and not os.access(path, os.W_OK)
        env = lmdb.open(str(path), map_size=MAP_SIZE, subdir=True, max_dbs=len(DB_NAMES),
                        sync=False, readahead=False, readonly=readonly)
        m = Meta(key, env, readonly)
        m.open_dbs(create)
        _open[key] = m
        return m


class Meta:
    def __init__(self, key: str, env: lmdb.Environment, readonly: bool):
        self.key = key
        self.env = env
        self.readonly = readonly
        self.refs = 1
        self.dbs = {name: None for name in DB_NAMES}

    def open_dbs(self, create: bool) -> None:
        """Open the named databases; readers never create them (a missing one is empty)."""
        for name in DB_NAMES:
            if self.dbs[name] is None:
                # (py-lmdb keeps a handle opened this way; one opened in a caller's
                # read-only transaction would be dropped when that transaction ends)
                try:
                    self.dbs[name] = self.env.open_db(name, create=create)
                except lmdb.NotFoundError:
                    pass

    def close(self) -> None:
        with _lock:
            self.refs -= 1
            if self.refs == 0:
                _open.pop(self.key, None)
                self.env.close()

    def sync(self) -> None:
        if not self.readonly:
            self.env.sync(True)

    # ------------------------------------------------------------------ index
    def put_index(self, entries) -> None:
        """``entries``: iterable of (segment, seqs array, offsets array)."""
        db = self.dbs[b"index"]
        with self.env.begin(write=True, db=db) as txn:
            for segment, seqs, offs in entries:
                for s, o in zip(seqs.tolist(), offs.tolist()):
                    txn.put(seq_key(s), _LOC.pack(segment, o))

    def index_floor(self, seq: int) -> tuple[int, int, int] | None:
        """The entry with the largest seq <= ``seq``: (seq, segment, offset)."""
        db = self.dbs[b"index"]
        if db is None:
            return None
        with self.env.begin(db=db) as txn:
            cur = txn.cursor()
            if cur.set_range(seq_key(seq)):
                if key_seq(cur.key()) == seq:
                    return (seq, *_LOC.unpack(cur.value()))
                if not cur.prev():
                    return None
            elif not cur.last():
                return None
            return (key_seq(cur.key()), *_LOC.unpack(cur.value()))

    def index_entries(self) -> list[tuple[int, int, int]]:
        db = self.dbs[b"index"]
        if db is None:
            return []
        with self.env.begin(db=db) as txn:
            return [(key_seq(k), *_LOC.unpack(v)) for k, v in txn.cursor()]

    def drop_index_after(self, last_seq: int, last_segment: int, end: int) -> int:
        """Delete entries past the recovered end of the journal; returns how many."""
        db = self.dbs[b"index"]
        dropped = 0
        with self.env.begin(write=True, db=db) as txn:
            cur = txn.cursor()
            if not cur.last():
                return 0
            while True:
                s = key_seq(cur.key())
                seg, off = _LOC.unpack(cur.value())
                if s > last_seq or seg > last_segment or (seg == last_segment and off >= end):
                    cur.delete()  # moves to the next entry, which was already checked
                    dropped += 1
                    if not cur.last():
                        break
                else:
                    break
        return dropped

    # ------------------------------------------------------------------ seals
    def put_seal(self, info: SealInfo) -> None:
        with self.env.begin(write=True, db=self.dbs[b"seals"]) as txn:
            txn.put(seq_key(info.segment), info.to_lmdb())

    def get_seal(self, segment: int) -> SealInfo | None:
        db = self.dbs[b"seals"]
        if db is None:
            return None
        with self.env.begin(db=db) as txn:
            raw = txn.get(seq_key(segment))
        return None if raw is None else SealInfo.from_lmdb(segment, raw)


class MetaHolder:
    """Holds the directory's shared LMDB environment (``self._meta``) and gives it back
    on close, on leaving a ``with`` block, or when collected."""

    _meta = None

    def close(self) -> None:
        if self._meta is not None:
            self._meta.close()
            self._meta = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass
