"""Exceptions raised by the journal package."""

from __future__ import annotations


class JournalError(Exception):
    """A journal operation that cannot be done (bad input, wrong state, locked, ...)."""


class CorruptJournal(JournalError):
    """Stored bytes that fail their checks where a torn tail cannot explain them.

    ``seq`` is the sequence number the bad frame holds or should hold (None if unknown),
    ``offset`` its byte offset in segment number ``segment``.
    """

    def __init__(self, message: str, seq: int | None = None, offset: int | None = None,
                 segment: int | None = None):
        super().__init__(message)
        self.seq = seq
        self.offset = offset
        self.segment = segment


class FormatError(JournalError):
    """Files of another format, kind or record size than the one asked for."""


class SnapshotError(JournalError):
    """A snapshot that cannot be loaded (checksum, magic, schema version, truncated)."""
