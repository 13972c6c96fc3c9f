"""BusinessLogic: moves sequenced command batches through the kernels.

Python here only slices batches and places StateDigest events; every decision is in
``kernels.process_batch``. Digests are placed by input seq, never by batch boundary:
one after each input whose seq is a multiple of ``digest_every`` (reason PERIODIC) and
one after each ADMIN_DIGEST command (reason ON_DEMAND; if both fall on the same input
a single ON_DEMAND digest is written). So live, replay and standby, whatever their
batch sizes, write byte-identical event streams.
"""

from __future__ import annotations

import numpy as np

from . import kernels
from . import records as R
from .state import S_INPUTS, S_LAST_SEQ, S_LAST_TS, State

# Inputs per kernel call inside one apply(): bounds the event scratch buffer
# ((2 * CHUNK + EXTRA_EVENTS) * 192 bytes, about 26 MiB) however large the batch.
CHUNK = 1 << 16
EXTRA_EVENTS = 4096


class BusinessLogic:
    def __init__(self, state: State, digest_every: int = 100_000):
        if digest_every < 0:
            raise ValueError("digest_every must be >= 0 (0: no periodic digests)")
        self.state = state
        self.digest_every = int(digest_every)
        self._st = state.kernel_args()
        self._buf = R.new_events(0)
        self._evs = kernels.event_views(self._buf)

    @property
    def inputs_processed(self) -> int:
        return self.state.inputs_processed

    def _scratch(self, n: int):
        if len(self._buf) < n:
            self._buf = R.new_events(n)
            self._evs = kernels.event_views(self._buf)
        return self._buf, self._evs

    def apply(self, raw_commands: np.ndarray, copy: bool = True) -> np.ndarray:
        """Process a batch of sequenced ``RAW_COMMAND`` records; return their events.

        The result is a new ``RAW_EVENT`` array; with ``copy=False`` it may be a view of
        the reusable scratch buffer, valid until the next ``apply`` (for callers that
        journal or publish the events at once: it saves a copy per batch).
        """
        raw = np.ascontiguousarray(raw_commands)
        if raw.dtype.itemsize != R.COMMAND_SIZE or raw.ndim != 1:
            raise ValueError(f"expected a 1-d array of {R.COMMAND_SIZE}-byte commands, got {raw.dtype} {raw.shape}")
        raw = raw.view(R.RAW_COMMAND)
        if len(raw) <= CHUNK:
            events = self._apply_chunk(raw)
            return events.copy() if copy and events.base is self._buf else events
        # Each chunk reuses the scratch buffer, so all but the last are copied out.
        out = [self._apply_chunk(raw[lo:lo + CHUNK]).copy() for lo in range(0, len(raw), CHUNK)]
        return np.concatenate(out)

    def _apply_chunk(self, raw: np.ndarray) -> np.ndarray:
        n = len(raw)
        hdr = raw.view(R.COMMAND_HEADER)
        on_demand = (hdr["type"] == R.ADMIN) & (raw.view(R.Admin)["action"] == R.ADMIN_DIGEST)
        cut = on_demand.copy()
        if self.digest_every:  # seq 0 is an unstamped record (tools, benchmarks): no digest
            cut |= (hdr["seq"] % np.uint64(self.digest_every) == 0) & (hdr["seq"] != 0)
        cmds = kernels.command_views(raw)
        # Most inputs write one or two events; the kernel stops early when a bulk input
        # (a timer tick, a cancel-all) needs more room, and the buffer is drained here.
        buf, evs = self._scratch(2 * n + EXTRA_EVENTS)
        full: list[np.ndarray] = []
        k = 0
        pos = 0

        def run(end: int) -> None:
            nonlocal buf, evs, k, pos
            while pos < end:
                nxt, wrote = kernels.process_batch(self._st, cmds, evs, pos, end, k)
                k += wrote
                if nxt < end:
                    if k == 0:  # one input needs more than the whole buffer
                        buf, evs = self._scratch(2 * len(buf))
                    else:
                        full.append(buf[:k].copy())
                        k = 0
                pos = nxt

        for c in np.flatnonzero(cut).tolist():
            run(c + 1)
            if k == len(buf):
                full.append(buf[:k].copy())
                k = 0
            reason = R.DIGEST_ON_DEMAND if on_demand[c] else R.DIGEST_PERIODIC
            # A periodic digest is the core's own doing; an on-demand one answers its requester.
            source = (int(hdr["source_id"][c]), int(hdr["source_seq"][c])) if on_demand[c] else (0, 0)
            self._write_digest(buf[k:k + 1], reason, int(hdr["seq"][c]), int(hdr["ts"][c]), source)
            k += 1
        run(n)
        if full:
            full.append(buf[:k])
            return np.concatenate(full)
        return buf[:k]

    def _write_digest(self, slot: np.ndarray, reason: int, seq: int, ts: int, source=(0, 0)):
        slot[:] = np.zeros(1, R.RAW_EVENT)
        d = slot.view(R.StateDigest)
        d["type"] = R.STATE_DIGEST
        d["version"] = 1
        d["source_id"], d["source_seq"] = source
        d["seq"] = seq
        d["ts"] = ts
        d["digest"] = self.state.digest()
        d["inputs"] = self.state.scalars[S_INPUTS]
        d["reason"] = reason

    def digest_event(self, reason: int = R.DIGEST_ON_DEMAND) -> np.ndarray:
        """One StateDigest of the current state, at the last processed input's seq/ts."""
        out = R.new_events(1)
        sc = self.state.scalars
        self._write_digest(out, reason, int(sc[S_LAST_SEQ]), int(sc[S_LAST_TS]))
        return out
