"""Every `$` line of the replication runbooks, run in order against two real nodes.

The runbooks form one story: bring a pair up, fail over planned and unplanned, verify
the standby, restart it. A command that no longer exists, takes other options or fails
breaks this test, so the runbooks stay true."""

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from journal import JournalReader
from tandem import config, drill, topology

pytestmark = pytest.mark.e2e

RUNBOOKS = Path(__file__).resolve().parents[2] / "runbooks"
ORDER = ["dr-failover.md", "verify-standby.md", "rejoin-node.md"]


def console_commands(path: Path) -> list[str]:
    out, inside = [], False
    for line in path.read_text().splitlines():
        if line.startswith("```"):
            inside = line.strip() == "```console"
            continue
        if inside and line.startswith("$ "):
            out.append(line[2:].strip())
    return out


def test_every_runbook_has_commands():
    for name in ORDER:
        assert console_commands(RUNBOOKS / name), f"{name} has no console commands"
    readme = (RUNBOOKS / "README.md").read_text()
    assert all(name in readme for name in ORDER + ["replication-alerts.md"])


def test_runbook_commands_run_true(tmp_path):
    drill.write_node_configs(tmp_path, {"replication": {"promote_after_ms": 500}})
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    log = open(tmp_path / "processes.log", "w")
    background = []
    ran = []
    try:
        for name in ORDER:
            for cmd in console_commands(RUNBOOKS / name):
                args = shlex.split(cmd.rstrip("&"))
                if cmd.endswith("&"):
                    background.append(subprocess.Popen(args, cwd=tmp_path, env=env, stdout=log, stderr=log))
                    continue
                r = subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
                assert r.returncode == 0, f"{name}: `{cmd}` exited {r.returncode}:\n{r.stdout}\n{r.stderr[-3000:]}"
                ran.append((cmd, r.stdout))
        # The story ends with node 1 primary of epoch 3 and node 2 following it.
        status = json.loads(ran[-1][1])
        assert status["role"] == "primary" and status["epoch"] == 3 and status["standby_node"] == 2
        replayed = json.loads(next(out for cmd, out in ran if cmd.startswith("tandem replay")))
        assert replayed["ok"] and replayed["final_seq"] > 0
    finally:
        for p in reversed(background):
            if p.poll() is None:
                p.terminate()
        for p in background:
            p.wait(timeout=60)
        log.close()
    # Both nodes' journals are the same records.
    cfgs = [config.load(tmp_path / f"node{n}.toml") for n in (1, 2)]
    recs = []
    for c in cfgs:
        with JournalReader(topology.input_journal_dir(c)) as r:
            recs.append(np.concatenate(list(r.iter_batches())).tobytes())
    assert recs[0] == recs[1]
