"""Tandem's journal: framed, hashed, sealed, memory-mapped segment files, with the
sparse index, seals and snapshots in LMDB. See journal/format.py for the layout."""

from .errors import CorruptJournal, FormatError, JournalError, SnapshotError
from .reader import JournalReader, JournalTailer
from .snapshots import Snapshot, SnapshotStore
from .verify import VerifyResult, verify
from .writer import JournalWriter, RecoveryReport
from .xxh64 import xxh64

__all__ = [
    "JournalWriter", "JournalReader", "JournalTailer", "RecoveryReport", "verify",
    "VerifyResult", "SnapshotStore", "Snapshot", "JournalError", "CorruptJournal",
    "FormatError", "SnapshotError", "xxh64",
]
