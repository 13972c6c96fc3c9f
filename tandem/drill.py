"""``tandem drill``: a DR failover drill on this host, with real processes.

1. Node 1 (primary) and node 2 (standby) start as separate sequencer processes; a
   seeded client flow runs against the primary.
2. Unplanned failover: node 1 is SIGKILLed mid-flow. Node 2 promotes itself after
   ``promote_after_ms`` without heartbeats (epoch 2); the flow's producer sees the new
   primary, re-sends what was not confirmed, and drops re-sent outputs. The RTO is the
   time from the kill to the first new order the new primary acknowledges.
3. Rejoin: node 1 restarts as standby; its journal is cut back to what the new primary
   holds (an unacknowledged tail never reached node 2) and it catches up.
4. Planned failover: ``tandem failover promote`` on node 1 (epoch 3); node 2 is fenced
   (it exits with status 3) and restarts as standby; a second flow runs on node 1.
5. Checks: every order acknowledged to the client is in the final journal at the seq
   it was acknowledged at; both nodes' journals are identical; the live digest, the
   rejoined standby's digest and a replay agree; no seq gap or duplicate; every command
   journaled exactly once; the epochs are 1, 2, 3.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from journal import JournalReader, SnapshotStore, verify
from sequencer import records
from sequencer.replay import replay, restore
from tandem import config as config_mod
from tandem import topology
from tandem.agent import AgentRunner
from tandem.counters import SEQUENCER, Counters
from tandem.demo import _toml, cli, journaled_per_source
from tandem.producer import ProducerAgent

RTO_GOAL_MS = 1000
RTO_LIMIT_MS = 30_000  # the seed's recovery time objective: a check, not a goal
PROMOTION_LIMIT_S = 20  # the drill gives up (and says so) if the standby has not promoted by then


class DrillProducer(ProducerAgent):
    """The client flow, also recording every order acknowledgement it sees and when the
    first one of a new epoch arrives."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.acks: list[np.ndarray] = []   # rows of (seq, source_id, source_seq)
        self.epoch_seq: dict[int, int] = {}
        self.t_kill = None
        self.t_accept = None

    def _confirm(self, events):
        super()._confirm(events)
        hdr = records.header(events)
        er = events.view(records.ExecReport)
        acked = (hdr["type"] == records.EXEC_REPORT) & (er["exec_type"] == records.EXEC_PENDING_NEW)
        if acked.any():
            self.acks.append(np.stack([hdr["seq"][acked], hdr["source_id"][acked].astype(np.uint64),
                                       hdr["source_seq"][acked]], axis=1))
        al = events.view(records.Alert)
        for a in al[(hdr["type"] == records.ALERT) & (al["code"] == records.REASON_EPOCH)]:
            self.epoch_seq[int(a["a"])] = int(a["seq"])
        if self.t_kill is not None and self.t_accept is None and max(self.epoch_seq, default=0) > 1:
            start = self.epoch_seq[max(self.epoch_seq)]
            if (acked & (hdr["seq"] > start)).any():
                self.t_accept = time.monotonic()

    def acked_orders(self) -> np.ndarray:
        """Distinct (seq, source id, source seq) of every acknowledgement seen (re-sent ones once)."""
        return np.unique(np.concatenate(self.acks), axis=0) if self.acks else np.zeros((0, 3), np.uint64)


def write_node_configs(root: Path, extra: dict | None = None) -> list[Path]:
    """Configs of node 1 (primary) and node 2 (standby) sharing this host's media driver."""
    token = root / "operator.token"
    token.write_text(secrets.token_hex(16) + "\n")
    os.chmod(token, 0o600)
    paths = []
    for node, role in ((1, "primary"), (2, "standby")):
        o = config_mod.under((root / f"node{node}").resolve())
        o["aeron"] = {"dir": str((root / "aeron").resolve())}
        o["node"] = {"id": node}
        o["replication"] = {"enabled": True, "role": role, "operator_token_file": str(token.resolve())}
        o["sequencer"] = {"operator_token_file": str(token.resolve())}   # admin commands too
        for section, values in (extra or {}).items():
            o.setdefault(section, {}).update(values)
        path = root / f"node{node}.toml"
        path.write_text(_toml(o))
        paths.append(path)
    return paths


