"""The FIX order gateway as a process between a raw-socket FIX 4.4 client and the core (a
sequencer, a simulated venue with its adapter): orders acknowledged, filled, replaced,
cancelled; refusals at the gateway and in the core; an unsupported message; a gateway
SIGKILLed and restarted while the venue fills the client's order, the report reaching
the client by resend after its next Logon."""

import json
import signal
import socket
import subprocess
import time

import pytest

from gateways.fix.codec import FixFramer, encode
from sequencer import records as R
from tandem.counters import GATEWAY, Counters, gateway_counters_path
from tandem.demo import cli
from tests.e2e.venue_testkit import Rig
from venues.config import DEFAULT_VENUES

pytestmark = pytest.mark.e2e

XNAS = dict(DEFAULT_VENUES[0], users={"OTHR01": "other"})
PX = 100 * R.PRICE_SCALE
NOW = "20261124-10:00:00.000"


def gateway_toml(tmp_path):
    p = tmp_path / "fix.toml"
    p.write_text(f"""[gateway]
host = "127.0.0.1"
port = 0
store_dir = "{tmp_path / 'fix-store'}"
max_sending_time_skew_s = 0
[[gateway.sessions]]
begin_string = "FIX.4.4"
sender_comp_id = "TANDEM"
target_comp_id = "CLIENT1"
account = "ACC1"
client_id = 1
source_id = 301
username = "client1"
password = "s3cret"
cancel_on_disconnect = false
""")
    return str(p)


def start_gateway(rig, path):
    p = subprocess.Popen(cli("gateway", "fix", "--config", path, "--core-config", str(rig.cfg_path)),
                         stdout=subprocess.PIPE, stderr=rig.stack.logs, text=True)
    return p, json.loads(p.stdout.readline())["port"]


def stop(rig, gw):
    """The gateway (logging its sessions out), then the rig."""
    if gw is not None and gw.poll() is None:
        gw.send_signal(signal.SIGTERM)
        gw.wait(timeout=20)
    rig.close()


class FixClient:
    """A scripted FIX 4.4 initiator: exact messages out, parsed messages in."""

    def __init__(self, port, seq=1, gap_fill=True):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.framer, self.seq, self.inbox = FixFramer(), seq, []
        self.highest = 0           # the highest MsgSeqNum received
        self.gap_fill = gap_fill   # answer the gateway's ResendRequests with a gap fill

    def send(self, msg_type, fields, poss_dup=False):
        head = [(49, "CLIENT1"), (56, "TANDEM"), (34, self.seq)] + ([(43, "Y")] if poss_dup else []) + [(52, NOW)]
        self.sock.sendall(encode("FIX.4.4", msg_type, head + fields))
        self.seq += 1

    def resend(self, seq, msg_type, fields):
        """Message ``seq`` again, as a resend: PossDupFlag and OrigSendingTime."""
        head = [(49, "CLIENT1"), (56, "TANDEM"), (34, seq), (43, "Y"), (52, NOW), (122, NOW)]
        self.sock.sendall(encode("FIX.4.4", msg_type, head + fields))

    def logon(self, *extra):
        self.send("A", [(98, 0), (108, 30), *extra, (553, "client1"), (554, "s3cret")])

    def read(self, pred, timeout_s=20.0):
        """Messages until one satisfies ``pred``; answers resend requests with a gap fill."""
        deadline = time.monotonic() + timeout_s
        while True:
            for i, m in enumerate(self.inbox):
                if pred(m):
                    del self.inbox[:i + 1]
                    return m
            assert time.monotonic() < deadline, [(m.msg_type, m.get_str(150), m.get_str(58)) for m in self.inbox]
            self.sock.settimeout(0.2)
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            assert data, "the gateway closed the connection"
            for m in self.framer.feed(data):
                self.highest = max(self.highest, int(m.get_str(34)))
                if m.msg_type == "2" and self.gap_fill:   # the gateway asks again: gap-fill up to our next number
                    head = [(49, "CLIENT1"), (56, "TANDEM"), (34, m.get_str(7)), (43, "Y"), (52, NOW),
                            (122, NOW)]
                    self.sock.sendall(encode("FIX.4.4", "4", head + [(123, "Y"), (36, self.seq)]))
                self.inbox.append(m)


def er(status=None, exec_type=None, cl=None):
    return lambda m: m.msg_type == "8" and (status is None or m.get_str(39) == status) and \
        (exec_type is None or m.get_str(150) == exec_type) and (cl is None or m.get_str(11) == cl)


