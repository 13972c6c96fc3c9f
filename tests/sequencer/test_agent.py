"""The sequencer agent stepped on this thread, over a real embedded media driver."""

import numpy as np
import pytest

from journal import JournalReader
from sequencer import records, workload
from sequencer.agent import SequencerAgent
from tandem import config, topology
from tandem.agent import step_until


@pytest.fixture
def rig(tmp_path):
    cfg = config.load(None, config.under(tmp_path),
                      {"capacity": {"orders": 4096, "clients": 16, "symbols": 16},
                       # ticks off: these tests count exactly what is journaled (see test_timer_ticks)
                       "sequencer": {"digest_every": 50, "snapshot_every": 0, "timer_ms": 0}})
    driver = topology.start_media_driver(cfg)
    aeron = topology.connect(cfg)
    yield cfg, aeron
    aeron.close()
    driver.close()


def _numbered(raw, source, start=1):
    h = records.header(raw)
    h["source_id"] = source
    h["source_seq"] = np.arange(start, start + len(raw))
    return raw


def test_only_admitted_records_are_journaled_and_processed(rig):
    cfg, aeron = rig
    seq = SequencerAgent(cfg, aeron=aeron)
    seq.on_start()
    pub = topology.inbound_publisher(aeron, cfg)
    pub.pub.await_connected(timeout=5)
    ref = _numbered(workload.reference_data(4, 4), 1)
    junk = records.new_commands(3)
    jh = records.header(junk)
    jh["type"] = [999, records.EXEC_REPORT, records.TIMER]
    jh["version"] = [1, 1, 7]
    pub.publish(ref)
    pub.publish(junk)
    pub.publish(ref[:5])  # a re-send: all duplicates
    step_until([seq], lambda: seq.counters.get("inputs_received") == len(ref) + 8)
    c = seq.counters.snapshot()
    assert c["inputs_journaled"] == len(ref) == seq.journal.last_seq
    assert c["invalid_dropped"] == 3 and c["duplicates_dropped"] == 5
    seq.on_close()
    journal = np.concatenate(list(JournalReader(topology.input_journal_dir(cfg)).iter_batches()))
    assert set(records.header(journal)["type"].tolist()) == {records.ADMIN}


def test_restart_continues_the_seq_and_state(rig):
    cfg, aeron = rig
    pub = topology.inbound_publisher(aeron, cfg)
    first = SequencerAgent(cfg, aeron=aeron)
    first.on_start()
    pub.pub.await_connected(timeout=5)
    pub.publish(_numbered(workload.reference_data(4, 4), 1))
    step_until([first], lambda: first.journal.last_seq == 8)
    digest = first.logic.state.digest()
    first.on_close()
    second = SequencerAgent(cfg, aeron=aeron)
    second.on_start()
    assert second.journal.last_seq == 8 and second.logic.state.digest() == digest
    session = _numbered(records.new_commands(1), 1, start=9)
    records.header(session)["type"], records.header(session)["version"] = records.SESSION_EVENT, 1
    pub.publish(session)
    step_until([second], lambda: second.journal.last_seq == 9)
    second.on_close()


def test_journal_refuses_other_capacities(rig, tmp_path):
    cfg, aeron = rig
    a = SequencerAgent(cfg, aeron=aeron)
    a.on_start()
    a.on_close()
    other = config.load(None, config.under(tmp_path), {"capacity": {"orders": 8192, "clients": 16, "symbols": 16},
                                                      "sequencer": {"digest_every": 50}})
    with pytest.raises(ValueError, match="was created with"):
        SequencerAgent(other, aeron=aeron).on_start()


def admin_tool(cfg, tmp_path, *args):
    """Run `tandem admin ARGS` from another process against the rig's sequencer."""
    import subprocess
    import sys

    from tandem.demo import _toml

    cfg_path = tmp_path / "t.toml"
    cfg_path.write_text(_toml({"run_dir": cfg["run_dir"], "aeron": {"dir": cfg["aeron"]["dir"]},
                               "journal": {"dir": cfg["journal"]["dir"]}}))
    return subprocess.run([sys.executable, "-m", "tandem.cli", "admin", args[0], "--config", str(cfg_path),
                           *args[1:]], capture_output=True, text=True, timeout=60)


