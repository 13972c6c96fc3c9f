"""A network partition between the primary and its standby, on two network namespaces.

Each namespace is a "host" with its own media driver; node 1 (primary) runs in A,
node 2 (standby) in B, and they replicate over UDP unicast across a veth pair. A client
flow runs against node 1 (IPC on host A) the whole time. Then:

  cut the link  -> node 1 journals REPLICATION DOWN and refuses new orders;
                   node 2 promotes itself (epoch 2) and takes a flow of its own:
                   two primaries, until ...
  heal the link -> node 1 hears epoch 2 and is fenced (exit status 3);
  restart node 1 as standby -> its post-fork tail is cut off and it catches up.

Checks: node 1 accepted no new order while not replicated (no split brain on new
risk); only epoch 2 wrote after the fork and both journals end byte-identical; every
journal verifies; a replay of the final journal reaches node 2's state digest.

A second test cuts the link only briefly (past the ack timeout, short of promotion):
replication comes back by itself (the primary tells the dropped standby to rejoin).

Needs root and `ip netns` (skipped otherwise). Soak tests: `make soak`.

The file is also the client flow's program: ``python test_partition.py flow ...``
runs ``PacedFlow`` in the namespace it is started in, until SIGTERM.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyaeron
import pytest

from journal import JournalReader, SnapshotStore, verify
from sequencer import records
from sequencer.replay import replay
from tandem import config as config_mod
from tandem import logs
from tandem.agent import AgentRunner
from tandem.counters import SEQUENCER, Counters
from tandem.demo import _toml
from tandem.producer import ProducerAgent

pytestmark = [pytest.mark.e2e, pytest.mark.soak]

HERE = Path(__file__).resolve()
REPO = HERE.parents[2]
PY = sys.executable
ADDR = {1: "10.77.0.1", 2: "10.77.0.2"}
PORT = 40123
FLOW_RATE = 3000          # client commands per second of the flow against node 1
# Node 1 gives up on a silent standby (journals REPLICATION DOWN, refuses new orders)
# before node 2 gives up on a silent primary and promotes itself. The ack timeout is the
# product default, chosen above a standby's longest pause: a standby paused past it
# never rejoins (see test_short_blip_...), so a shorter one makes this test flaky.
ACK_TIMEOUT_MS = 1000
PROMOTE_AFTER_MS = 1500
SOURCE_A, SOURCE_B = 1, 11  # flow A uses sources 1..3 (client, venue, admin), flow B 11..13

_unique = itertools.count()


# --------------------------------------------------------------------------- the client flow
class PacedFlow(ProducerAgent):
    """The synthetic client flow at a steady rate until stopped (SIGTERM), recording what
    the sequencer answered. It never asks for a final digest: its sequencer goes away."""

    def __init__(self, cfg, rate: float, **kw):
        super().__init__(cfg, commands=0, **kw)
        self.rate = rate
        self.acks: list[np.ndarray] = []  # (seq, source_id, source_seq) of orders acked PENDING_NEW
        self.rejects: dict[int, int] = {}  # reason -> count of rejected NewOrders

    def on_start(self):
        super().on_start()
        self.t_start = time.monotonic()

    def do_work(self) -> int:
        # The allowance grows with time in whole chunks; unconfirmed commands are re-sent
        # by ProducerAgent itself (on stalls and on a new sequencer incarnation).
        allowed = int(self.rate * (time.monotonic() - self.t_start)) // self.chunk * self.chunk
        self.commands = max(self.commands, allowed)
        return super().do_work()

    def _quiescent(self) -> bool:
        return False  # no final digest request: this flow runs until it is stopped

    def _confirm(self, events):
        super()._confirm(events)
        hdr = records.header(events)
        er = events.view(records.ExecReport)
        is_er = hdr["type"] == records.EXEC_REPORT
        acked = is_er & (er["exec_type"] == records.EXEC_PENDING_NEW)
        if acked.any():
            self.acks.append(np.stack([hdr["seq"][acked], hdr["source_id"][acked].astype(np.uint64),
                                       hdr["source_seq"][acked]], axis=1))
        for reason in er["reason"][is_er & (er["exec_type"] == records.EXEC_REJECTED)].tolist():
            self.rejects[reason] = self.rejects.get(reason, 0) + 1

    def save(self, out: Path):
        acks = np.concatenate(self.acks) if self.acks else np.zeros((0, 3), np.uint64)
        np.save(out.with_suffix(".acks.npy"), acks)
        out.write_text(json.dumps({"sent": self.sent, "events_seen": self.events_seen,
                                   "resent": self.resends, "incarnations": self.incarnations,
                                   "acked_orders": int(len(acks)),
                                   "rejects": {str(k): v for k, v in self.rejects.items()}}))


def flow_main(config_path: str, out: str, rate: str):
    logs.setup("flow", "INFO")
    cfg = config_mod.load(config_path)
    flow = PacedFlow(cfg, rate=float(rate), seed=5, clients=16, symbols=64, chunk=30, window=20_000,
                     source_id=SOURCE_A)
    flow.resend_after_s = 1.0
    AgentRunner([flow], idle="backoff").run()  # until SIGTERM
    flow.save(Path(out))


# --------------------------------------------------------------------------- the lab
def sh(*args: str):
    r = subprocess.run(list(args), capture_output=True, text=True)
    if r.returncode:
        raise RuntimeError(f"{' '.join(args)} failed ({r.returncode}): {r.stderr.strip()}")
    return r.stdout


class Lab:
    """Two namespaces joined by a veth pair, and every process started in them."""

    def __init__(self, root: Path):
        tag = f"{os.getpid():x}{next(_unique)}"
        self.root = root
        self.ns = {1: f"tandem-a-{tag}", 2: f"tandem-b-{tag}"}
        self.veth = {1: f"tva{tag}", 2: f"tvb{tag}"}  # interface names: at most 15 characters
        self.procs: list[tuple[str, subprocess.Popen]] = []
        self.t0 = time.monotonic()
        self.timeline = open(root / "timeline.log", "a")

    def say(self, msg: str):
        line = f"{time.monotonic() - self.t0:7.2f}s  {msg}"
        print(line, flush=True)
        self.timeline.write(line + "\n")
        self.timeline.flush()

    # ------------------------------------------------------------ network
    def build_network(self):
        for n in (1, 2):
            sh("ip", "netns", "add", self.ns[n])
        sh("ip", "link", "add", self.veth[1], "netns", self.ns[1], "type", "veth",
           "peer", "name", self.veth[2], "netns", self.ns[2])
        for n in (1, 2):
            sh("ip", "-n", self.ns[n], "addr", "add", f"{ADDR[n]}/24", "dev", self.veth[n])
            sh("ip", "-n", self.ns[n], "link", "set", "lo", "up")
            sh("ip", "-n", self.ns[n], "link", "set", self.veth[n], "up")

    def link(self, up: bool):
        """Node 1's end of the veth pair; down takes node 2's end off carrier too."""
        sh("ip", "-n", self.ns[1], "link", "set", self.veth[1], "up" if up else "down")

    # ------------------------------------------------------------ processes
    def spawn(self, name: str, host: int, *args: str, stdout: Path | None = None) -> subprocess.Popen:
        """``python args`` in the namespace of ``host`` (ip netns exec execs it: same pid),
        stderr (the JSON log lines) kept in ``<name>.log``, stdout in ``stdout`` if given."""
        with open(self.root / f"{name}.log", "ab") as log, \
                open(stdout or os.devnull, "wb") as out:
            p = subprocess.Popen(["ip", "netns", "exec", self.ns[host], PY, *args], cwd=REPO,
                                 stdout=out, stderr=log)
        self.procs.append((name, p))
        return p

    def log_tail(self, name: str, lines: int = 15) -> str:
        path = self.root / f"{name}.log"
        text = path.read_text(errors="replace").splitlines()[-lines:] if path.exists() else []
        return f"--- {name}.log (last {len(text)} lines)\n" + "\n".join(text)

    def logs(self) -> str:
        return "\n".join(self.log_tail(n) for n in dict.fromkeys(n for n, _ in self.procs))

    def wait(self, what: str, predicate, timeout: float, watch=()):
        """Poll ``predicate``; fail at once if a process in ``watch`` exits meanwhile."""
        deadline = time.monotonic() + timeout
        while not predicate():
            for name, p in self.procs:
                if p in watch and p.poll() is not None:
                    pytest.fail(f"{name} exited with {p.returncode} while waiting for {what}\n{self.logs()}")
            if time.monotonic() > deadline:
                pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}\n{self.logs()}")
            time.sleep(0.01)
        self.say(f"ok: {what}")

    def stop(self, *procs: subprocess.Popen, timeout: float = 60) -> list[int]:
        """SIGTERM all of them at once, then wait for each."""
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        return [p.wait(timeout=timeout) for p in procs]

    def teardown(self):
        # Newest first: nodes and flows before the media drivers they use.
        for _, p in reversed(self.procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        for n in (1, 2):
            subprocess.run(["ip", "netns", "del", self.ns[n]], capture_output=True)  # takes the veth along
        self.timeline.close()


@pytest.fixture
def lab(tmp_path):
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.skip("needs root and iproute2 (ip netns)")
    lab = Lab(tmp_path)
    try:
        lab.build_network()
        yield lab
    finally:
        lab.teardown()


# --------------------------------------------------------------------------- configs, state
def write_configs(root: Path) -> dict[int, Path]:
    """Node n listens on its own address, its peer channel is the other node's. Each
    host has its own media driver directory; the client streams stay IPC on that host."""
    paths = {}
    for n, peer in ((1, 2), (2, 1)):
        o = config_mod.under(root / f"node{n}")
        o["aeron"] = {"dir": str(root / f"aeron-host{n}")}
        o["node"] = {"id": n}
        o["sequencer"] = {"digest_every": 2_000, "snapshot_every": 20_000}
        o["capacity"] = {"orders": 1 << 17, "clients": 32, "symbols": 128}
        o["replication"] = {
            "enabled": True, "role": "primary" if n == 1 else "standby",
            "listen_channel": f"aeron:udp?endpoint={ADDR[n]}:{PORT}",
            "peer_channel": f"aeron:udp?endpoint={ADDR[peer]}:{PORT}",
            "ack_timeout_ms": ACK_TIMEOUT_MS, "promote_after_ms": PROMOTE_AFTER_MS,
        }
        paths[n] = root / f"node{n}.toml"
        paths[n].write_text(_toml(o))
    return paths


def counters(cfg) -> dict:
    """A node's counters, {} until its process has created the file (for a moment it
    exists but is still empty, which a memmap refuses)."""
    path = Path(cfg["run_dir"]) / "sequencer.counters"
    try:
        return Counters(path, SEQUENCER, create=False).snapshot()
    except (FileNotFoundError, ValueError):
        return {}


def live(cfg, standby: int) -> bool:
    c = counters(cfg)
    return bool(c) and c["role"] == 1 and c["replication_live"] == 1 and c["standby_node"] == standby


def driver_up(cfg) -> bool:
    # The driver refreshes its CnC heartbeat about once a second: a much shorter maximum
    # age would catch it only now and then.
    d = Path(cfg["aeron"]["dir"])
    return (d / "cnc.dat").exists() and pyaeron.is_driver_active(str(d), 5_000)


def all_records(path: Path, dtype=records.RAW_COMMAND) -> np.ndarray:
    with JournalReader(path) as r:
        parts = list(r.iter_batches(batch_records=65536))
    return np.concatenate(parts) if parts else np.zeros(0, dtype)


def admin_markers(recs: np.ndarray, action: int) -> np.ndarray:
    """The sequencer's own Admin records (source 0) of ``action``, as Admin rows."""
    hdr = records.header(recs)
    adm = recs.view(records.Admin)
    return adm[(hdr["type"] == records.ADMIN) & (hdr["source_id"] == 0) & (adm["action"] == action)]


