"""Simulated venues and their adapters as processes: what the demo and e2e tests run.

For each venue of the set (``venues.config.DEFAULT_VENUES`` by default) one
``tandem venue-sim`` and one ``tandem venue-adapter`` process, wired by the venue's TOML
file (written under ``root/venues``). Each process prints one JSON line when it is up;
a simulator stopped with SIGTERM prints a final JSON line with its books and what it
sent each session.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from venues.config import DEFAULT_VENUES, write_default_venues


def _cli(*args) -> list[str]:
    return [sys.executable, "-m", "tandem.cli", *args]


def _first_line(proc: subprocess.Popen, what: str, timeout_s: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line:
            return json.loads(line)
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with status {proc.returncode} before it was up")
    raise TimeoutError(f"{what} did not start in {timeout_s}s")


class VenueStack:
    def __init__(self, root: Path, config_path: Path, symbols: dict[str, int], prices: dict[str, int],
                 venues=DEFAULT_VENUES, seed: int = 1, background_per_s: float = 200.0):
        self.root, self.config_path = Path(root), Path(config_path)
        self.venues = list(venues)
        self.paths = dict(zip((v["name"] for v in self.venues),
                              write_default_venues(self.root / "venues", symbols, prices, seed,
                                                   background_per_s, self.venues)))
        self.sims: dict[str, subprocess.Popen] = {}
        self.adapters: dict[str, subprocess.Popen] = {}
        self.finals: dict[str, dict] = {}
        self.logs = open(self.root / "venues.log", "a")

    def start(self) -> "VenueStack":
        for name in self.paths:
            self.start_sim(name)
        for name in self.paths:
            self.start_adapter(name)
        return self

    def start_sim(self, name: str) -> dict:
        p = subprocess.Popen(_cli("venue-sim", "--config", str(self.paths[name])), stdout=subprocess.PIPE,
                             stderr=self.logs, text=True)
        self.sims[name] = p
        return _first_line(p, f"venue-sim {name}")

    def start_adapter(self, name: str) -> dict:
        p = subprocess.Popen(_cli("venue-adapter", "--config", str(self.config_path), "--venue",
                                  str(self.paths[name])), stdout=subprocess.PIPE, stderr=self.logs, text=True)
        self.adapters[name] = p
        return _first_line(p, f"venue-adapter {name}")

    def kill_adapter(self, name: str) -> None:
        p = self.adapters.pop(name)
        p.send_signal(signal.SIGKILL)
        p.wait()

    def stop_sims(self, timeout_s: float = 20.0) -> dict[str, dict]:
        """SIGTERM every simulator; their final JSON lines, by venue name."""
        for p in self.sims.values():
            p.send_signal(signal.SIGTERM)
        for name, p in self.sims.items():
            out, _ = p.communicate(timeout=timeout_s)
            for line in out.splitlines():
                doc = json.loads(line)
                if "final" in doc:
                    self.finals[name] = doc["final"]
        self.sims = {}
        return self.finals

    def stop(self) -> None:
        for p in list(self.adapters.values()) + list(self.sims.values()):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in list(self.adapters.values()) + list(self.sims.values()):
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.adapters, self.sims = {}, {}
        self.logs.close()