class Nodes:
    """The two sequencer processes of a drill."""

    def __init__(self, root: Path, paths: list[Path]):
        self.paths = paths
        self.cfgs = [config_mod.load(p) for p in paths]
        self.log = open(root / "processes.log", "a")
        self.procs: dict[int, subprocess.Popen] = {}

    def start(self, node: int, role: str):
        self.procs[node] = subprocess.Popen(
            cli("sequencer", "--config", str(self.paths[node - 1]), "--role", role), stderr=self.log)

    def counters(self, node: int) -> dict:
        path = Path(self.cfgs[node - 1]["run_dir"]) / "sequencer.counters"
        return Counters(path, SEQUENCER, create=False).snapshot() if path.exists() else {}

    def wait(self, what: str, predicate, timeout: float = 60.0):
        deadline = time.monotonic() + timeout
        while not predicate():
            for node, p in self.procs.items():
                if p.poll() not in (None, 0, 3):
                    raise RuntimeError(f"node {node} exited with {p.returncode} while waiting for {what}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"drill: timed out waiting for {what}")
            time.sleep(0.01)

    def live(self, primary: int, standby: int) -> bool:
        c = self.counters(primary)
        return bool(c) and c["role"] == 1 and c["replication_live"] == 1 and c["standby_node"] == standby

    def stop_all(self):
        for p in self.procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        codes = {n: p.wait(timeout=60) for n, p in self.procs.items()}
        self.log.close()
        return codes

    def kill_all(self):
        for p in self.procs.values():
            if p.poll() is None:
                p.kill()
                p.wait()


def _run_flow(producer: ProducerAgent, step=lambda: None, timeout: float = 300.0):
    deadline = time.monotonic() + timeout
    AgentRunner([producer], idle="backoff").run(
        until=lambda: step() or producer.done or time.monotonic() > deadline, handle_signals=False)
    if not producer.done:
        raise TimeoutError("drill: the client flow did not finish")


def _records(path: Path) -> np.ndarray:
    with JournalReader(path) as r:
        parts = list(r.iter_batches(batch_records=65536))
    return np.concatenate(parts) if parts else np.zeros(0, records.RAW_COMMAND)


def run(root="var/drill", commands=20_000, kill_at=None, seed=7, quiet=False, promote_after_ms=500) -> dict:
    root = Path(root)
    say = (lambda *a: None) if quiet else (lambda *a: print(*a, file=sys.stderr, flush=True))
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    paths = write_node_configs(root, {"replication": {"promote_after_ms": promote_after_ms},
                                      "sequencer": {"digest_every": 5_000, "snapshot_every": 5_000}})
    nodes = Nodes(root, paths)
    cfg1, cfg2 = nodes.cfgs
    kill_at = kill_at or max(1, commands)  # about 2.4 inputs per client command: mid-flow
    driver = topology.start_media_driver(cfg1)
    aeron = topology.connect(cfg1)
    result = {}
    try:
        say(f"== drill: node 1 primary, node 2 standby, {commands:,} client commands, SIGKILL of the "
            f"primary at {kill_at:,} inputs")
        nodes.start(2, "standby")
        nodes.start(1, "primary")
        nodes.wait("node 2 to follow node 1", lambda: nodes.live(1, 2))
        producer = DrillProducer(cfg1, commands=commands, seed=seed, clients=16, symbols=64, chunk=256,
                                 window=8192, aeron=aeron)
        producer.resend_after_s = 1.0

        killed_wall_ns = [0]

        def kill_point():
            if producer.t_kill is not None and time.monotonic() - producer.t_kill > PROMOTION_LIMIT_S \
                    and nodes.counters(2).get("role") != 1:
                raise RuntimeError(f"node 2 did not promote itself within {PROMOTION_LIMIT_S}s of the kill; "
                                   f"see {root / 'processes.log'}")
            if producer.t_kill is None and nodes.counters(1).get("inputs_journaled", 0) >= kill_at:
                nodes.procs[1].send_signal(signal.SIGKILL)
                producer.t_kill, killed_wall_ns[0] = time.monotonic(), time.time_ns()
                nodes.procs[1].wait()

        _run_flow(producer, kill_point)
        if producer.t_kill is None:
            raise RuntimeError(f"the flow ended before the primary journaled {kill_at} inputs")
        c2 = nodes.counters(2)
        promoted_ms = (c2["promoted_at_ns"] - killed_wall_ns[0]) / 1e6
        # RTO: kill → the first new order the new primary acknowledged to the client; if the
        # flow sent no new order after the kill, kill → promotion (ready to accept).
        if producer.t_accept is not None:
            rto_ms, rto_basis = 1000 * (producer.t_accept - producer.t_kill), "first order acked"
        else:
            rto_ms, rto_basis = (promoted_ms if c2["promoted_at_ns"] else None), "promotion"
        say(f"== unplanned failover: node 2 primary of epoch {c2['epoch']}, RTO {rto_ms} ms ({rto_basis})")

        say("== node 1 rejoins as standby")
        nodes.start(1, "standby")
        nodes.wait("node 1 to rejoin and catch up", lambda: nodes.live(2, 1))
        truncated = sum(p.stat().st_size for p in topology.input_journal_dir(cfg1).glob("truncated-*.bin"))

        say("== planned failover: tandem failover promote on node 1")
        promote = subprocess.run(cli("failover", "promote", "--config", str(paths[0]), "--json"),
                                 capture_output=True, text=True, timeout=60)
        planned_ok = promote.returncode == 0
        nodes.wait("node 2 to be fenced", lambda: nodes.procs[2].poll() is not None, timeout=30)
        fenced_exit = nodes.procs[2].returncode
        nodes.start(2, "standby")
        nodes.wait("node 2 to rejoin", lambda: nodes.live(1, 2))
        second = ProducerAgent(cfg1, commands=max(100, commands // 10), seed=seed + 1, clients=16, symbols=64,
                               chunk=256, window=8192, aeron=aeron, source_id=11)
        _run_flow(second)
        final_seq, final_digest = second.final_seq, second.final_digest
        nodes.wait("node 2 to process everything",
                   lambda: nodes.counters(2).get("processed_seq") >= final_seq)
        codes = nodes.stop_all()
    except BaseException:
        nodes.kill_all()
        raise
    finally:
        aeron.close()
        driver.close()

    say("== checking")
    (in1, out1), (in2, out2) = [(topology.input_journal_dir(c), topology.output_journal_dir(c)) for c in (cfg1, cfg2)]
    j1, j2 = _records(in1), _records(in2)
    hdr = records.header(j1)
    acked = producer.acked_orders()
    seq_idx = acked[:, 0].astype(np.int64) - 1
    in_range = seq_idx < len(j1)
    held = np.zeros(len(acked), bool)
    held[in_range] = ((hdr["source_id"][seq_idx[in_range]] == acked[in_range, 1])
                      & (hdr["source_seq"][seq_idx[in_range]] == acked[in_range, 2])
                      & (hdr["type"][seq_idx[in_range]] == records.NEW_ORDER))
    lost = int((~held).sum())
    # Timer ticks may follow the final digest request: the live digest is compared at its
    # seq, the rejoined standby's final snapshot with a replay to the journal's end.
    rep = replay(in1, to_seq=final_seq)
    snap_rep = replay(in1, from_snapshot=True, max_snapshot_seq=final_seq - 1, to_seq=final_seq)
    end = replay(in1, from_snapshot=True) if len(j1) > final_seq else rep
    standby_snap = SnapshotStore(in2).latest_valid()
    standby_digest = None if standby_snap is None else f"{standby_snap.digest:016x}"
    state = restore(in1, from_snapshot=False).logic.state
    epochs = [{"epoch": e, "first_seq": state.epoch_first_seq(e), "node": int(state.epochs["node_id"][e])}
              for e in range(1, state.epoch + 1)]
    per_source = journaled_per_source(in1)
    live_hex = f"{final_digest:016x}"
    checks = {
        "no_lost_acked_orders": lost == 0 and len(acked) > 0,
        "rto_under_30s": rto_ms is not None and rto_ms < RTO_LIMIT_MS,
        "standby_journals_identical": j1.tobytes() == j2.tobytes()
        and _records(out1).tobytes() == _records(out2).tobytes(),
        "journals_verified": all(verify(p).ok for p in (in1, out1, in2, out2)),
        "replay_digest_matches_live": rep.digest == live_hex and rep.final_seq == final_seq,
        "snapshot_replay_digest_matches": snap_rep.digest == live_hex and snap_rep.from_snapshot_seq > 0,
        "rejoined_standby_digest_matches": standby_digest == end.digest and standby_snap.seq == end.final_seq,
        "no_gap_no_duplicate": bool(np.array_equal(hdr["seq"], np.arange(1, len(j1) + 1))),
        "every_command_journaled_once": per_source.get(1) == producer.sent
        and per_source.get(11) == second.sent and -1 not in per_source.values(),
        "epochs_1_2_3": [(e["epoch"], e["node"]) for e in epochs] == [(1, 1), (2, 2), (3, 1)],
        "planned_promote_ok": planned_ok,
        "old_primary_fenced": fenced_exit == 3,
        "clean_shutdown": all(c == 0 for c in codes.values()),
    }
    result = {
        "ok": all(checks.values()),
        "rto_ms": None if rto_ms is None else round(rto_ms, 1),
        "rto_basis": rto_basis,
        "rto_goal_ms": RTO_GOAL_MS,
        "rto_goal_met": rto_ms is not None and rto_ms < RTO_GOAL_MS,
        "promotion_ms_after_kill": round(promoted_ms, 1),
        "acked_orders": int(len(acked)),
        "lost_acked_orders": lost,
        "digests": {"new_primary": live_hex, "rejoined_standby": standby_digest, "replay": rep.digest},
        "final_seq": final_seq,
        "epochs": epochs,
        "killed_at_inputs": kill_at,
        "rejoin_truncated_records": truncated // records.COMMAND_SIZE,
        "resent_outputs_dropped_by_client": producer.cursor.duplicates,
        "planned_promote": promote.stdout.strip() or promote.stderr.strip(),
        "checks": checks,
        "dir": str(root.resolve()),
    }
    return result


def summary(r: dict) -> str:
    rows = [
        ("RTO (kill → new primary accepting orders)",
         f"{r['rto_ms']} ms, {r['rto_basis']} (goal {r['rto_goal_ms']} ms: "
         f"{'met' if r['rto_goal_met'] else 'NOT met'})"),
        ("promotion after kill", f"{r['promotion_ms_after_kill']} ms"),
        ("orders acked to the client", f"{r['acked_orders']:,}"),
        ("acked orders lost", f"{r['lost_acked_orders']}"),
        ("old primary's unacked tail cut on rejoin", f"{r['rejoin_truncated_records']} records"),
        ("re-sent outputs dropped by the client", f"{r['resent_outputs_dropped_by_client']}"),
        ("epochs", ", ".join(f"{e['epoch']}@seq {e['first_seq']} (node {e['node']})" for e in r["epochs"])),
        ("digests (primary / standby / replay)",
         f"{r['digests']['new_primary']} / {r['digests']['rejoined_standby']} / {r['digests']['replay']}"),
    ] + [(k.replace("_", " "), "PASS" if ok else "FAIL") for k, ok in r["checks"].items()]
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"  {k:<{width}}  {v}" for k, v in rows)