class Pair:
    """Both hosts up: media drivers, node 1 primary, node 2 standby (live over UDP), and
    client flow A running against node 1 until told to stop."""

    def __init__(self, lab: Lab):
        root = lab.root
        self.paths = write_configs(root)
        self.cfg = {n: config_mod.load(p) for n, p in self.paths.items()}
        self.jin = {n: Path(self.cfg[n]["journal"]["dir"]) for n in (1, 2)}
        self.jout = {n: Path(str(self.jin[n]) + "-out") for n in (1, 2)}
        self.drivers = {n: lab.spawn(f"driver{n}", n, "-m", "tandem.cli", "driver", "--config",
                                     str(self.paths[n])) for n in (1, 2)}
        lab.wait("both media drivers up", lambda: all(driver_up(self.cfg[n]) for n in (1, 2)), 30,
                 watch=self.drivers.values())
        self.node2 = self.sequencer(lab, 2, "standby", "node2")
        self.node1 = self.sequencer(lab, 1, "primary", "node1")
        lab.wait("node 2 follows node 1 over UDP (replication live)", lambda: live(self.cfg[1], 2), 60,
                 watch=(self.node1, self.node2))
        # Flow A runs on host A (IPC to node 1) until SIGTERM, then writes what it saw.
        self.flow_out = root / "flowA.json"
        self.flow_a = lab.spawn("flowA", 1, str(HERE), "flow", str(self.paths[1]), str(self.flow_out),
                                str(FLOW_RATE))
        lab.wait("node 2 has journaled 5,000 inputs of the flow",
                 lambda: self.counters(2).get("last_seq", 0) >= 5_000, 60,
                 watch=(self.node1, self.node2, self.flow_a))

    def sequencer(self, lab: Lab, n: int, role: str, name: str) -> subprocess.Popen:
        return lab.spawn(name, n, "-m", "tandem.cli", "sequencer", "--config", str(self.paths[n]),
                         "--role", role)

    def counters(self, n: int) -> dict:
        return counters(self.cfg[n])

    def flow_result(self) -> tuple[dict, np.ndarray]:
        return json.loads(self.flow_out.read_text()), np.load(self.flow_out.with_suffix(".acks.npy"))


