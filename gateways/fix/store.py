"""FIX session stores: the sequence numbers and the sent messages of one session.

A FIX session outlives its TCP connections (and, for a gateway, its process): the next
MsgSeqNum to send, the next one expected from the counterparty and every message sent
(raw bytes by MsgSeqNum, for ResendRequests) must survive a reconnect. Two stores share
one interface:

- ``MemoryStore``: a dict; lives as long as the process (the venue simulator's day).
- ``LmdbStore(directory)``: one LMDB environment per session directory; every change is
  one committed transaction, so a restarted process resumes the session where it stood
  and can still serve resends of what the old process sent.

``reset()`` starts the session over (ResetSeqNumFlag 141=Y at Logon, a new day): both
sequence numbers back to 1 and the sent messages forgotten.
"""

from __future__ import annotations

import struct
from pathlib import Path

import lmdb
import numpy as np

__all__ = ["SessionStore", "MemoryStore", "LmdbStore"]


class SessionStore:
    """The interface; ``MemoryStore`` and ``LmdbStore`` implement it."""

    next_sender_seq: int   # MsgSeqNum of the next message we send
    next_target_seq: int   # MsgSeqNum we expect next from the counterparty

    def set_next_sender_seq(self, seq: int) -> None:
        raise NotImplementedError

    def set_next_target_seq(self, seq: int) -> None:
        raise NotImplementedError

    def store_sent(self, seq: int, raw: bytes) -> None:
        """Keep a sent message and make ``seq + 1`` the next to send (one step)."""
        raise NotImplementedError

    def store_sent_many(self, first_seq: int, raw: bytes, ends) -> None:
        """Keep messages ``raw[ends[k-1]:ends[k]]`` numbered from ``first_seq`` (one step)."""
        start = 0
        for k, end in enumerate(ends):
            self.store_sent(first_seq + k, raw[start:int(end)])
            start = int(end)

    def get_sent(self, begin: int, end: int) -> list[tuple[int, bytes]]:
        """Stored messages with begin <= seq <= end, in order (end 0: no upper bound)."""
        raise NotImplementedError

    def reset(self) -> None:
        raise NotImplementedError

    def flush(self) -> None:
        """Make what was stored durable (a store that syncs in batches does it here)."""

    def close(self) -> None:
        pass


def _check(seq: int) -> int:
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
        raise ValueError(f"sequence number {seq!r} must be an int >= 1")
    return seq


class MemoryStore(SessionStore):
    def __init__(self) -> None:
        self.reset()

    def set_next_sender_seq(self, seq: int) -> None:
        self.next_sender_seq = _check(seq)

    def set_next_target_seq(self, seq: int) -> None:
        self.next_target_seq = _check(seq)

    def store_sent(self, seq: int, raw: bytes) -> None:
        self._sent[_check(seq)] = bytes(raw)
        self.next_sender_seq = seq + 1

    def get_sent(self, begin: int, end: int) -> list[tuple[int, bytes]]:
        return [(s, m) for s, m in sorted(self._sent.items()) if s >= begin and (end == 0 or s <= end)]

    def reset(self) -> None:
        self.next_sender_seq = 1
        self.next_target_seq = 1
        self._sent: dict[int, bytes] = {}


_SENDER, _TARGET = b"next_sender_seq", b"next_target_seq"
_Q = struct.Struct(">Q")   # big-endian keys sort by sequence number


