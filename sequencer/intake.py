"""What the sequencer admits: known record types only, each (source, source seq) once.

Runs before anything is journaled, so bad input never reaches the journal.

Per source, only the next expected number (last journaled + 1) is admitted: a repeat
is a duplicate, and a record past a gap is dropped too, until the source re-sends
from the gap (go-back-N). A high-water mark alone would be wrong: a new command that
overtakes an older re-send would make the re-send look like a duplicate and lose it.
A record whose source_seq is 0 comes from an unnumbered source and is always admitted.
Admin actions that only the sequencer writes (epochs, replication markers) and Timer
records (the sequencer's own clock ticks) are refused.
"""

from __future__ import annotations

import logging

import numpy as np
from numba import njit

from sequencer import records

log = logging.getLogger(__name__)


@njit(cache=True)
def _in_sequence(source_id, source_seq, last_seen, ok):
    """Clears ``ok`` for repeats and for records past a gap, in arrival order."""
    seen = last_seen.copy()
    dups = 0
    gaps = 0
    for i in range(source_id.shape[0]):
        if not ok[i]:
            continue
        s = source_id[i]
        q = source_seq[i]
        if s >= seen.shape[0]:
            ok[i] = False
        elif q == 0:
            pass
        elif q == seen[s] + 1:
            seen[s] = q
        elif q <= seen[s]:
            ok[i] = False
            dups += 1
        else:
            ok[i] = False
            gaps += 1
    return dups, gaps


def admit(raw: np.ndarray, last_seen: np.ndarray, operator_key: bytes | None = None):
    """(admitted records as a contiguous copy, invalid count, duplicates, past-a-gap count).

    With an ``operator_key``, an Admin command must carry its credential
    (``records.sign_admin``): operator actions (kill switch, cancel-all, limits, reference
    data, snapshots) are refused from anyone who does not hold the key."""
    ok = records.check_commands(raw)
    invalid = int(len(raw) - ok.sum())
    if invalid:
        bad = int(np.argmin(ok))
        log.warning("refused %d records before journaling, first: %s",
                    invalid, records.describe_bad(raw, bad))
    hdr = records.header(raw)
    # Epochs and replication markers are the sequencer's own; nobody may send them.
    reserved = ok & (((hdr["type"] == records.ADMIN)
                      & np.isin(raw.view(records.Admin)["action"], records.SEQUENCER_ONLY_ADMIN))
                     | (hdr["type"] == records.TIMER))
    if reserved.any():
        log.warning("refused %d records only the sequencer may write (epoch, replication, timer)",
                    int(reserved.sum()))
        invalid += int(reserved.sum())
        ok &= ~reserved
    if operator_key:
        admin = np.flatnonzero(ok & (hdr["type"] == records.ADMIN))
        if len(admin):
            good = (raw[admin].view(records.Admin)["auth"] == records.admin_auth(raw[admin], operator_key)).all(axis=1)
            bad = admin[~good]
            if len(bad):
                actions = raw[bad].view(records.Admin)["action"].tolist()
                log.warning("refused %d admin commands without a valid operator credential (actions %s)",
                            len(bad), actions)
                invalid += len(bad)
                ok[bad] = False
    too_big = ok & (hdr["source_id"] >= len(last_seen))
    if too_big.any():
        log.warning("refused %d records from source ids beyond max_sources", int(too_big.sum()))
        invalid += int(too_big.sum())
    dups, gaps = _in_sequence(hdr["source_id"].copy(), hdr["source_seq"].copy(), last_seen, ok)
    return raw[ok].copy(), invalid, dups, gaps


@njit(cache=True)
def _advance(source_id, source_seq, last_seen):
    for i in range(source_id.shape[0]):
        if source_seq[i] > last_seen[source_id[i]]:
            last_seen[source_id[i]] = source_seq[i]


def update_source_seq(last_seen: np.ndarray, journaled: np.ndarray) -> None:
    """Advance the de-duplication table past records now in the journal."""
    hdr = records.header(journaled)
    _advance(hdr["source_id"], hdr["source_seq"], last_seen)