# --------------------------------------------------------------------------- the tests
# 1 s; past Aeron's publication connection timeout (5 s: the nodes' publications to each
# other report "not connected"); past its image liveness timeout (10 s: the receivers drop
# the other node's images, so the heal needs a fresh setup handshake).
@pytest.mark.parametrize("partition_s", [1.0, 6.0, 12.0])
def test_partition_fences_the_isolated_primary_and_it_rejoins(lab, partition_s):
    root = lab.root
    pair = Pair(lab)
    paths, cfg, jin, jout = pair.paths, pair.cfg, pair.jin, pair.jout
    node1, node2, flow_a, drivers = pair.node1, pair.node2, pair.flow_a, pair.drivers

    # ---- partition
    cut_ns, cut = time.time_ns(), time.monotonic()
    lab.link(up=False)
    lab.say("link cut")
    lab.wait("node 1 journals REPLICATION DOWN", lambda: counters(cfg[1])["replication_down"] == 1, 15,
             watch=(node1, node2, flow_a))
    down_at = counters(cfg[1])["last_seq"]
    lab.wait("node 2 promotes itself to primary of epoch 2",
             lambda: (lambda c: c["role"] == 1 and c["epoch"] == 2)(counters(cfg[2])), 15,
             watch=(node1, node2, flow_a))
    promoted_ms = (counters(cfg[2])["promoted_at_ns"] - cut_ns) / 1e6
    lab.say(f"node 2 promoted {promoted_ms:.0f} ms after the cut")
    assert counters(cfg[1])["role"] == 1, "node 1 should still believe it is primary (it cannot hear node 2)"

    # Two primaries now. Node 2 takes its own flow (it accepts orders: after_promotion
    # = degrade); flow A keeps hitting node 1, which must refuse every new order.
    flow_b = lab.spawn("flowB", 2, "-m", "tandem.cli", "producer", "--config", str(paths[2]),
                       "--commands", "3000", "--seed", "9", "--clients", "16", "--symbols", "64",
                       "--source-id", str(SOURCE_B), stdout=root / "flowB.json")
    lab.wait("flow B completes against node 2", lambda: flow_b.poll() is not None, 120,
             watch=(node1, node2, flow_a))
    assert flow_b.returncode == 0, f"flow B failed\n{lab.log_tail('flowB')}"
    lab.wait("node 1 journals 500 more inputs while isolated",
             lambda: counters(cfg[1])["last_seq"] >= down_at + 500, 30, watch=(node1, node2, flow_a))
    lab.wait(f"the partition has lasted {partition_s:.0f}s", lambda: time.monotonic() - cut >= partition_s,
             partition_s + 5, watch=(node1, node2, flow_a))

    # ---- heal: node 1 hears epoch 2 and is fenced
    lab.link(up=True)
    heal = time.monotonic()
    lab.say("link healed")
    lab.wait("node 1 exits (fenced)", lambda: node1.poll() is not None, 30, watch=(node2, flow_a))
    lab.say(f"node 1 exited with {node1.returncode} {time.monotonic() - heal:.2f}s after the heal")
    assert node1.returncode == 3, f"node 1 should exit with 3 (fenced)\n{lab.log_tail('node1')}"
    assert counters(cfg[2])["role"] == 1, "node 2 must stay primary"
    assert lab.stop(flow_a) == [0], f"flow A failed\n{lab.log_tail('flowA')}"
    flow, acks = pair.flow_result()
    lab.say(f"flow A: {flow}")

    # Node 1's journals as the isolated primary left them (the rejoin cuts them back).
    fenced = {"in": root / "node1-fenced" / "journal", "out": root / "node1-fenced" / "journal-out"}
    shutil.copytree(jin[1], fenced["in"])
    shutil.copytree(jout[1], fenced["out"])

    # ---- rejoin: node 1 as standby of node 2
    node1b = pair.sequencer(lab, 1, "standby", "node1-standby")
    rejoin = time.monotonic()

    def caught_up():
        c1, c2 = counters(cfg[1]), counters(cfg[2])
        return (live(cfg[2], 1) and c1.get("role") == 2 and c1["last_seq"] == c2["last_seq"]
                and c1["processed_seq"] == c2["processed_seq"] == c2["last_seq"])

    lab.wait("node 1 rejoins as standby and catches up (node 2: replication live, standby 1)",
             caught_up, 120, watch=(node1b, node2))
    lab.say(f"rejoined in {time.monotonic() - rejoin:.2f}s")
    c1 = counters(cfg[1])
    assert c1["truncated_records"] == 1, "the rejoin should have cut node 1's journal back"
    assert c1["diverged_at"] == 0, f"node 1 diverged from node 2 at seq {c1['diverged_at']}"
    # Both at once: stopping only the primary would let the standby promote itself.
    codes = lab.stop(node1b, node2)
    assert codes == [0, 0], f"clean shutdown expected, got exit codes {codes}\n{lab.logs()}"
    lab.stop(*drivers.values())

    # ---------------------------------------------------------------- checks
    j1_fenced, o1_fenced = all_records(fenced["in"]), all_records(fenced["out"], records.RAW_EVENT)
    j1, j2 = all_records(jin[1]), all_records(jin[2])
    o1, o2 = all_records(jout[1], records.RAW_EVENT), all_records(jout[2], records.RAW_EVENT)
    h_fenced, h2 = records.header(j1_fenced), records.header(j2)

    # Where the histories fork: node 2's epoch 2 starts at seq F.
    epochs = admin_markers(j2, records.ADMIN_EPOCH)
    assert [(int(e["v0"]), int(e["target_id"])) for e in epochs] == [(1, 1), (2, 2)], \
        f"node 2's journal should hold epoch 1 (node 1) then 2 (node 2), not {epochs[['seq', 'v0', 'target_id']]}"
    F = int(epochs["seq"][1])
    lab.say(f"fork at seq {F}; node 1 isolated journal ends at {len(j1_fenced)}, final journal at {len(j2)}")

    # (a) No split brain on new risk: after its REPLICATION DOWN marker, node 1 accepted
    #     no new order; each NewOrder it sequenced got a NOT_REPLICATED reject.
    downs = admin_markers(j1_fenced, records.ADMIN_REPLICATION)
    down = downs[downs["v0"] == records.REPLICATION_DOWN][-1]
    D = int(down["seq"])
    assert not (downs["seq"] > D).any(), "node 1 journaled REPLICATION UP after losing its standby"
    assert down["scope"] == records.WHY_ACK_TIMEOUT and down["v1"] == records.POLICY_REJECT_NEW, \
        f"node 1's last DOWN marker should be an ack timeout under require_ack: {down}"
    assert D >= F, f"node 1's DOWN marker (seq {D}) should lie past the fork (seq {F})"
    after = (h_fenced["seq"] > D) & (h_fenced["type"] == records.NEW_ORDER)
    new_orders = h_fenced["seq"][after]
    assert len(new_orders) >= 100, f"flow A sent only {len(new_orders)} new orders to the isolated node 1"
    eh = records.header(o1_fenced)
    er = o1_fenced.view(records.ExecReport)
    is_er = eh["type"] == records.EXEC_REPORT
    refused = eh["seq"][is_er & (er["exec_type"] == records.EXEC_REJECTED)
                        & (er["reason"] == records.REASON_NOT_REPLICATED)]
    missing = np.setdiff1d(new_orders, refused)
    assert len(missing) == 0, (f"{len(missing)} of {len(new_orders)} NewOrders node 1 sequenced after its "
                               f"DOWN marker (seq {D}) were not refused NOT_REPLICATED, first seqs "
                               f"{missing[:10].tolist()}")
    new_risk = (is_er & np.isin(er["exec_type"], [records.EXEC_PENDING_NEW, records.EXEC_PENDING_REPLACE])) \
        | (eh["type"] == records.VENUE_ORDER)
    accepted = eh["seq"][new_risk & (eh["seq"] > D)]
    assert len(accepted) == 0, f"node 1 took new risk after its DOWN marker, at seqs {accepted[:10].tolist()}"
    assert flow["rejects"].get(str(records.REASON_NOT_REPLICATED), 0) > 0, \
        f"flow A never saw a NOT_REPLICATED reject: {flow}"

    # Every order acknowledged to flow A is in the final journal at the seq it was acked
    # at: the batch in flight when the standby went was taken back and sequenced again
    # behind the DOWN marker (refused), so node 1 acknowledged nothing unreplicated.
    assert len(acks), "flow A saw no order acknowledged"
    idx = acks[:, 0].astype(np.int64) - 1
    lost = acks[idx >= F - 1, 0]
    assert len(lost) == 0, f"orders acked past the fork, never replicated: seqs {lost[:10].tolist()}"
    assert np.array_equal(h2["source_id"][idx].astype(np.uint64), acks[:, 1]) \
        and np.array_equal(h2["source_seq"][idx], acks[:, 2]) \
        and (h2["type"][idx] == records.NEW_ORDER).all(), "an acked order is missing from the final journal"
    lab.say(f"flow A: {len(acks)} orders acked, all in the final journal")

    # (b) One writer after the fork: node 1 and node 2 agree up to F - 1; from F on the
    #     journal is epoch 2's, with nothing of flow A (which only reached node 1); node
    #     1's own post-fork tail was cut off and kept beside its journal; after the
    #     rejoin both journals are byte-identical.
    assert j1_fenced[:F - 1].tobytes() == j2[:F - 1].tobytes(), "node 1 and node 2 differ before the fork"
    assert not np.isin(admin_markers(j1_fenced, records.ADMIN_EPOCH)["v0"], [2]).any(), \
        "the isolated node 1 journaled epoch 2"
    stray = np.isin(h2["source_id"][F - 1:], [SOURCE_A, SOURCE_A + 1, SOURCE_A + 2])
    assert not stray.any(), f"records of flow A (node 1's epoch) in node 2's journal past the fork: {stray.sum()}"
    tail_file = jin[1] / f"truncated-{F - 1}.bin"
    assert tail_file.exists(), \
        f"no {tail_file.name} beside node 1's journal: {sorted(p.name for p in jin[1].iterdir())}"
    assert tail_file.read_bytes() == j1_fenced[F - 1:].tobytes(), f"{tail_file.name} is not node 1's tail"
    assert j1.tobytes() == j2.tobytes(), \
        f"after the rejoin node 1's journal ({len(j1)} records) differs from node 2's ({len(j2)})"
    assert o1.tobytes() == o2.tobytes(), "after the rejoin the output journals differ"
    assert np.array_equal(h2["seq"], np.arange(1, len(j2) + 1)), "seq gap or duplicate in the final journal"

    # (c) Every journal verifies, the isolated node 1's included.
    for p in (jin[1], jout[1], jin[2], jout[2], fenced["in"], fenced["out"]):
        v = verify(p)
        assert v.ok, f"journal.verify({p}) failed at seq {v.first_bad_seq}: {v.reason}"

    # (d) A replay of the final journal reaches node 2's state at shutdown (its snapshot
    #     on SIGTERM), and the rejoined node 1's; flow B's live digest is reproduced too.
    r = replay(jin[1])
    for n in (2, 1):
        with SnapshotStore(jin[n]) as store:
            snap = store.latest_valid()
        assert snap is not None and snap.seq == len(j2), f"node {n} has no snapshot at the final seq {len(j2)}"
        assert (r.final_seq, r.digest) == (snap.seq, f"{snap.digest:016x}"), \
            f"replay {r.final_seq}/{r.digest} vs node {n}'s snapshot {snap.seq}/{snap.digest:016x}"
    fb = json.loads((root / "flowB.json").read_text())
    rb = replay(jin[2], to_seq=fb["final_seq"])
    assert rb.digest == fb["digest"], \
        f"flow B saw digest {fb['digest']} at seq {fb['final_seq']}, a replay reaches {rb.digest}"
    lab.say("all checks passed")



