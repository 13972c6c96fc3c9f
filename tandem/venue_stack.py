"""Simulated venues and their adapters as processes: what the demo and e2e tests run.

For each venue of the set (``venues.config.DEFAULT_VENUES`` by default) one
``tandem venue-sim`` and one ``tandem venue-adapter`` process, wired by the venue's TOML
file (written under ``root/venues``). Each process prints one JSON line when it is up;
a simulator stopped with SIGTERM prints a final JSON line with its books and what it
sent each session.

``Client`` stands in for a gateway (issue 6 builds the real ones): it publishes client
commands and reference data on the inbound stream and collects the reports.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import numpy as np

from sequencer import book as B
from sequencer import records as R
from tandem import config as config_mod
from tandem import topology
from venues.config import DEFAULT_VENUES, write_default_venues

CLIENT_SOURCE, ADMIN_SOURCE = 1, 3


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
        self.gateways: dict[str, subprocess.Popen] = {}
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

    def start_gateway(self, kind: str, gateway_toml: Path) -> int:
        """``tandem gateway fix|binary`` in front of the core; its port."""
        p = subprocess.Popen(_cli("gateway", kind, "--config", str(gateway_toml), "--core-config",
                                  str(self.config_path)), stdout=subprocess.PIPE, stderr=self.logs, text=True)
        self.gateways[kind] = p
        return int(_first_line(p, f"gateway {kind}")["port"])

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
        procs = list(self.gateways.values()) + list(self.adapters.values()) + list(self.sims.values())
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.adapters, self.sims, self.gateways = {}, {}, {}
        self.logs.close()


class Client:
    """Client commands in, reports out, as one gateway source."""

    def __init__(self, aeron, cfg):
        self.pub = topology.inbound_publisher(aeron, cfg)
        self.sub = topology.outbound_subscriber(aeron, cfg)
        self.operator_key = config_mod.operator_key(cfg)
        self.seq = {CLIENT_SOURCE: 0, ADMIN_SOURCE: 0}
        self.events: list[np.ndarray] = []
        self.clord = 0

    def send(self, raw, source=CLIENT_SOURCE):
        h = R.header(raw)
        h["source_id"] = source
        n = len(raw)
        h["source_seq"] = np.arange(self.seq[source] + 1, self.seq[source] + 1 + n)
        self.seq[source] += n
        self.pub.publish(R.sign_admin(raw, self.operator_key))  # the operator credential, if configured

    def reference_data(self, symbols: dict[str, int], prices: dict[str, int], venues=DEFAULT_VENUES, clients=4):
        from sequencer.workload import VENUE_FEES
        rows = []
        for c in range(1, clients + 1):
            a = R.admin_command(R.ADMIN_ADD_CLIENT, c, 1_000_000, 10**15, 10**16)
            a.view(R.Admin)["name"][0] = R.ascii_field(f"ACC{c}", R.ACCOUNT_LEN)
            rows.append(a)
        unit = R.PRICE_SCALE // 10_000
        for v in venues:
            take, make = VENUE_FEES[(v["venue_id"] - 1) % len(VENUE_FEES)]
            a = R.admin_command(R.ADMIN_ADD_VENUE, v["venue_id"], take * unit, make * unit)
            a.view(R.Admin)["name"][0] = R.ascii_field(v["name"], R.ACCOUNT_LEN)
            rows.append(a)
        for name, sid in symbols.items():
            a = R.admin_command(R.ADMIN_ADD_SYMBOL, sid, prices[name], venues[0]["venue_id"])
            a.view(R.Admin)["name"][0, :R.SYMBOL_LEN] = R.ascii_field(name, R.SYMBOL_LEN)
            rows.append(a)
        self.send(np.concatenate(rows), ADMIN_SOURCE)

    def new_order(self, symbol_id, side, qty, price, strategy=R.STRATEGY_DIRECT, venue_id=0, tif=R.TIF_DAY,
                  client_id=1) -> str:
        self.clord += 1
        cl = f"C{self.clord}"
        raw = R.new_commands(1)
        o = raw.view(R.NewOrder)
        o["type"], o["version"] = R.NEW_ORDER, 2
        o["client_id"], o["symbol_id"], o["side"], o["qty"], o["price"] = client_id, symbol_id, side, qty, price
        o["ord_type"], o["tif"], o["venue_id"], o["strategy"] = R.ORD_LIMIT, tif, venue_id, strategy
        o["cl_ord_id"][0] = R.ascii_field(cl, R.CLORD_LEN)
        o["account"][0] = R.ascii_field(f"ACC{client_id}", R.ACCOUNT_LEN)
        self.send(raw)
        return cl

    def cancel(self, orig: str, symbol_id, side, client_id=1) -> str:
        self.clord += 1
        cl = f"C{self.clord}"
        raw = R.new_commands(1)
        c = raw.view(R.Cancel)
        c["type"], c["version"], c["client_id"], c["symbol_id"], c["side"] = R.CANCEL, 1, client_id, symbol_id, side
        c["cl_ord_id"][0] = R.ascii_field(cl, R.CLORD_LEN)
        c["orig_cl_ord_id"][0] = R.ascii_field(orig, R.CLORD_LEN)
        self.send(raw)
        return cl

    def poll(self):
        got = self.sub.poll().view(R.RAW_EVENT)
        if len(got):
            self.events.append(got.copy())

    def reports(self, cl_ord_id: str | None = None) -> np.ndarray:
        if not self.events:
            return np.empty(0, R.ExecReport)
        ev = np.concatenate(self.events)
        er = ev[R.header(ev)["type"] == R.EXEC_REPORT].view(R.ExecReport)
        if cl_ord_id is not None:
            er = er[[R.ascii_text(x) == cl_ord_id for x in er["cl_ord_id"]]]
        return er

    def wait_for(self, predicate, timeout_s=30.0, what="the expected reports"):
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self.poll()
            if predicate():
                return
            time.sleep(0.005)
        raise AssertionError(f"timed out waiting for {what}")

    def statuses(self, cl) -> list[str]:
        return [chr(s) for s in self.reports(cl)["ord_status"]]


def core_bbo(state, venue_id: int, symbol_id: int) -> tuple[int, int, int, int]:
    """(bid, bid qty, ask, ask qty) of the business logic's book of (venue, symbol)."""
    b = int(state.book_index[venue_id, symbol_id]) - 1
    if b < 0:
        return (0, 0, 0, 0)
    bk = state.books_tuple()
    return (*B.book_best(bk, b, B.BID), *B.book_best(bk, b, B.ASK))


