"""What the sequencer admits: known record types only, each (source, source seq) once.

Runs before anything is journaled, so bad input never reaches the journal. A record
whose source_seq is 0 is never treated as a duplicate (sources without numbering).
"""

from __future__ import annotations

import logging

import numpy as np
from numba import njit

from sequencer import records

log = logging.getLogger(__name__)


@njit(cache=True)
def _fresh(source_id, source_seq, last_seen, ok):
    """Marks repeats of (source, source seq) as not ok, in arrival order, within the batch too."""
    seen = last_seen.copy()
    dups = 0
    for i in range(source_id.shape[0]):
        if not ok[i]:
            continue
        s = source_id[i]
        q = source_seq[i]
        if s >= seen.shape[0]:
            ok[i] = False
            continue
        if q != 0 and q <= seen[s]:
            ok[i] = False
            dups += 1
        elif q > seen[s]:
            seen[s] = q
    return dups


def admit(raw: np.ndarray, last_seen: np.ndarray):
    """(admitted records as a contiguous copy, invalid count, duplicate count)."""
    ok = records.check_commands(raw)
    invalid = int(len(raw) - ok.sum())
    if invalid:
        bad = int(np.argmin(ok))
        log.warning("refused %d records before journaling, first: %s",
                    invalid, records.describe_bad(raw, bad))
    hdr = records.header(raw)
    too_big = ok & (hdr["source_id"] >= len(last_seen))
    if too_big.any():
        log.warning("refused %d records from source ids beyond max_sources", int(too_big.sum()))
        invalid += int(too_big.sum())
    dups = _fresh(hdr["source_id"].copy(), hdr["source_seq"].copy(), last_seen, ok)
    return raw[ok].copy(), invalid, dups


def update_source_seq(last_seen: np.ndarray, journaled: np.ndarray) -> None:
    """Advance the de-duplication table past records now in the journal."""
    hdr = records.header(journaled)
    np.maximum.at(last_seen, hdr["source_id"], hdr["source_seq"])
