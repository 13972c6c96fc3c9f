"""The binary gateway as a process between a raw-socket client and the core: a sequencer,
a simulated venue with its adapter, and ``tandem gateway binary``.

An order is acknowledged and filled, a cancel answered, a bad message refused; the
gateway is SIGKILLed, restarted, and the client logging in again with the next response
number it wants gets the responses it missed; the session's disconnect with
cancel-on-disconnect cancels its resting order."""

import json
import signal
import socket
import subprocess
import time

import numpy as np
import pytest

from gateways.binary import protocol as P
from sequencer import records as R
from tandem.counters import GATEWAY, Counters, gateway_counters_path
from tandem.demo import cli
from tests.e2e.venue_testkit import CENT, Rig
from venues.config import DEFAULT_VENUES

pytestmark = pytest.mark.e2e

XNAS = dict(DEFAULT_VENUES[0], users={"OTHR01": "other"})
PX = 100 * R.PRICE_SCALE
KEY = "key-alpha-0001"


def gateway_toml(tmp_path, cod: bool) -> str:
    p = tmp_path / "binary.toml"
    p.write_text(f"""[gateway]
host = "127.0.0.1"
port = 0
store_dir = "{tmp_path / 'gw-store'}"
[[gateway.sessions]]
name = "alpha"
api_key = "{KEY}"
client_id = 1
account = "ACC1"
source_id = 201
cancel_on_disconnect = {"true" if cod else "false"}
""")
    return str(p)


def start_gateway(rig, path):
    p = subprocess.Popen(cli("gateway", "binary", "--config", path, "--core-config", str(rig.cfg_path)),
                         stdout=subprocess.PIPE, stderr=rig.stack.logs, text=True)
    hello = json.loads(p.stdout.readline())
    return p, hello["port"]


class BinaryClient:
    def __init__(self, port, next_seq=0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""
        self.sock.sendall(P.login(KEY, next_seq))

    def responses(self, until, timeout_s=20.0):
        """Read responses until ``until(list)`` holds."""
        got = []
        deadline = time.monotonic() + timeout_s
        while not until(got):
            assert time.monotonic() < deadline, f"timed out; got {[(int(r["msg_type"]), int(r["reason"])) for r in got]}"
            self.sock.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            assert data, "the gateway closed the connection"
            self.buf += data
            n = len(self.buf) // P.RESPONSE_SIZE * P.RESPONSE_SIZE
            got += list(P.decode_responses(self.buf[:n]))
            self.buf = self.buf[n:]
        return got


def of(rs, kind):
    return [r for r in rs if int(r["msg_type"]) == kind]


def test_orders_fills_replay_after_a_gateway_kill(tmp_path):
    rig = Rig(tmp_path, {"AAA": 1}, {"AAA": PX}, venues=[XNAS]).start()
    gw = None
    try:
        path = gateway_toml(tmp_path, cod=False)
        gw, port = start_gateway(rig, path)
        c = BinaryClient(port)
        assert of(c.responses(lambda g: of(g, P.LOGIN_ACCEPTED)), P.LOGIN_ACCEPTED)
        c.sock.sendall(P.new_order(11, R.SIDE_BUY, 1, 300, PX))
        acks = c.responses(lambda g: of(g, P.ACK))
        ack = of(acks, P.ACK)[0]
        assert (ack["client_order_id"], ack["response_seq"], ack["leaves_qty"]) == (11, 1, 300)
        # another firm sells 100 into our bid at the venue: a fill response
        other = rig.other_firm()
        other.order("S1", "S", 100, PX)
        fill = of(c.responses(lambda g: of(g, P.FILL)), P.FILL)[0]
        assert (fill["qty"], fill["price"], fill["leaves_qty"], fill["cum_qty"], fill["response_seq"]) == (100, PX, 200, 100, 2)
        # a bad message is refused by the gateway, never journaled
        c.sock.sendall(bytes([99]) + bytes(31))
        rej = of(c.responses(lambda g: of(g, P.SESSION_REJECT)), P.SESSION_REJECT)[0]
        assert rej["reason"] == P.PR_UNKNOWN_TYPE
        counters = Counters(gateway_counters_path(rig.cfg["run_dir"], "binary", 201), GATEWAY, create=False).snapshot()
        assert (counters["logons"], counters["sessions_logged_on"], counters["orders_in"], counters["orders_batched"],
                counters["refused"], counters["reports_out"], counters["commands_published"]) == (1, 1, 1, 1, 1, 2, 2)

        # the gateway dies; the venue fills 50 more meanwhile
        gw.send_signal(signal.SIGKILL)
        gw.wait()
        other.order("S2", "S", 50, PX)
        time.sleep(1.0)
        gw, port = start_gateway(rig, path)
        c = BinaryClient(port, next_seq=3)            # we saw responses 1 and 2
        got = c.responses(lambda g: of(g, P.REPLAY_COMPLETE) and of(g, P.FILL))
        missed = of(got, P.FILL)
        assert len(missed) == 1 and (missed[0]["qty"], missed[0]["response_seq"], missed[0]["cum_qty"]) == (50, 3, 150)
        c.sock.sendall(P.cancel(12, 11))
        cx = of(c.responses(lambda g: of(g, P.CANCELLED)), P.CANCELLED)[0]
        assert (cx["client_order_id"], cx["orig_client_order_id"], cx["leaves_qty"], cx["cum_qty"]) == (12, 11, 0, 150)
        other.close()
        # the journal holds each command of the session once, numbered without a gap
        inputs = rig.journal_inputs()
        hdr = R.header(inputs)
        mine = hdr["source_seq"][hdr["source_id"] == 201]
        assert mine.tolist() == list(range(1, len(mine) + 1))
        types = hdr["type"][hdr["source_id"] == 201]
        assert int((types == R.NEW_ORDER).sum()) == 1 and int((types == R.CANCEL).sum()) == 1
    finally:
        if gw is not None and gw.poll() is None:
            gw.send_signal(signal.SIGTERM)
            gw.wait(timeout=20)
        rig.close()


def test_cancel_on_disconnect(tmp_path):
    rig = Rig(tmp_path, {"AAA": 1}, {"AAA": PX}, venues=[XNAS]).start()
    gw = None
    try:
        gw, port = start_gateway(rig, gateway_toml(tmp_path, cod=True))
        c = BinaryClient(port)
        c.sock.sendall(P.new_order(21, R.SIDE_BUY, 1, 100, PX - 10 * CENT))
        c.responses(lambda g: of(g, P.ACK))
        c.sock.close()                                   # the connection drops
        c2 = None
        deadline = time.monotonic() + 20
        while True:                                      # the core cancels; we see it on reconnect
            c2 = BinaryClient(port, next_seq=2)
            got = c2.responses(lambda g: of(g, P.REPLAY_COMPLETE))
            if of(got, P.CANCELLED) or time.monotonic() > deadline:
                break
            c2.sock.close()
            time.sleep(0.3)
        cx = of(got, P.CANCELLED)
        assert cx and cx[0]["orig_client_order_id"] in (0, 21) and cx[0]["leaves_qty"] == 0
        events = rig.journal_inputs()
        se = events[R.header(events)["type"] == R.SESSION_EVENT].view(R.SessionEvent)
        assert R.SESSION_CANCEL_ON_DISCONNECT in se["event"].tolist()
        assert np.isin([R.SESSION_LOGON, R.SESSION_DISCONNECT], se["event"]).all()
    finally:
        if gw is not None and gw.poll() is None:
            gw.send_signal(signal.SIGTERM)
            gw.wait(timeout=20)
        rig.close()
