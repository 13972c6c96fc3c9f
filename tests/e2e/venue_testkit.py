"""A sequencer process with simulated venues and adapters, and a client on the inbound
stream (``tandem.venue_stack.Client``: records published as a gateway would)."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import numpy as np

from journal import JournalReader
from sequencer import records as R
from sequencer.replay import restore
from tandem import config as config_mod
from tandem import topology
from tandem.demo import cli, write_config
from tandem.venue_stack import Client, VenueStack
from venues.config import DEFAULT_VENUES

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
