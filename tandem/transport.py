"""Batches of fixed-size records over Aeron.

A message is a whole number of records (at most ``max_message_bytes``), so one offer
carries hundreds of records and the transport stays far from the bottleneck. Falsy
offer codes are always handled: back pressure and admin actions are retried (or, for
an agent, left queued for its next duty cycle), and "not connected" or a reader that
does not keep up is reported to the caller, who decides (a producer waits for its
sequencer; the sequencer's outbound stream may have no live or no fast reader, since
consumers catch up from the output journal).
"""

from __future__ import annotations

import logging
import time
from collections import deque

import numpy as np
import pyaeron

log = logging.getLogger(__name__)


class NotConnected(Exception):
    pass


class BackPressured(Exception):
    def __init__(self, message: str, unsent_records: int):
        super().__init__(message)
        self.unsent_records = unsent_records


class RecordPublisher:
    """Blocking ``publish`` for one-off sends; ``enqueue`` + ``flush`` for agents, whose
    duty cycle must never block (a producer blocked on a full inbound stream while the
    sequencer is blocked on its full outbound stream is a deadlock)."""

    def __init__(self, aeron, channel: str, stream_id: int, record_size: int, max_message_bytes: int):
        self.pub = aeron.add_exclusive_publication(channel, stream_id)
        self.record_size = record_size
        self.per_message = max(1, max_message_bytes // record_size)
        self.offers = 0
        self.back_pressured = 0
        self.pending: deque[np.ndarray] = deque()  # message-sized chunks, oldest first
        self.pending_records = 0

    @property
    def is_connected(self) -> bool:
        return self.pub.is_connected

    def _chunks(self, records: np.ndarray):
        raw = records.view(np.uint8).reshape(-1)
        step = self.per_message * self.record_size
        for start in range(0, len(raw), step):
            yield raw[start:start + step]

    def publish(self, records: np.ndarray, wait_s: float = 5.0, backpressure_s: float | None = None) -> None:
        """Send every record, in order. Raises NotConnected after ``wait_s`` without a
        reader, BackPressured after ``backpressure_s`` of a reader not keeping up."""
        chunks = list(self._chunks(records))
        for i, chunk in enumerate(chunks):
            try:
                self._offer(chunk, wait_s, backpressure_s)
            except BackPressured as e:
                e.unsent_records = sum(len(c) for c in chunks[i:]) // self.record_size
                raise

    def _offer(self, chunk: np.ndarray, wait_s: float, backpressure_s: float | None) -> None:
        deadline = None
        pressured_since = None
        while True:
            result = self.pub.offer(chunk)
            if result:
                self.offers += 1
                return
            if result == pyaeron.NOT_CONNECTED:
                if wait_s <= 0:
                    raise NotConnected(f"no subscriber on {self.pub.channel} stream {self.pub.stream_id}")
                if deadline is None:
                    deadline = time.monotonic() + wait_s
                elif time.monotonic() > deadline:
                    raise NotConnected(f"no subscriber on {self.pub.channel} stream {self.pub.stream_id}")
                time.sleep(0.001)
            else:  # back pressure or admin action: the reader is behind, retry
                self.back_pressured += 1
                if backpressure_s is not None:
                    now = time.monotonic()
                    pressured_since = pressured_since or now
                    if now - pressured_since > backpressure_s:
                        raise BackPressured(f"reader of {self.pub.channel} stream {self.pub.stream_id} "
                                            f"not keeping up for {backpressure_s}s", 0)
                time.sleep(0)

    def enqueue(self, records: np.ndarray) -> None:
        for chunk in self._chunks(records):
            self.pending.append(chunk.copy())
        self.pending_records += len(records)

    def drop_pending(self) -> None:
        """Forget queued messages (a caller about to re-send from its own record)."""
        self.pending.clear()
        self.pending_records = 0

    def flush(self) -> int:
        """Offer queued messages until one is refused; never waits. Records sent."""
        sent = 0
        while self.pending:
            if not self.pub.offer(self.pending[0]):
                self.back_pressured += 1
                break
            self.offers += 1
            n = len(self.pending.popleft()) // self.record_size
            self.pending_records -= n
            sent += n
        return sent

    def close(self):
        self.pub.close()


class RecordSubscriber:
    """Copies arriving records into a preallocated buffer (views die with the callback)."""

    def __init__(self, aeron, channel: str, stream_id: int, record_size: int, batch_max: int,
                 max_message_bytes: int, available_image=None, unavailable_image=None):
        self.sub = aeron.add_subscription(channel, stream_id, available_image=available_image,
                                          unavailable_image=unavailable_image)
        self.record_size = record_size
        self.batch_max = batch_max
        # One message may overshoot batch_max by up to a message's worth of records.
        self.buf = np.zeros(batch_max * record_size + max_message_bytes, np.uint8)
        self.count = 0
        self.malformed = 0  # messages that were not a whole number of records
        # One handler object for the subscription's life: pyaeron keeps the reassembly of
        # multi-fragment messages per handler, and a fresh bound method per poll would
        # silently drop every message larger than one MTU.
        self._handler = self._on_fragment

    def _on_fragment(self, view, header):
        data = np.frombuffer(view, np.uint8)
        n = len(data)
        start = self.count * self.record_size
        if n % self.record_size or start + n > len(self.buf):
            self.malformed += 1
            log.warning("dropped a %d-byte message: not a whole number of %d-byte records "
                        "or larger than max_message_bytes", n, self.record_size)
            return
        self.buf[start:start + n] = data
        self.count += n // self.record_size

    def poll(self) -> np.ndarray:
        """Bytes of the records received since the last call (valid until the next poll)."""
        self.count = 0
        while self.count < self.batch_max and self.sub.poll(self._handler, 1):
            pass
        return self.buf[: self.count * self.record_size]

    @property
    def is_connected(self) -> bool:
        return self.sub.is_connected

    def close(self):
        self.sub.close()


class MessagePublisher:
    """Whole messages (a header and a payload, as the replication protocol uses)."""

    def __init__(self, aeron, channel: str, stream_id: int):
        self.pub = aeron.add_exclusive_publication(channel, stream_id)

    def offer(self, msg: np.ndarray) -> bool:
        """One try: False if not connected or back-pressured (the caller decides)."""
        return bool(self.pub.offer(msg))

    def send(self, msg: np.ndarray, wait_s: float) -> bool:
        """Retry for up to ``wait_s``; False if it could not be sent in that time."""
        deadline = time.monotonic() + wait_s
        while not self.pub.offer(msg):
            if time.monotonic() > deadline:
                return False
            time.sleep(0)
        return True

    @property
    def is_connected(self) -> bool:
        return self.pub.is_connected

    def close(self):
        self.pub.close()


class MessageSubscriber:
    """Copies each arriving message out (views die with the callback)."""

    def __init__(self, aeron, channel: str, stream_id: int):
        self.sub = aeron.add_subscription(channel, stream_id)
        self._got: list[np.ndarray] = []
        self._handler = self._on_message  # one handler object: pyaeron reassembles per handler

    def _on_message(self, view, header):
        self._got.append(np.frombuffer(view, np.uint8).copy())

    def poll(self, limit: int = 64) -> list[np.ndarray]:
        self._got = []
        while len(self._got) < limit and self.sub.poll(self._handler, 1):
            pass
        return self._got

    def close(self):
        self.sub.close()
