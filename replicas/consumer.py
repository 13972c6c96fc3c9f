"""A consumer's place in the output stream, so re-sent outputs are dropped.

After a failover the new primary re-sends the outputs of the last inputs the old one
may not have delivered. Outputs are deterministic and ordered by input seq, so a
consumer keeps the highest seq it has seen and the events it saw at that seq:
anything at a lower seq, or byte-identical to one seen at that seq, is a duplicate.
"""

from __future__ import annotations

import numpy as np

from sequencer import records


class OutputCursor:
    def __init__(self):
        self.seq = 0
        self._at_seq: set[bytes] = set()
        self.duplicates = 0

    def fresh(self, events: np.ndarray) -> np.ndarray:
        """The events not seen before, in order."""
        if len(events) == 0:
            return events
        seqs = records.header(events)["seq"]
        keep = seqs > self.seq
        for i in np.flatnonzero(seqs == self.seq).tolist():
            b = events[i].tobytes()
            if b not in self._at_seq:
                keep[i] = True
                self._at_seq.add(b)
        self.duplicates += int(len(events) - keep.sum())
        out = events[keep]
        if len(out):
            last = int(seqs[keep][-1])
            if last > self.seq:
                self.seq = last
                self._at_seq = {e.tobytes() for e in out[seqs[keep] == last]}
        return out
