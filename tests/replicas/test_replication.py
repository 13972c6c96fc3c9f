"""Primary and standby nodes over a real media driver: the standby journals exactly
what the primary journaled, acks before the primary processes, reaches the same
digests and outputs, catches up when late, detects divergence, and after a promotion
the old primary is fenced and rejoins as standby."""

import time

import pytest

from replicas import protocol as P
from sequencer import records
from sequencer.replay import replay
from sequencer.state import S_ALGOS
from tandem import topology
from tandem.agent import AgentRunner
from tandem.producer import ProducerAgent

from replica_testkit import (
    TOKEN, Running, alerts, all_records, journals, node_config, start_node, wait_for,
)


@pytest.fixture
def rig(tmp_path):
    aeron_dir = tmp_path / "aeron"
    a = node_config(tmp_path, 1, "primary", aeron_dir)
    driver = topology.start_media_driver(a)
    aeron = topology.connect(a)
    yield tmp_path, aeron_dir, aeron
    aeron.close()
    driver.close()


def produce(cfg, aeron, commands, seed=1, source_id=1):
    """A producer's whole flow (each producer of a test needs its own source ids)."""
    p = ProducerAgent(cfg, commands=commands, seed=seed, clients=8, symbols=16, chunk=256, window=4096,
                      aeron=aeron, source_id=source_id)
    p.resend_after_s = 0.5
    deadline = time.monotonic() + 60
    AgentRunner([p], idle="backoff").run(until=lambda: p.done or time.monotonic() > deadline,
                                         handle_signals=False)
    assert p.done, "the producer never saw its final digest"
    return p


def live_pair(root, aeron_dir, aeron):
    """Node 1 primary and node 2 its standby, replication live: ((cfg, node), (cfg, node))."""
    a_cfg = node_config(root, 1, "primary", aeron_dir)
    b_cfg = node_config(root, 2, "standby", aeron_dir)
    b = start_node(b_cfg, aeron)
    a = start_node(a_cfg, aeron)
    wait_for(lambda: a.agent.link is not None and a.agent.link.live, what="standby live")
    return (a_cfg, a), (b_cfg, b)


def same_journals(a_cfg, b_cfg):
    for x, y in zip(journals(a_cfg), journals(b_cfg)):
        assert all_records(x).tobytes() == all_records(y).tobytes(), f"{x} and {y} differ"


def test_standby_follows_acks_and_agrees(rig):
    root, aeron_dir, aeron = rig
    (a_cfg, a), (b_cfg, b) = live_pair(root, aeron_dir, aeron)
    p = produce(a_cfg, aeron, 3000)
    wait_for(lambda: b.agent.journal.last_seq == a.agent.journal.last_seq
             and b.agent.counters.get("processed_seq") == b.agent.journal.last_seq, what="standby caught up")
    a_state, b_state = a.agent.logic.state, b.agent.logic.state
    assert a_state.digest() == b_state.digest()
    assert replay(journals(a_cfg)[0], to_seq=p.final_seq).digest == f"{p.final_digest:016x}"
    assert a.agent.link.acked == a.agent.journal.last_seq
    assert b.agent.standby.digests_compared >= a.agent.journal.last_seq // 500 - 1
    assert b.agent.standby.diverged_at == 0
    assert b.agent.counters.get("events_out") == 0  # a standby publishes nothing
    b.stop()
    a.stop()
    same_journals(a_cfg, b_cfg)
    # The journal starts with epoch 1 by node 1; the standby journal replays to the same digest.
    first = all_records(journals(a_cfg)[0])[:1].view(records.Admin)
    assert (first["action"][0], first["v0"][0], first["target_id"][0]) == (records.ADMIN_EPOCH, 1, 1)
    assert replay(journals(b_cfg)[0], to_seq=p.final_seq).digest == f"{p.final_digest:016x}"
    assert replay(journals(b_cfg)[0]).digest == f"{a_state.digest():016x}"  # ticks may follow it