def nos(cl, qty=300, px="100", account="ACC1", symbol="AAA"):
    return [(11, cl), (1, account), (55, symbol), (54, "1"), (60, NOW), (38, qty), (40, "2"), (44, px), (59, "0")]


def test_fix_order_flow_and_restart(tmp_path):
    rig = Rig(tmp_path, {"AAA": 1}, {"AAA": PX}, venues=[XNAS]).start()
    gw = None
    try:
        path = gateway_toml(tmp_path)
        gw, port = start_gateway(rig, path)
        c = FixClient(port)
        c.logon()
        assert c.read(lambda m: m.msg_type == "A").get_str(34) == "1"
        c.send("D", nos("O1"))
        new = c.read(er("0", "0", "O1"))
        assert (new.get_str(1), new.get_str(151), new.get_str(14), new.get_str(55)) == ("ACC1", "300", "0", "AAA")
        other = rig.other_firm()
        other.order("S1", "S", 100, PX)
        part = c.read(er("1", "F", "O1"))            # 4.4: a fill is ExecType F, OrdStatus partial
        assert (part.get_str(32), part.get_str(31), part.get_str(151), part.get_str(14)) == ("100", "100", "200", "100")
        assert 20 not in part                        # no ExecTransType in 4.4
        c.send("G", [(41, "O1"), (11, "O2"), (1, "ACC1"), (55, "AAA"), (54, "1"), (60, NOW), (38, 250), (40, "2"),
                     (44, "100")])
        rep = c.read(er(exec_type="5", cl="O2"))
        assert (rep.get_str(41), rep.get_str(38), rep.get_str(151)) == ("O1", "250", "150")

        # refused at the gateway: another account; refused by the core: an unknown symbol
        c.send("D", nos("O3", account="ACC2"))
        bad = c.read(er("8", "8", "O3"))
        assert "account" in bad.get_str(58)
        c.send("D", nos("O4", symbol="ZZZ"))
        assert c.read(er("8", "8", "O4")).get_str(58) == "unknown symbol"
        c.send("H", [(37, "1"), (11, "O2"), (55, "AAA"), (54, "1")])   # OrderStatusRequest: not supported
        bmr = c.read(lambda m: m.msg_type == "j")
        assert (bmr.get_str(372), bmr.get_str(380)) == ("H", "3")
        # the gateway's counters (what `tandem metrics` serves): four orders in, the plain
        # ones on the batch path, the other account and the unsupported message refused
        counters = Counters(gateway_counters_path(rig.cfg["run_dir"], "fix", 301), GATEWAY, create=False).snapshot()
        assert (counters["logons"], counters["sessions_logged_on"], counters["orders_in"], counters["refused"]) == \
            (1, 1, 4, 2)
        assert counters["orders_batched"] == 3 and counters["reports_out"] >= 4 and counters["garbled_dropped"] == 0
        assert counters["commands_published"] == 4 and counters["core_incarnations"] == 1   # logon, D, G, D

        # the gateway dies; the venue fills 50 more while it is away
        gw.send_signal(signal.SIGKILL)
        gw.wait()
        other.order("S2", "S", 50, PX)
        time.sleep(1.0)
        gw, port = start_gateway(rig, path)
        c2 = FixClient(port, seq=c.seq)
        c2.logon()
        logon = c2.read(lambda m: m.msg_type == "A")
        # its MsgSeqNum is past what we saw: ask for the rest, as an initiator does
        c2.send("2", [(7, c.highest + 1), (16, 0)])
        fill = c2.read(er("1", "F", "O2"))
        assert fill.get_str(43) == "Y" and (fill.get_str(32), fill.get_str(14), fill.get_str(151)) == ("50", "150", "100")
        assert int(logon.get_str(34)) > int(fill.get_str(34))
        c2.send("F", [(41, "O2"), (11, "O5"), (55, "AAA"), (54, "1"), (60, NOW)])
        cx = c2.read(er("4", "4", "O5"))
        assert (cx.get_str(41), cx.get_str(151), cx.get_str(14)) == ("O2", "0", "150")
        other.close()
        # every command of the session journaled once, gapless
        inputs = rig.journal_inputs()
        hdr = R.header(inputs)
        mine = hdr["source_seq"][hdr["source_id"] == 301]
        assert mine.tolist() == list(range(1, len(mine) + 1))
        kinds = hdr["type"][hdr["source_id"] == 301].tolist()
        assert kinds.count(R.NEW_ORDER) == 2 and kinds.count(R.REPLACE) == 1 and kinds.count(R.CANCEL) == 1
    finally:
        stop(rig, gw)