def test_short_blip_replication_recovers(lab):
    """A blip longer than the ack timeout but shorter than promote_after_ms: node 1 journals
    REPLICATION DOWN and node 2 stays standby. Once the link is back node 2 must catch up,
    node 1 journal REPLICATION UP and accept new orders again."""
    pair = Pair(lab)
    procs = (pair.node1, pair.node2, pair.flow_a)
    cut = time.monotonic()
    lab.link(up=False)
    lab.wait("node 1 journals REPLICATION DOWN", lambda: pair.counters(1)["replication_down"] == 1, 15,
             watch=procs)
    lab.link(up=True)
    lab.say(f"link healed {time.monotonic() - cut:.2f}s after the cut")
    c2 = pair.counters(2)
    assert (c2["role"], c2["epoch"]) == (2, 1), f"node 2 promoted: the blip outlasted promote_after_ms ({c2})"
    lab.wait("node 1 has its standby back (REPLICATION UP, live, standby node 2)",
             lambda: live(pair.cfg[1], 2) and pair.counters(1)["replication_down"] == 0, 20, watch=procs)
    lab.wait("node 2 catches up with node 1",
             lambda: pair.counters(2)["last_seq"] == pair.counters(1)["last_seq"], 30, watch=procs)
    time.sleep(1.0)  # flow A places orders with replication back
    assert lab.stop(pair.flow_a) == [0], f"flow A failed\n{lab.log_tail('flowA')}"
    assert lab.stop(pair.node1, pair.node2) == [0, 0], f"clean shutdown expected\n{lab.logs()}"
    j1, j2 = all_records(pair.jin[1]), all_records(pair.jin[2])
    assert j1.tobytes() == j2.tobytes(), "node 1's and node 2's journals differ"
    ups = admin_markers(j1, records.ADMIN_REPLICATION)
    up = ups[ups["v0"] == records.REPLICATION_UP][-1]
    flow, acks = pair.flow_result()
    assert (acks[:, 0] > up["seq"]).any(), f"flow A had no order accepted after REPLICATION UP (seq {up['seq']})"

if __name__ == "__main__" and sys.argv[1:2] == ["flow"]:
    flow_main(*sys.argv[2:])