def test_no_standby_refuses_new_orders_until_one_catches_up(rig):
    root, aeron_dir, aeron = rig
    a_cfg = node_config(root, 1, "primary", aeron_dir, ack_timeout_ms=200)
    b_cfg = node_config(root, 2, "standby", aeron_dir)
    a = start_node(a_cfg, aeron)
    wait_for(lambda: a.agent.logic.state.replication_down, what="replication down marker")
    p1 = produce(a_cfg, aeron, 200, seed=3)
    out = all_records(journals(a_cfg)[1])
    er = out.view(records.ExecReport)[records.header(out)["type"] == records.EXEC_REPORT]
    assert len(er) and (er["reason"] == records.REASON_NOT_REPLICATED).all()
    down = alerts(journals(a_cfg)[1], records.REASON_REPLICATION_DOWN)
    assert len(down) == 1 and down["b"][0] == records.POLICY_REJECT_NEW
    b = start_node(b_cfg, aeron)  # late: catches up from the primary's journal
    wait_for(lambda: not a.agent.logic.state.replication_down, what="replication up")
    assert a.agent.link.catchup_records >= p1.sent
    p2 = produce(a_cfg, aeron, 300, seed=4, source_id=11)
    wait_for(lambda: b.agent.counters.get("processed_seq") == a.agent.journal.last_seq, what="standby")
    assert b.agent.logic.state.digest() == a.agent.logic.state.digest()
    assert replay(journals(a_cfg)[0], to_seq=p2.final_seq).digest == f"{p2.final_digest:016x}"
    out = all_records(journals(a_cfg)[1])
    er = out.view(records.ExecReport)
    accepted = (er["type"] == records.EXEC_REPORT) & (er["exec_type"] == records.EXEC_PENDING_NEW)
    assert accepted.sum() > 0
    assert len(alerts(journals(a_cfg)[1], records.REASON_REPLICATION_UP)) == 1
    b.stop()
    a.stop()
    same_journals(a_cfg, b_cfg)


def test_injected_divergence_is_detected_at_the_next_digest(rig):
    root, aeron_dir, aeron = rig
    (a_cfg, a), (b_cfg, b) = live_pair(root, aeron_dir, aeron)
    produce(a_cfg, aeron, 300, seed=5)
    wait_for(lambda: b.agent.counters.get("processed_seq") == a.agent.journal.last_seq, what="standby")
    assert b.agent.standby.diverged_at == 0
    b.agent.logic.state.clients["cash"][1] += 1  # one corrupted state byte on the standby
    after = a.agent.journal.last_seq
    produce(a_cfg, aeron, 1000, seed=6, source_id=11)
    wait_for(lambda: b.agent.standby.diverged_at != 0, what="divergence detected")
    seq = b.agent.standby.diverged_at
    assert seq > after and seq % 500 == 0 and seq - after <= 500  # the first digest after it
    wait_for(lambda: len(alerts(journals(a_cfg)[1], records.REASON_STANDBY_DIVERGED)), what="alert")
    alert = alerts(journals(a_cfg)[1], records.REASON_STANDBY_DIVERGED)[0]
    assert alert["a"] == seq and alert["severity"] == records.SEVERITY_ERROR
    b.stop()
    a.stop()


def test_promotion_fences_the_old_primary_which_rejoins_as_standby(rig):
    root, aeron_dir, aeron = rig
    (a_cfg, a), (b_cfg, b) = live_pair(root, aeron_dir, aeron)
    produce(a_cfg, aeron, 500, seed=7)
    wait_for(lambda: b.agent.journal.last_seq == a.agent.journal.last_seq, what="standby")
    fork = a.agent.journal.last_seq
    # A wrong token is refused; the operator's promotes.
    ctl = topology.control_publisher(aeron, b_cfg)
    ctl.pub.await_connected(timeout=5)
    assert ctl.send(P.encode(P.PROMOTE, 0, 0, target=2, payload=b"wrong"), 5)
    assert ctl.send(P.encode(P.PROMOTE, 0, 0, target=2, payload=TOKEN), 5)
    wait_for(lambda: b.agent.node_role == "primary", what="promotion")
    wait_for(lambda: a.agent.fenced, what="old primary fenced")
    a.stop()
    assert a.agent.link.fenced_by == 2 and b.agent.logic.state.epoch == 2
    assert b.agent.logic.state.epoch_first_seq(2) == fork + 1
    # The old primary, restarted as standby, rejoins the new one and catches up.
    a2 = start_node(a_cfg, aeron, role="standby")
    wait_for(lambda: b.agent.link.live, what="rejoined standby live")
    p = produce(b_cfg, aeron, 300, seed=8, source_id=11)
    wait_for(lambda: a2.agent.counters.get("processed_seq") == b.agent.journal.last_seq, what="rejoined")
    assert a2.agent.logic.state.digest() == b.agent.logic.state.digest()
    assert replay(journals(b_cfg)[0], to_seq=p.final_seq).digest == f"{p.final_digest:016x}"
    assert a2.agent.standby.following == 2
    a2.stop()
    b.stop()
    same_journals(a_cfg, b_cfg)