class LmdbStore(SessionStore):
    """Sequence numbers in a ``meta`` database; sent messages in ``sent_batches``, one
    entry per batch stored together (a single ``store_sent`` is a batch of one), keyed by
    the big-endian MsgSeqNum of its first message: the value is the message count (u32),
    each message's end offset (u32 each) and the messages. One entry per batch keeps the
    order gateway's cost per report free of LMDB calls; a resend reads the batches that
    cover the range asked for.

    ``fsync``: ``"always"`` syncs every commit to disk; ``"batch"`` (default, like the
    journal's policy) commits to the page cache, which survives the process (SIGKILL
    included), and ``flush()`` syncs, which the acceptor does on every tick (0.1 s): a
    host crash loses at most that much of the store, and the journal still says what was
    sequenced. The numbers are kept in memory too, so reading them costs nothing."""

    def __init__(self, directory, map_size: int = 1 << 30, fsync: str = "batch") -> None:
        if fsync not in ("always", "batch"):
            raise ValueError(f"fsync {fsync!r} is not 'always' or 'batch'")
        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True)
        self.env = lmdb.open(str(path), map_size=map_size, subdir=True, max_dbs=2, sync=fsync == "always")
        self._meta = self.env.open_db(b"meta")
        self._sent = self.env.open_db(b"sent_batches")
        self._dirty = False
        with self.env.begin(write=True) as txn:
            for key in (_SENDER, _TARGET):
                if txn.get(key, db=self._meta) is None:
                    txn.put(key, _Q.pack(1), db=self._meta)
            self._seq = {k: _Q.unpack(txn.get(k, db=self._meta))[0] for k in (_SENDER, _TARGET)}

    @property
    def next_sender_seq(self) -> int:
        return self._seq[_SENDER]

    @property
    def next_target_seq(self) -> int:
        return self._seq[_TARGET]

    def _put_seq(self, key: bytes, seq: int) -> None:
        with self.env.begin(write=True) as txn:
            txn.put(key, _Q.pack(_check(seq)), db=self._meta)
        self._seq[key] = seq
        self._dirty = True

    def set_next_sender_seq(self, seq: int) -> None:
        self._put_seq(_SENDER, seq)

    def set_next_target_seq(self, seq: int) -> None:
        self._put_seq(_TARGET, seq)

    def store_sent(self, seq: int, raw: bytes) -> None:
        self.store_sent_many(seq, raw, np.array([len(raw)], np.uint32))

    def store_sent_many(self, first_seq: int, raw: bytes, ends) -> None:
        ends = np.asarray(ends, np.uint32)
        value = struct.pack("<I", len(ends)) + ends.astype("<u4").tobytes() + bytes(raw)
        nxt = _check(first_seq) + len(ends)
        with self.env.begin(write=True) as txn:
            txn.put(_Q.pack(first_seq), value, db=self._sent)
            txn.put(_SENDER, _Q.pack(nxt), db=self._meta)
        self._seq[_SENDER] = nxt
        self._dirty = True

    def flush(self) -> None:
        if self._dirty:
            self.env.sync(True)
            self._dirty = False

    def get_sent(self, begin: int, end: int) -> list[tuple[int, bytes]]:
        out = []
        with self.env.begin() as txn:
            cur = txn.cursor(db=self._sent)
            # the batch holding ``begin`` starts at or before it
            found = cur.set_range(_Q.pack(max(begin, 0)))
            if not found or _Q.unpack(cur.key())[0] > begin:
                if not (cur.prev() if found else cur.last()):
                    cur.first()
            for key, value in cur:
                first = _Q.unpack(key)[0]
                if end and first > end:
                    break
                count = struct.unpack_from("<I", value)[0]
                ends = np.frombuffer(value, "<u4", count, 4).tolist()
                body = bytes(value[4 + 4 * count:])
                start = 0
                for k, stop in enumerate(ends):
                    seq = first + k
                    if seq >= begin and (not end or seq <= end):
                        out.append((seq, body[start:stop]))
                    start = stop
        return out

    def reset(self) -> None:
        with self.env.begin(write=True) as txn:
            txn.drop(self._sent, delete=False)
            txn.put(_SENDER, _Q.pack(1), db=self._meta)
            txn.put(_TARGET, _Q.pack(1), db=self._meta)
        self._seq = {_SENDER: 1, _TARGET: 1}
        self._dirty = True

    def close(self) -> None:
        self.flush()
        self.env.close()
