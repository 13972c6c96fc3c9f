"""Two sequencer nodes and a producer in one process, each agent on its own thread (a
primary blocks awaiting its standby's ack, so they cannot share a thread), over one
real embedded media driver."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np

from journal import JournalReader
from sequencer import records
from sequencer.agent import SequencerAgent
from tandem import config, topology
from tandem.agent import AgentRunner

TOKEN = b"test-operator-token"


def node_config(root: Path, node_id: int, role: str, aeron_dir: Path, timer_ms: int = 0, **replication):
    token = root / "operator.token"
    token.write_bytes(TOKEN)
    return config.load(None, config.under(root / f"node{node_id}"), {
        "aeron": {"dir": str(aeron_dir)},
        "node": {"id": node_id},
        "capacity": {"orders": 1 << 16, "clients": 32, "symbols": 64},
        # No timer ticks by default: these tests compare two running nodes' states and
        # journals at quiescence (test_timer_ticks_are_replicated turns them on).
        "sequencer": {"digest_every": 500, "snapshot_every": 0, "timer_ms": timer_ms},
        "replication": {"enabled": True, "role": role, "operator_token_file": str(token),
                        "promote_after_ms": 0, **replication},
    })


class Running:
    """An agent run by an AgentRunner on a thread until stop()."""

    def __init__(self, agent, idle="backoff"):
        self.agent = agent
        self.runner = AgentRunner([agent], idle=idle)
        self.error = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        try:
            self.runner.run(until=lambda: getattr(self.agent, "done", False), handle_signals=False)
        except BaseException as e:  # surfaced by stop()/wait()
            self.error = e

    def stop(self):
        self.runner.stop()
        self.thread.join(timeout=30)
        assert not self.thread.is_alive(), "agent did not stop"
        if self.error:
            raise self.error


def start_node(cfg, aeron, role=None) -> Running:
    return Running(SequencerAgent(cfg, aeron=aeron, role=role))


def wait_for(predicate, timeout=30.0, what="condition"):
    deadline = time.monotonic() + timeout

    def holds():
        try:
            return predicate()
        except AttributeError:  # the agent's thread has not finished on_start yet
            return False

    while not holds():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.005)


def all_records(path) -> np.ndarray:
    with JournalReader(path) as r:
        parts = list(r.iter_batches())
    return np.concatenate(parts) if parts else np.zeros(0, records.RAW_COMMAND)


def alerts(path, code) -> np.ndarray:
    ev = all_records(path)
    a = ev.view(records.Alert)
    return a[(a["type"] == records.ALERT) & (a["code"] == code)]


def journals(cfg):
    return topology.input_journal_dir(cfg), topology.output_journal_dir(cfg)
