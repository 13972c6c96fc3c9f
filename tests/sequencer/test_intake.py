"""The sequencer's door: unknown records never reach the journal; each (source, seq) once."""

import numpy as np

from sequencer import records
from sequencer.intake import admit, update_source_seq


def _batch(types, sources, seqs, versions=None):
    raw = records.new_commands(len(types))
    h = records.header(raw)
    h["type"] = types
    h["version"] = versions if versions is not None else 1
    h["source_id"] = sources
    h["source_seq"] = seqs
    return raw


def test_unknown_type_and_version_refused():
    raw = _batch([records.SESSION_EVENT, 99, records.SESSION_EVENT, records.EXEC_REPORT], [1, 1, 1, 1], [1, 2, 3, 4],
                 versions=[1, 1, 2, 1])
    last = np.zeros(8, np.uint64)
    out, invalid, dups, gaps = admit(raw, last)
    assert invalid == 3 and dups == 0 and gaps == 0
    assert records.header(out)["source_seq"].tolist() == [1]


def _pairs(out):
    h = records.header(out)
    return list(zip(h["source_id"].tolist(), h["source_seq"].tolist()))


def test_duplicates_dropped_across_and_within_batches():
    last = np.zeros(8, np.uint64)
    out, _, dups, _ = admit(_batch([records.SESSION_EVENT] * 3, [1, 1, 2], [1, 2, 1]), last)
    assert len(out) == 3 and dups == 0
    update_source_seq(last, out)  # as the sequencer does once the batch is journaled
    # Re-sent 1..2 of source 1, new 3 twice in the same batch, source 2 continues.
    out, _, dups, gaps = admit(_batch([records.SESSION_EVENT] * 5, [1, 1, 1, 1, 2], [1, 2, 3, 3, 2]), last)
    assert _pairs(out) == [(1, 3), (2, 2)]
    assert dups == 3 and gaps == 0
    # admit() does not move the table: the sequencer does so only once journaled.
    assert last.tolist()[:3] == [0, 2, 1]


def test_record_past_a_gap_waits_for_the_resend():
    """A new command overtaking an older re-send must not make the re-send a 'duplicate'."""
    last = np.zeros(8, np.uint64)
    out, _, _, _ = admit(_batch([records.SESSION_EVENT] * 2, [1, 1], [1, 2]), last)
    update_source_seq(last, out)
    # 3 and 4 were lost with a dead sequencer; 5 arrives first, then the re-send 3, 4, 5.
    out, _, dups, gaps = admit(_batch([records.SESSION_EVENT] * 4, [1, 1, 1, 1], [5, 3, 4, 5]), last)
    assert _pairs(out) == [(1, 3), (1, 4), (1, 5)] and gaps == 1 and dups == 0


def test_unnumbered_sources_never_deduplicated():
    last = np.zeros(8, np.uint64)
    out, _, dups, _ = admit(_batch([records.SESSION_EVENT] * 3, [0, 0, 0], [0, 0, 0]), last)
    assert len(out) == 3 and dups == 0


def test_source_beyond_table_refused():
    last = np.zeros(4, np.uint64)
    out, invalid, _, _ = admit(_batch([records.SESSION_EVENT] * 2, [3, 4], [1, 1]), last)
    assert len(out) == 1 and invalid == 1


def test_timer_records_are_the_sequencers_own():
    """A Timer drives algos and the margin sweep: only the sequencer's clock may write one."""
    raw = _batch([records.TIMER, records.SESSION_EVENT], [1, 2], [1, 1])
    out, invalid, dups, gaps = admit(raw, np.zeros(8, np.uint64))
    assert invalid == 1 and records.header(out)["type"].tolist() == [records.SESSION_EVENT]


def test_admin_commands_need_the_operator_credential():
    """With an operator key, an Admin command is admitted only with its HMAC: unsigned,
    signed with another key, or altered after signing, it is refused before the journal."""
    key = b"the-operator-key"
    cmds = np.concatenate([records.admin_command(records.ADMIN_KILL, v0=1, scope=records.KILL_GLOBAL)
                           for _ in range(4)])
    h = records.header(cmds)
    h["source_id"], h["source_seq"] = 5, 0
    records.sign_admin(cmds[:1], key)
    records.sign_admin(cmds[1:2], b"someone-else")
    records.sign_admin(cmds[2:3], key)
    cmds.view(records.Admin)["target_id"][2] = 9          # altered after signing
    last = np.zeros(16, np.uint64)
    out, invalid, _, _ = admit(cmds, last, operator_key=key)
    assert invalid == 3 and len(out) == 1 and out.tobytes() == cmds[:1].tobytes()
    assert records.header(out)["version"][0] == 2
    # no key configured: nothing is checked (development)
    out, invalid, _, _ = admit(cmds, last)
    assert invalid == 0 and len(out) == 4