class FixOrderClient:
    """A FIX 4.4 initiator for the demo's client flow through ``tandem gateway fix``: the
    project's own session layer (``FixSession``) over a socket, orders by symbol name."""

    def __init__(self, port: int, sender: str, target: str, account: str, names: dict[int, str]):
        import socket as _socket

        from gateways.fix.session import INITIATOR, FixSession, SessionConfig

        self.account, self.names = account, names
        self.session = FixSession(SessionConfig(sender, target, role=INITIATOR, begin_string="FIX.4.4",
                                                heartbeat_s=5))
        self.sock = _socket.create_connection(("127.0.0.1", port), timeout=10)
        self.session.connected(time.monotonic())
        self._flush()
        self.reports = self.rejects = 0
        self.clord = 0
        deadline = time.monotonic() + 10
        while not self.session.logged_on:
            if time.monotonic() > deadline:
                raise TimeoutError("no FIX Logon answer from the gateway")
            self.poll(block=True)
        self.sock.setblocking(False)

    def _flush(self):
        out = self.session.take_outgoing()
        if out:
            self.sock.setblocking(True)
            self.sock.sendall(out)
            self.sock.setblocking(False)

    def poll(self, block: bool = False) -> None:
        import socket as _socket

        try:
            data = self.sock.recv(1 << 16)
        except (BlockingIOError, _socket.timeout):
            data = None
        if data:
            self.session.data_received(data, time.monotonic())
        for m in self.session.take_app():
            if m.msg_type in ("8", "9"):
                self.reports += 1
            else:
                self.rejects += 1
        self.rejects += sum(1 for e in self.session.take_events() if e.kind == "reject_received")
        self.session.tick(time.monotonic())
        self._flush()

    def new_order(self, symbol_id, side, qty, price, strategy=R.STRATEGY_DIRECT, venue_id=0) -> str:
        from gateways.fix.orders import SIDE_CHARS, STRATEGIES

        self.clord += 1
        cl = f"F{self.clord}"
        now = time.strftime("%Y%m%d-%H:%M:%S", time.gmtime())
        fields = [(11, cl), (1, self.account), (55, self.names[symbol_id]), (54, SIDE_CHARS[side]), (60, now),
                  (38, qty), (40, "2"), (44, str(Decimal(price) / R.PRICE_SCALE)), (59, "0")]
        if strategy != R.STRATEGY_DIRECT:
            fields.append((847, {v: k for k, v in STRATEGIES.items()}[strategy]))
        if venue_id:
            fields.append((100, venue_id))
        self.session.send_app("D", fields, time.monotonic())
        self._flush()
        return cl

    def cancel(self, orig: str, symbol_id, side) -> str:
        from gateways.fix.orders import SIDE_CHARS

        self.clord += 1
        cl = f"F{self.clord}"
        now = time.strftime("%Y%m%d-%H:%M:%S", time.gmtime())
        self.session.send_app("F", [(41, orig), (11, cl), (55, self.names[symbol_id]), (54, SIDE_CHARS[side]),
                                    (60, now)], time.monotonic())
        self._flush()
        return cl

    def close(self) -> None:
        self.session.logout("demo done", time.monotonic())
        try:
            self._flush()
        except OSError:
            pass
        self.sock.close()
