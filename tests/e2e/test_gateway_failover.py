"""A client keeps trading through the binary gateway while the primary sequencer is
SIGKILLed and the standby takes over: every order is journaled once on the new primary
and acknowledged to the client once, with the session's responses numbered without a
gap (the gateway re-sends what was not confirmed; the new primary drops what it has,
and the gateway drops the outputs it re-sends)."""

import signal
import subprocess
import time

import numpy as np
import pytest

from gateways.binary import protocol as P
from journal import JournalReader
from sequencer import records as R
from tandem import config as config_mod
from tandem import topology
from tandem.demo import cli, wait_for_standby
from tandem.drill import write_node_configs
from tandem.venue_stack import Client, VenueStack
from tests.e2e.test_binary_gateway import BinaryClient, of, start_gateway
from venues.config import DEFAULT_VENUES

pytestmark = pytest.mark.e2e

PX = 100 * R.PRICE_SCALE
CENT = R.PRICE_SCALE // 100
N = 60


class _Rig:  # what start_gateway needs of a rig
    def __init__(self, cfg_path, logs):
        self.cfg_path, self.stack = cfg_path, logs


def test_orders_through_a_failover(tmp_path):
    paths = write_node_configs(tmp_path, {"sequencer": {"timer_ms": 0}})
    cfg = config_mod.load(paths[0])
    driver = topology.start_media_driver(cfg)
    logs = open(tmp_path / "nodes.log", "w")
    standby = subprocess.Popen(cli("sequencer", "--config", str(paths[1]), "--role", "standby"), stderr=logs)
    primary = subprocess.Popen(cli("sequencer", "--config", str(paths[0]), "--role", "primary"), stderr=logs)
    aeron = topology.connect(cfg)
    stack = VenueStack(tmp_path, paths[0], {"AAA": 1}, {"AAA": PX}, [DEFAULT_VENUES[0]], background_per_s=0)
    gw = None
    try:
        wait_for_standby(cfg, primary, standby, tmp_path / "nodes.log")
        Client(aeron, cfg).reference_data({"AAA": 1}, {"AAA": PX}, [DEFAULT_VENUES[0]])
        stack.start()
        gw_toml = tmp_path / "binary.toml"
        gw_toml.write_text(f'[gateway]\nport = 0\nstore_dir = "{tmp_path / "gw"}"\n[[gateway.sessions]]\n'
                           f'api_key = "key-alpha-0001"\nclient_id = 1\naccount = "ACC1"\nsource_id = 201\n')
        gw, port = start_gateway(_Rig(paths[0], stack), str(gw_toml))
        c = BinaryClient(port)
        c.responses(lambda g: of(g, P.LOGIN_ACCEPTED))
        for i in range(1, N + 1):
            c.sock.sendall(P.new_order(i, R.SIDE_BUY, 1, 100, PX - (i % 20 + 1) * CENT))
            if i == N // 3:
                primary.send_signal(signal.SIGKILL)       # the standby promotes itself
                primary.wait()
            time.sleep(0.02)
        got = c.responses(lambda g: len({int(r["client_order_id"]) for r in of(g, P.ACK)}) >= N, timeout_s=60)
        acks = of(got, P.ACK)
        ids = [int(r["client_order_id"]) for r in acks]
        assert sorted(ids) == list(range(1, N + 1)), "an order was acknowledged twice or never"
        seqs = [int(r["response_seq"]) for r in got if int(r["msg_type"]) in P.APP_RESPONSES]
        assert seqs == list(range(1, len(seqs) + 1))
        # on the new primary: each order once
        new_in = topology.input_journal_dir(config_mod.load(paths[1]))
        recs = np.concatenate(list(JournalReader(new_in).iter_batches()))
        orders = recs[R.header(recs)["type"] == R.NEW_ORDER].view(R.NewOrder)
        mine = orders[orders["client_id"] == 1]
        assert sorted(int(R.ascii_text(x)) for x in mine["cl_ord_id"]) == list(range(1, N + 1))
        assert "unconfirmed commands" in (tmp_path / "venues.log").read_text()  # the gateway re-sent them
    finally:
        if gw is not None and gw.poll() is None:
            gw.send_signal(signal.SIGTERM)
            gw.wait(timeout=20)
        stack.stop()
        for p in (primary, standby):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    p.kill()
        aeron.close()
        driver.close()
        logs.close()
