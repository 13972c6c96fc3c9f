"""A sequencer process with simulated venues and adapters, and a client on the inbound
stream (gateways do not exist yet: the test publishes records as a gateway would)."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import numpy as np

from journal import JournalReader
from sequencer import book as B
from sequencer import records as R
from sequencer.replay import restore
from tandem import config as config_mod
from tandem import topology
from tandem.demo import cli, write_config
from tandem.venue_stack import VenueStack
from venues.config import DEFAULT_VENUES

CENT = R.PRICE_SCALE // 100
CLIENT_SOURCE, ADMIN_SOURCE = 1, 3


class Client:
    """Client commands in, reports out, as one gateway source."""

    def __init__(self, aeron, cfg):
        self.pub = topology.inbound_publisher(aeron, cfg)
        self.sub = topology.outbound_subscriber(aeron, cfg)
        self.seq = {CLIENT_SOURCE: 0, ADMIN_SOURCE: 0}
        self.events: list[np.ndarray] = []
        self.clord = 0

    def send(self, raw, source=CLIENT_SOURCE):
        h = R.header(raw)
        h["source_id"] = source
        n = len(raw)
        h["source_seq"] = np.arange(self.seq[source] + 1, self.seq[source] + 1 + n)
        self.seq[source] += n
        self.pub.publish(raw)

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


class Rig:
    """Media driver, sequencer process, venue stack, client."""

    def __init__(self, tmp_path: Path, symbols, prices, venues=DEFAULT_VENUES, background_per_s=0.0, seed=1,
                 extra_config=None):
        self.tmp = tmp_path
        self.symbols, self.prices, self.venues = symbols, prices, venues
        self.cfg_path = write_config(tmp_path, extra_config or {"sequencer": {"timer_ms": 0}})
        self.cfg = config_mod.load(self.cfg_path)
        self.driver = topology.start_media_driver(self.cfg)
        self.aeron = topology.connect(self.cfg)
        self.seq_log = open(tmp_path / "sequencer.log", "w")
        self.sequencer = subprocess.Popen(cli("sequencer", "--config", str(self.cfg_path)), stderr=self.seq_log)
        self.client = Client(self.aeron, self.cfg)
        self.stack = VenueStack(tmp_path, self.cfg_path, symbols, prices, venues, seed, background_per_s)

    def start(self):
        self.client.reference_data(self.symbols, self.prices, self.venues)
        self.stack.start()
        return self

    def close(self):
        self.stack.stop()
        if self.sequencer.poll() is None:
            self.sequencer.send_signal(signal.SIGTERM)
            try:
                self.sequencer.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.sequencer.kill()
        self.aeron.close()
        self.driver.close()
        self.seq_log.close()

    def journal_inputs(self) -> np.ndarray:
        parts = list(JournalReader(topology.input_journal_dir(self.cfg)).iter_batches())
        return np.concatenate(parts) if parts else np.empty(0, R.RAW_COMMAND)

    def core_state(self):
        return restore(topology.input_journal_dir(self.cfg), from_snapshot=False).logic.state


def core_bbo(state, venue_id: int, symbol_id: int) -> tuple[int, int, int, int]:
    """(bid, bid qty, ask, ask qty) of the business logic's book of (venue, symbol)."""
    b = int(state.book_index[venue_id, symbol_id]) - 1
    if b < 0:
        return (0, 0, 0, 0)
    bk = state.books_tuple()
    return (*B.book_best(bk, b, B.BID), *B.book_best(bk, b, B.ASK))