def test_numbers_reset_then_a_crash_before_anything_of_the_new_day_is_journaled(tmp_path):
    """A client starts its day with ResetSeqNumFlag while the sequencer is away; the
    gateway takes two orders it cannot hand over and is SIGKILLed. Restarted, it must
    ask for them again from MsgSeqNum 1 (the journal has nothing since the reset), not
    from where the old day's numbers were."""
    rig = Rig(tmp_path, {"AAA": 1}, {"AAA": PX}, venues=[XNAS]).start()
    gw = None
    try:
        path = gateway_toml(tmp_path)
        gw, port = start_gateway(rig, path)
        c = FixClient(port)
        c.logon()
        c.read(lambda m: m.msg_type == "A")
        for i in range(1, 6):
            c.send("D", nos(f"Y{i}"))
            c.read(er("0", "0", f"Y{i}"))                 # yesterday: MsgSeqNums up to 6, journaled
        counters = Counters(gateway_counters_path(rig.cfg["run_dir"], "fix", 301), GATEWAY, create=False)
        assert counters.get("core_connected") == 1
        rig.sequencer.send_signal(signal.SIGTERM)
        rig.sequencer.wait()
        deadline = time.monotonic() + 30
        while counters.get("core_connected"):             # from now on its commands stay queued in it
            assert time.monotonic() < deadline, "the gateway still sees a sequencer"
            time.sleep(0.05)
        c.sock.close()
        today = FixClient(port)
        today.logon((141, "Y"))
        assert today.read(lambda m: m.msg_type == "A").get_str(141) == "Y"
        today.send("D", nos("T1"))                        # MsgSeqNums 2 and 3: received, not journaled
        today.send("D", nos("T2"))
        time.sleep(1.0)
        gw.send_signal(signal.SIGKILL)
        gw.wait()
        rig.sequencer = subprocess.Popen(cli("sequencer", "--config", str(rig.cfg_path)), stderr=rig.seq_log)
        gw, port = start_gateway(rig, path)
        again = FixClient(port, seq=4, gap_fill=False)
        again.logon()
        again.read(lambda m: m.msg_type == "A")
        ask = again.read(lambda m: m.msg_type == "2")
        assert (ask.get_str(7), ask.get_str(16)) == ("1", "0")
        again.resend(1, "4", [(123, "Y"), (36, 2)])      # the Logon: gap-filled
        again.resend(2, "D", nos("T1"))
        again.resend(3, "D", nos("T2"))
        again.read(er("0", "0", "T1"), timeout_s=120)     # the new sequencer may compile first
        again.read(er("0", "0", "T2"))
        inputs = rig.journal_inputs()
        orders = inputs[R.header(inputs)["type"] == R.NEW_ORDER].view(R.NewOrder)
        cl = sorted(bytes(o).rstrip(b"\0").decode() for o in orders["cl_ord_id"])
        assert cl == ["T1", "T2", "Y1", "Y2", "Y3", "Y4", "Y5"]   # each once
    finally:
        stop(rig, gw)


def test_restart_after_a_logout_asks_for_nothing_again(tmp_path):
    """The last journaled input of the session is its disconnect: a restarted gateway
    knows every message up to the Logout was handled and asks for none of them again
    (asking would bring orders back as PossDup resends and publish them twice)."""
    rig = Rig(tmp_path, {"AAA": 1}, {"AAA": PX}, venues=[XNAS]).start()
    gw = None
    try:
        path = gateway_toml(tmp_path)
        gw, port = start_gateway(rig, path)
        c = FixClient(port, gap_fill=False)
        c.logon()
        c.read(lambda m: m.msg_type == "A")
        c.send("D", nos("O1"))
        c.read(er("0", "0", "O1"))
        c.send("5", [])
        c.read(lambda m: m.msg_type == "5")
        time.sleep(1.0)                                    # the disconnect is journaled
        gw.send_signal(signal.SIGKILL)
        gw.wait()
        gw, port = start_gateway(rig, path)
        c2 = FixClient(port, seq=c.seq, gap_fill=False)
        c2.logon()
        c2.read(lambda m: m.msg_type == "A")
        c2.send("D", nos("O2"))
        first = c2.read(lambda m: m.msg_type in ("2", "8"))
        assert first.msg_type == "8" and first.get_str(11) == "O2", "the gateway asked for a resend"
        inputs = rig.journal_inputs()
        assert int((R.header(inputs)["type"] == R.NEW_ORDER).sum()) == 2
    finally:
        stop(rig, gw)
