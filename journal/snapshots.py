"""SnapshotStore: business-logic state (named numpy arrays) at a seq, in the journal's LMDB.

Value layout (little-endian), deterministic for the same arrays in the same order::

    magic b"TANDEMS1" | format u2 | schema version u2 | count u4 | seq u8 | digest u8 |
    total length u8 (whole value, checksum included)
    per array: name length u2, name (utf-8), descr length u4, descr (repr of
               np.lib.format.dtype_to_descr), ndim u4, shape u8 * ndim, nbytes u8, bytes
    BLAKE2b-256 of everything before it

Start-up loads the newest valid snapshot and replays the journal after its seq.
"""

from __future__ import annotations

import ast
import hashlib
import logging
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sequencer.records import SCHEMA_VERSION

from .errors import SnapshotError
from .meta import MetaHolder, key_seq, open_meta, seq_key

log = logging.getLogger(__name__)

MAGIC = b"TANDEMS1"
FORMAT_VERSION = 1
_HEAD = struct.Struct("<8sHHIQQQ")
_SUM = 32


@dataclass
class Snapshot:
    seq: int
    digest: int
    arrays: dict[str, np.ndarray]


def encode_snapshot(seq: int, arrays: dict[str, np.ndarray], digest: int) -> bytearray:
    parts = []
    for name, a in arrays.items():
        a = np.ascontiguousarray(a)
        if a.dtype.hasobject:
            raise SnapshotError(f"array {name!r}: object dtypes cannot be snapshotted")
        nm = name.encode()
        descr = repr(np.lib.format.dtype_to_descr(a.dtype)).encode()
        parts.append(struct.pack("<H", len(nm)) + nm + struct.pack("<I", len(descr)) + descr
                     + struct.pack(f"<I{a.ndim}Q", a.ndim, *a.shape)
                     + struct.pack("<Q", a.nbytes))
        parts.append(a)
    total = _HEAD.size + sum(len(x) if isinstance(x, bytes) else x.nbytes for x in parts) + _SUM
    out = bytearray(total)  # one buffer, filled in place: states can be hundreds of MB
    _HEAD.pack_into(out, 0, MAGIC, FORMAT_VERSION, SCHEMA_VERSION, len(arrays), seq,
                    int(digest) & ((1 << 64) - 1), total)
    view = memoryview(out)
    pos = _HEAD.size
    for x in parts:
        raw = x if isinstance(x, bytes) else x.reshape(-1).view(np.uint8)
        view[pos:pos + len(raw)] = raw
        pos += len(raw)
    view[pos:] = hashlib.blake2b(view[:pos], digest_size=_SUM).digest()
    return out


def decode_snapshot(raw, what: str) -> Snapshot:
    """Check and decode a stored value; SnapshotError names the problem."""
    mv = memoryview(raw)
    if len(mv) < _HEAD.size + _SUM:
        raise SnapshotError(f"{what}: truncated ({len(mv)} bytes)")
    magic, fmt, schema, count, seq, digest, total = _HEAD.unpack_from(mv, 0)
    if magic != MAGIC:
        raise SnapshotError(f"{what}: bad magic {bytes(magic)!r}, not a Tandem snapshot")
    if len(mv) < total:
        raise SnapshotError(f"{what}: truncated ({len(mv)} of {total} bytes)")
    if hashlib.blake2b(mv[:total - _SUM], digest_size=_SUM).digest() != mv[total - _SUM:total]:
        raise SnapshotError(f"{what}: checksum mismatch")
    if fmt != FORMAT_VERSION:
        raise SnapshotError(f"{what}: snapshot format version {fmt}, this build reads "
                            f"{FORMAT_VERSION}")
    if schema != SCHEMA_VERSION:
        raise SnapshotError(f"{what}: schema version {schema}, this build is "
                            f"{SCHEMA_VERSION}; replay the journal instead")
    arrays = {}
    pos = _HEAD.size
    end = total - _SUM
    try:
        for _ in range(count):
            (ln,) = struct.unpack_from("<H", mv, pos)
            name = bytes(mv[pos + 2:pos + 2 + ln]).decode()
            pos += 2 + ln
            (ln,) = struct.unpack_from("<I", mv, pos)
            dtype = np.lib.format.descr_to_dtype(ast.literal_eval(bytes(mv[pos + 4:pos + 4 + ln])
                                                                  .decode()))
            pos += 4 + ln
            (ndim,) = struct.unpack_from("<I", mv, pos)
            shape = struct.unpack_from(f"<{ndim}Q", mv, pos + 4)
            (nbytes,) = struct.unpack_from("<Q", mv, pos + 4 + 8 * ndim)
            pos += 12 + 8 * ndim
            if pos + nbytes > end or nbytes != dtype.itemsize * int(np.prod(shape)):
                raise SnapshotError(f"{what}: truncated array {name!r}")
            arrays[name] = np.frombuffer(mv[pos:pos + nbytes], dtype).reshape(shape).copy()
            pos += nbytes
    except (struct.error, ValueError, SyntaxError) as e:
        raise SnapshotError(f"{what}: truncated or malformed ({e})") from None
    if pos != end:
        raise SnapshotError(f"{what}: {end - pos} unexpected bytes after the arrays")
    return Snapshot(seq, digest, arrays)


class SnapshotStore(MetaHolder):
    def __init__(self, journal_path):
        self.path = Path(journal_path)
        self.path.mkdir(parents=True, exist_ok=True)
        self._meta = open_meta(self.path, create=True)
        self._db = self._meta.dbs[b"snapshots"]

    def save(self, seq: int, arrays: dict[str, np.ndarray], digest: int) -> None:
        value = encode_snapshot(seq, arrays, digest)
        with self._meta.env.begin(write=True, db=self._db) as txn:
            txn.put(seq_key(seq), value)
        self._meta.sync()  # a snapshot others may truncate the journal against: make it durable

    def load(self, seq: int) -> Snapshot:
        with self._meta.env.begin(db=self._db, buffers=True) as txn:
            raw = txn.get(seq_key(seq))
            if raw is None:
                raise SnapshotError(f"no snapshot at seq {seq}")
            snap = decode_snapshot(raw, f"snapshot at seq {seq}")  # copies out of the map
        if snap.seq != seq:
            raise SnapshotError(f"snapshot at seq {seq}: says it is for seq {snap.seq}")
        return snap

    def latest_valid(self, max_seq: int | None = None) -> Snapshot | None:
        """The newest snapshot with seq <= max_seq that loads; invalid ones are logged."""
        for seq in reversed(self.list()):
            if max_seq is not None and seq > max_seq:
                continue
            try:
                return self.load(seq)
            except SnapshotError as e:
                log.warning("skipping invalid snapshot: %s", e)
        return None

    def list(self) -> list[int]:
        with self._meta.env.begin(db=self._db) as txn:
            return [key_seq(k) for k in txn.cursor().iternext(keys=True, values=False)]

    def delete(self, seq: int) -> None:
        with self._meta.env.begin(write=True, db=self._db) as txn:
            txn.delete(seq_key(seq))

