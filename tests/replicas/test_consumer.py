"""A consumer drops the outputs a new primary re-sends, and nothing else."""

import numpy as np

from replicas.consumer import OutputCursor
from sequencer import records


def events(seqs, tag=0):
    ev = records.new_events(len(seqs))
    a = ev.view(records.Alert)
    a["seq"] = seqs
    a["a"] = np.arange(len(seqs)) + tag  # distinct events at the same seq
    return ev


def test_resent_range_is_dropped_new_events_pass():
    stream = events([1, 1, 2, 3, 3, 3, 4])
    c = OutputCursor()
    got = [c.fresh(stream[:4]), c.fresh(stream[4:])]  # a seq's events split across messages
    assert np.concatenate(got).tobytes() == stream.tobytes()
    resend = np.concatenate([stream[2:], events([5, 5], tag=100)])  # new primary: from seq 2 on
    fresh = c.fresh(resend)
    assert fresh.tobytes() == resend[-2:].tobytes()
    assert c.duplicates == 5 and c.seq == 5


def test_partial_seq_then_resend_completes_it():
    full = events([7, 7, 7])
    c = OutputCursor()
    c.fresh(full[:1])            # the old primary died after the first of seq 7's events
    assert c.fresh(full).tobytes() == full[1:].tobytes()
    assert len(c.fresh(events([]))) == 0
