"""Response stores: every numbered response a binary session sent, by response_seq.

Responses are numbered per session from 1 without gaps and outlive the TCP connection
(and the gateway process): a client that reconnects asks for what it missed, by number,
at Login or with a ReplayRequest. Responses arrive in batches (one per batch of core
events), so a batch is stored as one value: one write per batch, not per response.

- ``MemoryStore``: one growing buffer; lives as long as the process (tests).
- ``LmdbStore(directory)``: one LMDB environment per session directory; each batch is
  one committed transaction holding the responses and the next number together, so a
  crash leaves either both or neither.

``reset()`` starts the numbering over at 1 and forgets every response (a new day).
"""

from __future__ import annotations

import struct
from pathlib import Path

import lmdb

from gateways.binary.protocol import RESPONSE_SIZE

__all__ = ["ResponseStore", "MemoryStore", "LmdbStore"]


class ResponseStore:
    """The interface; ``MemoryStore`` and ``LmdbStore`` implement it."""

    next_seq: int   # response_seq the next stored response gets

    def append(self, first_seq: int, raw: bytes) -> None:
        """Store whole responses numbered ``first_seq`` onwards (it must be ``next_seq``:
        numbering has no gaps) and move ``next_seq`` past them, in one step."""
        raise NotImplementedError

    def get(self, begin: int, end: int) -> bytes:
        """The stored responses with begin <= seq < end, concatenated in order."""
        raise NotImplementedError

    def reset(self) -> None:
        raise NotImplementedError

    def flush(self) -> None:
        """Make what was appended durable (a store that syncs in batches does it here)."""

    def close(self) -> None:
        pass


def _check_append(store: ResponseStore, first_seq: int, raw: bytes) -> None:
    if first_seq != store.next_seq:
        raise ValueError(f"responses from {first_seq} would leave a gap: the next is {store.next_seq}")
    if len(raw) % RESPONSE_SIZE:
        raise ValueError(f"{len(raw)} bytes are not whole {RESPONSE_SIZE}-byte responses")


class MemoryStore(ResponseStore):
    def __init__(self) -> None:
        self.reset()

    @property
    def next_seq(self) -> int:
        return 1 + len(self._data) // RESPONSE_SIZE

    def append(self, first_seq: int, raw: bytes) -> None:
        _check_append(self, first_seq, raw)
        self._data += raw

    def get(self, begin: int, end: int) -> bytes:
        begin, end = max(begin, 1), min(end, self.next_seq)
        if begin >= end:
            return b""
        return bytes(self._data[(begin - 1) * RESPONSE_SIZE:(end - 1) * RESPONSE_SIZE])

    def reset(self) -> None:
        self._data = bytearray()


_NEXT = b"next_seq"
_Q = struct.Struct(">Q")   # big-endian keys sort by sequence number


class LmdbStore(ResponseStore):
    """``meta`` holds next_seq; ``responses`` holds each batch under its first seq
    (big-endian), so a range read starts at the batch holding ``begin``."""

    def __init__(self, directory, map_size: int = 1 << 32, sync: bool = True) -> None:
        """``sync=False``: commits reach the page cache (they survive the process, SIGKILL
        included) and ``flush()`` syncs them to disk, which the gateway does every tick,
        as the FIX stores do."""
        path = Path(directory)
        self._dirty = False
        path.mkdir(parents=True, exist_ok=True)
        self.env = lmdb.open(str(path), map_size=map_size, subdir=True, max_dbs=2, sync=sync)
        self._meta = self.env.open_db(b"meta")
        self._responses = self.env.open_db(b"responses")
        with self.env.begin(write=True) as txn:
            if txn.get(_NEXT, db=self._meta) is None:
                txn.put(_NEXT, _Q.pack(1), db=self._meta)
            self._next = _Q.unpack(txn.get(_NEXT, db=self._meta))[0]

    @property
    def next_seq(self) -> int:
        return self._next

    def append(self, first_seq: int, raw: bytes) -> None:
        _check_append(self, first_seq, raw)
        if not raw:
            return
        nxt = first_seq + len(raw) // RESPONSE_SIZE
        with self.env.begin(write=True) as txn:
            txn.put(_Q.pack(first_seq), bytes(raw), db=self._responses)
            txn.put(_NEXT, _Q.pack(nxt), db=self._meta)
        self._next = nxt
        self._dirty = True

    def flush(self) -> None:
        if self._dirty:
            self.env.sync(True)
            self._dirty = False

    def get(self, begin: int, end: int) -> bytes:
        begin, end = max(begin, 1), min(end, self._next)
        if begin >= end:
            return b""
        parts = []
        with self.env.begin() as txn:
            cur = txn.cursor(db=self._responses)
            # the batch holding `begin` starts at or before it: the last key <= begin
            if not cur.set_range(_Q.pack(begin)) or _Q.unpack(cur.key())[0] > begin:
                if not cur.prev():
                    cur.first()
            for key, value in cur:
                first = _Q.unpack(key)[0]
                if first >= end:
                    break
                lo = max(begin - first, 0) * RESPONSE_SIZE
                hi = (end - first) * RESPONSE_SIZE
                parts.append(bytes(value[lo:hi]))
        return b"".join(parts)

    def reset(self) -> None:
        with self.env.begin(write=True) as txn:
            txn.drop(self._responses, delete=False)
            txn.put(_NEXT, _Q.pack(1), db=self._meta)
        self._next = 1

    def close(self) -> None:
        self.flush()
        self.env.close()
