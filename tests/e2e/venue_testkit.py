"""A sequencer process with simulated venues and adapters, and a client on the inbound
stream (``tandem.venue_stack.Client``: records published as a gateway would)."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import numpy as np

from journal import JournalReader
from sequencer import records as R
from sequencer.replay import restore
from tandem import config as config_mod
from tandem import topology
from tandem.counters import SEQUENCER, Counters
from tandem.demo import cli, write_config
from tandem.venue_stack import Client, VenueStack
from venues.config import DEFAULT_VENUES
from venues.protocols import ouch42 as ouch
from venues.soup_client import SoupClient

CENT = R.PRICE_SCALE // 100


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
        self.wait_sequenced(1)
        self.stack.start()
        return self

    def wait_sequenced(self, seq: int, timeout_s: float = 600.0) -> None:
        """Until the sequencer has processed ``seq``: on a fresh machine its first batch
        waits for Numba to compile the kernels (a minute or more), which no test's reply
        timeout should have to cover."""
        path = Path(self.cfg["run_dir"]) / "sequencer.counters"
        deadline = time.monotonic() + timeout_s
        while not (path.exists() and Counters(path, SEQUENCER, create=False).get("last_seq") >= seq):
            if time.monotonic() > deadline or self.sequencer.poll() is not None:
                raise RuntimeError(f"the sequencer did not process seq {seq}; see {self.tmp / 'sequencer.log'}")
            time.sleep(0.05)

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

    def other_firm(self, venue: str = "XNAS") -> "OtherFirm":
        """Another firm's OUCH session at a venue whose [venue.users] has OTHR01."""
        port = int(self.stack.paths[venue].read_text().split("\nport = ")[1].split()[0])
        return OtherFirm(port)


class OtherFirm:
    """Another firm trading at the venue: the other side of the tests' orders."""

    def __init__(self, port: int):
        self.client = SoupClient("127.0.0.1", port, "OTHR01", "other")
        self.client.connect(1)

    def order(self, token, side, qty, price, stock="AAA", tif=0):
        """An OUCH Enter Order (IOC by default: it trades against ours or goes away)."""
        self.client.send([ouch.encode_enter_order(
            order_token=token, side=side, shares=qty, stock=stock, price=ouch.price_to_ouch(price),
            time_in_force=tif, firm="OTHR", display="Y", capacity="A", intermarket_sweep="N",
            minimum_quantity=0, cross_type="N", customer_type=" ")])

    def close(self):
        self.client.logout()