def test_snapshot_and_digest_on_demand_from_the_admin_command(rig, tmp_path):
    """`tandem admin snapshot|digest` from another process: a snapshot at that seq, a digest event."""
    from journal import SnapshotStore

    cfg, aeron = rig
    seq = SequencerAgent(cfg, aeron=aeron)
    seq.on_start()
    for n, what in enumerate(("snapshot", "digest"), start=1):
        p = admin_tool(cfg, tmp_path, what)
        assert p.returncode == 0, p.stderr
        step_until([seq], lambda: seq.journal.last_seq == n)  # one request per batch
    assert SnapshotStore(topology.input_journal_dir(cfg)).list() == [1]
    seq.on_close()
    events = np.concatenate(list(JournalReader(topology.output_journal_dir(cfg)).iter_batches()))
    d = events.view(records.StateDigest)
    assert d["type"].tolist() == [records.STATE_DIGEST] and d["seq"].tolist() == [2]
    assert d["digest"][0] == seq.logic.state.digest()


def test_timer_ticks_are_the_sequencers_own_and_journaled_on_its_clock(rig):
    cfg, aeron = rig
    cfg = {**cfg, "sequencer": {**cfg["sequencer"], "timer_ms": 1000}}
    now = [10**18]
    seq = SequencerAgent(cfg, aeron=aeron, clock=lambda: now[0])
    seq.on_start()
    pub = topology.inbound_publisher(aeron, cfg)
    pub.pub.await_connected(timeout=5)
    forged = records.new_commands(1)  # a client may not send the clock
    t = forged.view(records.Timer)
    t["type"], t["version"], t["kind"], t["source_id"], t["source_seq"] = records.TIMER, 1, records.TIMER_TICK, 1, 1
    pub.publish(forged)
    step_until([seq], lambda: seq.counters.get("inputs_received") == 1)
    for _ in range(3):  # three ticks, one per second of the sequencer's clock
        seq.do_work()
        seq.do_work()  # not due again within the same second
        now[0] += 1_000_000_000
    seq.on_close()
    recs = np.concatenate(list(JournalReader(topology.input_journal_dir(cfg)).iter_batches()))
    h = records.header(recs)
    ticks = recs[h["type"] == records.TIMER].view(records.Timer)
    assert len(ticks) == 3 and (ticks["source_id"] == 0).all() and (ticks["kind"] == records.TIMER_TICK).all()
    assert list(ticks["ts"]) == [10**18, 10**18 + 10**9, 10**18 + 2 * 10**9]
    assert seq.counters.get("invalid_dropped") == 1  # the forged one


def test_kill_switch_from_the_operator_tool(rig, tmp_path):
    """`tandem admin kill` from another process: journaled, applied, alerted; bad use refused."""
    from sequencer.state import S_KILL_NEW

    cfg, aeron = rig
    seq = SequencerAgent(cfg, aeron=aeron)
    seq.on_start()

    def tool(*args):
        return admin_tool(cfg, tmp_path, "kill", *args)

    p = tool("--scope", "symbol")  # a scoped switch needs its target
    assert p.returncode == 2 and "--target" in p.stderr
    for n, args in enumerate((("--scope", "new-orders"), ("--scope", "new-orders", "--off")), start=1):
        p = tool(*args)
        assert p.returncode == 0, p.stderr
        step_until([seq], lambda: seq.journal.last_seq == n)
        assert int(seq.logic.state.scalars[S_KILL_NEW]) == (1 if n == 1 else 0)
    seq.on_close()
    events = np.concatenate(list(JournalReader(topology.output_journal_dir(cfg)).iter_batches()))
    alerts = events.view(records.Alert)
    assert alerts["code"].tolist() == [records.REASON_KILL_NEW_ORDERS] * 2
    assert alerts["severity"].tolist() == [records.SEVERITY_WARNING, records.SEVERITY_INFO]