def test_unacked_batch_is_sequenced_again_behind_the_down_marker_and_the_standby_cut_back(rig):
    """The standby journals a batch but its acks are lost: the primary takes the batch back,
    sequences it again after REPLICATION DOWN (so its new orders are refused), and when the
    standby's acks come back it is told to rejoin, its copy of the old batch is cut off,
    and it catches up to an identical journal."""
    root, aeron_dir, aeron = rig
    a_cfg = node_config(root, 1, "primary", aeron_dir, ack_timeout_ms=300)
    b_cfg = node_config(root, 2, "standby", aeron_dir, ack_timeout_ms=300)
    b = start_node(b_cfg, aeron)
    a = start_node(a_cfg, aeron)
    wait_for(lambda: a.agent.link is not None and a.agent.link.live, what="standby live")
    produce(a_cfg, aeron, 200, seed=9)
    sb = b.agent.standby
    send = sb._send_ack
    sb._send_ack = lambda kind, **kw: None if kind == P.ACK else send(kind, **kw)  # acks lost
    before = a.agent.journal.last_seq
    p = ProducerAgent(a_cfg, commands=50, seed=10, clients=8, symbols=16, chunk=50, aeron=aeron, source_id=11)
    p.resend_after_s = 0.5
    runner = AgentRunner([p], idle="backoff")
    deadline = time.monotonic() + 30
    runner.run(until=lambda: a.agent.logic.state.replication_down or time.monotonic() > deadline,
               handle_signals=False)
    assert a.agent.logic.state.replication_down
    wait_for(lambda: b.agent.journal.last_seq > before, what="standby journaled the unacked batch")
    sb._send_ack = send  # acks flow again: the primary has dropped this standby and says REJOIN
    runner.run(until=lambda: p.done or time.monotonic() > deadline, handle_signals=False)
    assert p.done
    wait_for(lambda: not a.agent.logic.state.replication_down, what="standby back, replication up")
    wait_for(lambda: b.agent.counters.get("processed_seq") == a.agent.journal.last_seq, what="caught up")
    assert b.agent.logic.state.digest() == a.agent.logic.state.digest()
    out = all_records(journals(a_cfg)[1])
    er = out.view(records.ExecReport)
    down = alerts(journals(a_cfg)[1], records.REASON_REPLICATION_DOWN)
    assert len(down) == 1 and down["a"][0] == before + 1  # the marker took the batch's first seq
    new_after = (er["type"] == records.EXEC_REPORT) & (er["seq"] > before) & (er["source_id"] == 11) \
        & (er["exec_type"] == records.EXEC_PENDING_NEW)
    up_seq = alerts(journals(a_cfg)[1], records.REASON_REPLICATION_UP)["seq"][0]
    assert not (new_after & (er["seq"] < up_seq)).any(), "a new order was accepted while not replicated"
    assert (topology.input_journal_dir(a_cfg) / f"truncated-{before}.bin").exists()
    assert (topology.input_journal_dir(b_cfg) / f"truncated-{before}.bin").exists()
    b.stop()
    a.stop()
    same_journals(a_cfg, b_cfg)


def test_timer_ticks_are_replicated_and_drive_the_same_algo_slices(rig):
    """The primary's Timer ticks are inputs like any other: the standby journals them and
    its algos release the same children; a replay reaches the same digest."""
    root, aeron_dir, aeron = rig
    a_cfg = node_config(root, 1, "primary", aeron_dir, timer_ms=20)
    b_cfg = node_config(root, 2, "standby", aeron_dir, timer_ms=20)
    b = start_node(b_cfg, aeron)
    a = start_node(a_cfg, aeron)
    wait_for(lambda: a.agent.link is not None and a.agent.link.live, what="standby live")
    produce(a_cfg, aeron, 3000)
    time.sleep(0.3)  # some ticks with no flow: algo slices and expiries
    a.stop()  # the primary first: its last batch was acknowledged, so the standby holds it
    wait_for(lambda: b.agent.counters.get("processed_seq") == b.agent.journal.last_seq, what="standby done")
    b.stop()
    same_journals(a_cfg, b_cfg)
    recs = all_records(journals(a_cfg)[0])
    hdr = records.header(recs)
    assert (hdr["type"] == records.TIMER).sum() >= 10
    assert (hdr["source_id"][hdr["type"] == records.TIMER] == 0).all()
    assert a.agent.logic.state.digest() == b.agent.logic.state.digest()
    assert replay(journals(b_cfg)[0]).digest == f"{a.agent.logic.state.digest():016x}"
    assert int(a.agent.logic.state.scalars[S_ALGOS]) > 0, "the flow's algo parents were accepted"
