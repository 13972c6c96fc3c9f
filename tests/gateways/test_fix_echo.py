"""`tandem gateway fix --echo-app`: the FIX acceptor's process shell, driven over real sockets.

The counterparty is a raw socket scripted by the test: it writes exact bytes and checks
the exact bytes of every reply (SendingTime 52 comes from the gateway's clock, so the
expected message is encoded with the 52 it carries and compared whole).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from gateways.fix.acceptor import (ConfigError, FixAcceptor, GatewayConfig, SessionSpec, StoreInUse,
                                   load_config, parse_config)
from gateways.fix.codec import FixFramer, encode
from gateways.fix.echo import EchoApp
from gateways.fix.session import format_utc
from gateways.fix.store import MemoryStore

OURS = "TANDEM"
ECHO_TEXT = "Unsupported message type {}: echo mode answers only NewOrderSingle"

CONFIG = """
[gateway]
host = "127.0.0.1"
port = 0
store_dir = "{store}"
logout_timeout_s = 2
{tls}

[[gateway.sessions]]
begin_string = "FIX.4.4"
sender_comp_id = "TANDEM"
target_comp_id = "ALICE"
account = "ALICE01"
client_id = 1
username = "alice"
password = "secret"
heartbeat_min_s = 5
heartbeat_max_s = 60

[[gateway.sessions]]
begin_string = "FIX.4.2"
sender_comp_id = "TANDEM"
target_comp_id = "BOB"
account = "BOB01"
client_id = 2
password_file = "bob.password"

[[gateway.sessions]]
begin_string = "FIX.4.2"
sender_comp_id = "TANDEM"
target_comp_id = "ALICE"
account = "ALICE42"
client_id = 1

[[gateway.sessions]]
begin_string = "FIX.4.4"
sender_comp_id = "TANDEM"
target_comp_id = "CAROL"
reset_on_logon = "always"

[[gateway.sessions]]
begin_string = "FIX.4.4"
sender_comp_id = "TANDEM"
target_comp_id = "DAVE"
reset_on_logon = "refuse"
"""


def write_config(tmp_path: Path, tls: str = "") -> Path:
    (tmp_path / "bob.password").write_text("bobpw\n")
    cfg = tmp_path / "gateway.toml"
    cfg.write_text(CONFIG.format(store=tmp_path / "store", tls=tls))
    return cfg


class Gateway:
    """A `tandem gateway fix --echo-app` process."""

    def __init__(self, cfg: Path) -> None:
        self.cfg = cfg
        self.proc = subprocess.Popen([sys.executable, "-m", "tandem.cli", "gateway", "fix", "--config", str(cfg),
                                      "--echo-app"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line:
            raise AssertionError(f"gateway did not start: {self.proc.stderr.read()}")
        self.hello = json.loads(line)
        self.port = self.hello["port"]

    def stop(self, sig=signal.SIGTERM) -> tuple[int, str, str]:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        out, err = self.proc.communicate(timeout=15)
        return self.proc.returncode, out, err


@pytest.fixture
def gateway(tmp_path):
    started = []

    def start(cfg=None):
        g = Gateway(cfg or write_config(tmp_path))
        started.append(g)
        return g

    yield start
    for g in started:
        if g.proc.poll() is None:
            g.proc.kill()
            g.proc.communicate(timeout=10)


class Peer:
    """A raw-socket initiator: its own MsgSeqNum, exact bytes out, messages in."""

    def __init__(self, port: int, them: str, begin: str = "FIX.4.4", seq: int = 0, tls: ssl.SSLContext | None = None):
        self.them, self.begin, self.seq = them, begin, seq
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.sock = tls.wrap_socket(sock, server_hostname="localhost") if tls else sock
        self.framer = FixFramer()
        self.got = []

    def raw(self, mt: str, fields, seq: int | None = None, header=()) -> bytes:
        if seq is None:
            self.seq += 1
            seq = self.seq
        t = format_utc(datetime.now(timezone.utc))
        return encode(self.begin, mt, [(49, self.them), (56, OURS), (34, seq), *header, (52, t), *fields])

    def send(self, mt: str, fields=(), **kw) -> bytes:
        data = self.raw(mt, fields, **kw)
        self.sock.sendall(data)
        return data

    def logon(self, hb: int = 30, extra=()):
        self.send("A", [(98, 0), (108, hb), *extra])

    def read(self, n: int = 1, timeout: float = 10.0):
        """The next n messages."""
        end = time.monotonic() + timeout
        while len(self.got) < n:
            left = end - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{self.them}: timed out; got {self.got}")
            self.sock.settimeout(left)
            data = self.sock.recv(65536)
            if not data:
                raise AssertionError(f"{self.them}: connection closed; got {self.got}")
            self.got += self.framer.feed(data)
        out, self.got = self.got[:n], self.got[n:]
        return out

    def closed(self, timeout: float = 10.0) -> bool:
        """True once the gateway closed the connection (and it sent nothing more)."""
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(65536)
        except (ConnectionResetError, ssl.SSLError):
            return True
        self.got += self.framer.feed(data)
        return data == b""

    def expect(self, mt: str, seq: int, body=(), poss_dup: bool = False, orig=None):
        """Read one message and check its bytes exactly (with the 52 it carries)."""
        (m,) = self.read(1)
        header = [(49, OURS), (56, self.them), (34, seq)] + ([(43, "Y")] if poss_dup else [])
        header.append((52, m.get(52)))
        if orig is not None:
            header.append((122, orig))
        want = encode(self.begin, mt, header + list(body))
        assert m.raw == want, f"\n got  {m}\n want {want!r}"
        return m

    def close(self) -> None:
        self.sock.close()


def nos(clordid: str, begin: str = "FIX.4.4"):
    t = format_utc(datetime.now(timezone.utc))
    fields = [(11, clordid), (21, "1"), (55, "AAPL"), (54, "1"), (60, t), (38, "100"), (40, "2"), (44, "187.25"),
              (59, "0")]
    if begin == "FIX.4.4":
        fields.insert(1, (1, "ALICE01"))
    return fields


def bmr(seq: int, mt: str):
    return [(45, seq), (372, mt), (380, 3), (58, ECHO_TEXT.format(mt))]


pytestmark = pytest.mark.e2e


# ---------------------------------------------------------------------- the process

def test_announces_port_and_sessions_and_needs_a_driver_without_echo_app(gateway, tmp_path):
    g = gateway()
    assert g.hello == {"gateway": "fix", "host": "127.0.0.1", "port": g.port, "tls": False, "mode": "echo",
                       "sessions": ["FIX.4.4:TANDEM->ALICE", "FIX.4.2:TANDEM->BOB", "FIX.4.2:TANDEM->ALICE",
                                    "FIX.4.4:TANDEM->CAROL", "FIX.4.4:TANDEM->DAVE"]}
    code, out, _ = g.stop()
    assert code == 0
    assert json.loads(out)["stopped"] is True
    # the order mode needs the core: with no media driver it says so and exits 1
    core = tmp_path / "core.toml"
    core.write_text(f'[aeron]\ndir = "{tmp_path / "no-driver"}"\n')
    p = subprocess.run([sys.executable, "-m", "tandem.cli", "gateway", "fix", "--config", str(g.cfg),
                        "--core-config", str(core)], capture_output=True, text=True, timeout=60)
    assert p.returncode == 1 and "media driver" in p.stderr and p.stdout == ""


def test_fix44_logon_echo_business_reject_heartbeat_logout(gateway):
    g = gateway()
    a = Peer(g.port, "ALICE")
    a.logon(30, [(553, "alice"), (554, "secret")])
    a.expect("A", 1, [(98, 0), (108, 30)])
    order = nos("ORD-1")
    a.send("D", order)
    a.expect("D", 2, order)                          # echoed as received, a fresh header
    a.send("F", [(41, "ORD-1"), (11, "CXL-1"), (55, "AAPL"), (54, "1"), (60, order[5][1])])
    a.expect("j", 3, bmr(3, "F"))
    a.send("U7", [(58, "a custom type")])
    a.expect("j", 4, bmr(4, "U7"))
    a.send("1", [(112, "PING-7")])                   # TestRequest -> Heartbeat with its TestReqID
    a.expect("0", 5, [(112, "PING-7")])
    a.send("0")
    a.send("5", [(58, "bye")])
    a.expect("5", 6)
    assert a.closed()
    a.close()
    code, out, err = g.stop()
    assert code == 0
    final = {s["key"]: s for s in json.loads(out)["sessions"]}
    assert final["FIX.4.4:TANDEM->ALICE"] == {"key": "FIX.4.4:TANDEM->ALICE", "connected": False, "state": "down",
                                              "next_sender_seq": 7, "next_target_seq": 8}


def test_fix42_logon_with_configured_password_and_echo(gateway):
    g = gateway()
    b = Peer(g.port, "BOB", "FIX.4.2")
    b.logon(20, [(554, "bobpw")])                    # 4.2: the configured check reads 554 too
    b.expect("A", 1, [(98, 0), (108, 20)])
    order = nos("B-1", "FIX.4.2")
    b.send("D", order)
    b.expect("D", 2, order)
    b.send("G", [(41, "B-1"), (11, "B-2"), (21, "1"), (55, "AAPL"), (54, "1"), (38, "50"), (40, "2")])
    b.expect("j", 3, bmr(3, "G"))
    # the same CompIDs on FIX.4.4 and FIX.4.2 are two sessions, routed by BeginString
    a = Peer(g.port, "ALICE", "FIX.4.2")
    a.logon(30)
    a.expect("A", 1, [(98, 0), (108, 30)])
    a.close()
    b.close()


def test_garbled_messages_are_dropped_without_a_sequence_number(gateway):
    g = gateway()
    a = Peer(g.port, "ALICE")
    a.logon(30, [(553, "alice"), (554, "secret")])
    a.expect("A", 1, [(98, 0), (108, 30)])
    bad = bytearray(a.raw("D", nos("GARBLED")))
    bad[-2] = ord("0") if bad[-2] != ord("0") else ord("1")   # a wrong CheckSum
    a.sock.sendall(b"junk without a header\x01" + bytes(bad))
    a.seq -= 1                                                  # it never counted
    order = nos("ORD-2")
    a.send("D", order)
    a.expect("D", 2, order)
    a.close()
    _, _, err = g.stop()
    assert "garbled input dropped" in err


def test_restart_after_sigkill_serves_a_resend_from_the_lmdb_store(gateway):
    g = gateway()
    a = Peer(g.port, "ALICE")
    a.logon(30, [(553, "alice"), (554, "secret")])
    a.expect("A", 1, [(98, 0), (108, 30)])
    o1, o2 = nos("R-1"), nos("R-2")
    a.send("D", o1)
    e1 = a.expect("D", 2, o1)
    a.send("D", o2)
    e2 = a.expect("D", 3, o2)
    a.close()
    g.stop(signal.SIGKILL)

    g2 = gateway(g.cfg)                               # same store_dir: the session resumes
    a2 = Peer(g2.port, "ALICE", seq=a.seq)
    a2.logon(30, [(553, "alice"), (554, "secret")])
    a2.expect("A", 4, [(98, 0), (108, 30)])           # numbers continue where the killed process left them
    a2.send("2", [(7, 2), (16, 0)])                   # as if we never got 2 and 3
    a2.expect("D", 2, o1, poss_dup=True, orig=e1.get(52))
    a2.expect("D", 3, o2, poss_dup=True, orig=e2.get(52))
    (gf,) = a2.read(1)                                # the Logon (4) becomes a GapFill to 5
    assert gf.raw == encode("FIX.4.4", "4", [(49, OURS), (56, "ALICE"), (34, 4), (43, "Y"), (52, gf.get(52)),
                                             (122, gf.get(122)), (123, "Y"), (36, 5)])
    o3 = nos("R-3")
    a2.send("D", o3)
    a2.expect("D", 5, o3)
    a2.close()


def test_heartbeat_bounds_and_wrong_password_refused_with_logout(gateway):
    g = gateway()
    a = Peer(g.port, "ALICE")
    a.logon(2, [(553, "alice"), (554, "secret")])
    a.expect("5", 1, [(58, "HeartBtInt 2 out of bounds: must be 5 to 60")])
    assert a.closed()
    a = Peer(g.port, "ALICE")
    a.logon(61, [(553, "alice"), (554, "secret")])
    a.expect("5", 2, [(58, "HeartBtInt 61 out of bounds: must be 5 to 60")])
    assert a.closed()
    a = Peer(g.port, "ALICE")
    a.logon(30, [(553, "alice"), (554, "wrong")])
    a.expect("5", 3, [(58, "Invalid username or password")])
    assert a.closed()
    a = Peer(g.port, "ALICE")
    a.logon(30, [(553, "alice")])                     # no password at all
    a.expect("5", 4, [(58, "Invalid username or password")])
    assert a.closed()
    b = Peer(g.port, "BOB", "FIX.4.2")
    b.logon(30, [(554, "nope")])
    b.expect("5", 1, [(58, "Invalid username or password")])
    assert b.closed()
    a = Peer(g.port, "ALICE", seq=0)                  # refused Logons did not count: 1 again
    a.logon(30, [(553, "alice"), (554, "secret")])
    a.expect("A", 5, [(98, 0), (108, 30)])
    a.close()


def test_strangers_and_second_connections_are_closed_without_an_answer(gateway):
    g = gateway()
    x = Peer(g.port, "MALLORY")
    x.logon(30)
    assert x.closed() and x.got == []
    y = Peer(g.port, "ALICE", "FIX.4.2")
    y.send("D", nos("NOLOGON", "FIX.4.2"))            # first message not a Logon
    assert y.closed() and y.got == []
    a = Peer(g.port, "ALICE")
    a.logon(30, [(553, "alice"), (554, "secret")])
    a.expect("A", 1, [(98, 0), (108, 30)])
    a2 = Peer(g.port, "ALICE")
    a2.logon(30, [(553, "alice"), (554, "secret")])
    assert a2.closed() and a2.got == []
    order = nos("STILL-HERE")                         # the first connection is untouched
    a.send("D", order)
    a.expect("D", 2, order)
    a.close()


def test_reset_policies(gateway):
    g = gateway()
    c = Peer(g.port, "CAROL")
    c.logon(30)
    c.expect("A", 1, [(98, 0), (108, 30), (141, "Y")])   # "always": every Logon starts over
    c.send("D", nos("C-1"))
    c.read(1)
    c.close()
    c = Peer(g.port, "CAROL")
    c.logon(30)
    c.expect("A", 1, [(98, 0), (108, 30), (141, "Y")])
    c.close()
    d = Peer(g.port, "DAVE")
    d.logon(30, [(141, "Y")])
    d.expect("5", 1, [(58, "ResetSeqNumFlag(141)=Y not accepted on this session")])
    assert d.closed()
    d = Peer(g.port, "DAVE")
    d.logon(30)
    d.expect("A", 2, [(98, 0), (108, 30)])
    d.close()
    a = Peer(g.port, "ALICE")                             # "accept" (default): 141=Y is honoured
    a.logon(30, [(553, "alice"), (554, "secret")])
    a.expect("A", 1, [(98, 0), (108, 30)])
    a.close()
    a = Peer(g.port, "ALICE", seq=0)
    a.logon(30, [(141, "Y"), (553, "alice"), (554, "secret")])
    a.expect("A", 1, [(98, 0), (108, 30), (141, "Y")])
    a.close()


def test_sigterm_logs_connected_sessions_out_then_exits_0(gateway):
    g = gateway()
    a = Peer(g.port, "ALICE")
    a.logon(30, [(553, "alice"), (554, "secret")])
    a.expect("A", 1, [(98, 0), (108, 30)])
    b = Peer(g.port, "BOB", "FIX.4.2")
    b.logon(30, [(554, "bobpw")])
    b.expect("A", 1, [(98, 0), (108, 30)])
    g.proc.send_signal(signal.SIGTERM)
    a.expect("5", 2, [(58, "gateway shutting down")])
    b.expect("5", 2, [(58, "gateway shutting down")])
    a.send("5")                                           # ALICE answers; BOB does not
    assert a.closed()
    t0 = time.monotonic()
    code, out, _ = g.stop()
    assert code == 0 and time.monotonic() - t0 < 5       # BOB's handshake timed out (logout_timeout_s 2)
    assert b.closed(1)
    final = {s["key"]: s for s in json.loads(out.splitlines()[-1])["sessions"]}
    assert final["FIX.4.4:TANDEM->ALICE"]["next_target_seq"] == 3
    assert final["FIX.4.2:TANDEM->BOB"]["next_sender_seq"] == 3


def test_a_second_process_on_the_same_store_is_refused(gateway):
    g = gateway()
    p = subprocess.run([sys.executable, "-m", "tandem.cli", "gateway", "fix", "--config", str(g.cfg), "--echo-app"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 1 and "in use by another gateway process" in p.stderr


def test_tls(gateway, tmp_path):
    # a self-signed test certificate for localhost (100 years), kept with the tests
    data = Path(__file__).parent / "data"
    shutil.copy(data / "test-cert.pem", tmp_path / "cert.pem")
    shutil.copy(data / "test-key.pem", tmp_path / "key.pem")
    cfg = write_config(tmp_path, tls='[gateway.tls]\ncert_file = "cert.pem"\nkey_file = "key.pem"')
    g = gateway(cfg)
    assert g.hello["tls"] is True
    ctx = ssl.create_default_context(cafile=str(tmp_path / "cert.pem"))
    a = Peer(g.port, "ALICE", tls=ctx)
    a.logon(30, [(553, "alice"), (554, "secret")])
    a.expect("A", 1, [(98, 0), (108, 30)])
    order = nos("TLS-1")
    a.send("D", order)
    a.expect("D", 2, order)
    a.close()
    p = Peer(g.port, "ALICE", seq=10)                   # plain TCP: the handshake fails, nothing comes
    p.logon(30, [(553, "alice"), (554, "secret")])
    assert p.closed() and p.got == []


# ---------------------------------------------------------------------- config

def test_config_file_round_trip(tmp_path):
    cfg = load_config(write_config(tmp_path))
    assert cfg.host == "127.0.0.1" and cfg.port == 0 and cfg.store_dir == str(tmp_path / "store")
    alice, bob, _, carol, dave = cfg.sessions
    assert alice == SessionSpec("FIX.4.4", "TANDEM", "ALICE", "ALICE01", 1, "alice", "secret", 5, 60, "accept", True)
    assert bob.password == "bobpw" and bob.username is None and bob.heartbeat_min_s == 1
    assert carol.reset_on_logon == "always" and dave.reset_on_logon == "refuse"
    assert cfg.logout_timeout_s == 2.0 and cfg.max_sending_time_skew_s == 120.0


BASE = {"begin_string": "FIX.4.4", "sender_comp_id": "TANDEM", "target_comp_id": "ALICE"}


@pytest.mark.parametrize("gateway_extra, session_extra, message", [
    ({"prot": 1}, {}, "[gateway]: unknown key 'prot'"),
    ({"port": 70000}, {}, "[gateway]: port must be an integer from 0 to 65535, got 70000"),
    ({"port": "9878"}, {}, "[gateway]: port must be an integer from 0 to 65535, got '9878'"),
    ({"tls": {"cert_file": "c.pem"}}, {}, "[gateway.tls]: key_file is required"),
    ({}, {"begin_string": "FIX.5.0"}, '(ALICE): begin_string must be "FIX.4.2" or "FIX.4.4", got \'FIX.5.0\''),
    ({}, {"sender_comp_id": "A B"}, "(ALICE): sender_comp_id must be 1 to 64 letters"),
    ({}, {"target_comp_id": None}, "#1 (?): target_comp_id is required"),
    ({}, {"heartbeat_min_s": 30, "heartbeat_max_s": 10}, "heartbeat_min_s 30 is above heartbeat_max_s 10"),
    ({}, {"heartbeat_max_s": -1}, "heartbeat_max_s must be an integer from 0 to 3600"),
    ({}, {"reset_on_logon": "sometimes"}, 'reset_on_logon must be "accept", "always", "refuse"'),
    ({}, {"account": "A" * 17}, "account must be at most 16 printable ASCII characters"),
    ({}, {"cancel_on_disconnect": "yes"}, "cancel_on_disconnect must be true or false"),
    ({}, {"passwrd": "x"}, "(ALICE): unknown key 'passwrd'"),
    ({}, {"password": "x", "password_file": "p"}, "password and password_file are exclusive"),
    ({}, {"client_id": -1}, "client_id must be an integer from 0 to 4294967295"),
])
def test_config_errors_name_the_key(gateway_extra, session_extra, message):
    session = {k: v for k, v in {**BASE, **session_extra}.items() if v is not None}
    with pytest.raises(ConfigError) as e:
        parse_config({"gateway": {**gateway_extra, "sessions": [session]}}, "g.toml")
    assert message in str(e.value) and str(e.value).startswith("g.toml: ")


def test_config_errors_whole_file(tmp_path):
    with pytest.raises(ConfigError, match="no \\[gateway\\] table"):
        parse_config({"venue": {}}, "g.toml")
    with pytest.raises(ConfigError, match="no \\[\\[gateway.sessions\\]\\] entry"):
        parse_config({"gateway": {}}, "g.toml")
    with pytest.raises(ConfigError, match="#2 repeats session FIX.4.4:TANDEM->ALICE \\(#1\\)"):
        parse_config({"gateway": {"sessions": [BASE, dict(BASE)]}}, "g.toml")
    as_bool = parse_config({"gateway": {"sessions": [{**BASE, "reset_on_logon": True}]}})
    assert as_bool.sessions[0].reset_on_logon == "always"
    bad = tmp_path / "bad.toml"
    bad.write_text("[gateway\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)
    p = subprocess.run([sys.executable, "-m", "tandem.cli", "gateway", "fix", "--config", str(bad), "--echo-app"],
                       capture_output=True, text=True)
    assert p.returncode == 2 and "not valid TOML" in p.stderr


# ---------------------------------------------------------------------- the acceptor in-process

class Recorder(EchoApp):
    def __init__(self, acceptor) -> None:
        super().__init__(acceptor.send_app)
        self.events = []

    def on_logon(self, key, now):
        self.events.append(("logon", key))

    def on_logout(self, key, reason, now):
        self.events.append(("logout", key, reason))


def test_acceptor_notifies_logon_logout_and_queues_sends_while_down():
    spec = SessionSpec("FIX.4.4", "TANDEM", "ALICE", heartbeat_min_s=0)
    cfg = GatewayConfig(sessions=(spec,), port=0)
    stores = {}

    async def scenario():
        acc = FixAcceptor(cfg, store_factory=lambda s: stores.setdefault(s.key, MemoryStore()))
        app = acc.app = Recorder(acc)
        port = await acc.start()
        key = spec.key
        framer = FixFramer()

        async def read(reader, n):
            out = []
            while len(out) < n:
                out += framer.feed(await asyncio.wait_for(reader.read(65536), 5))
            return out

        def msg(mt, seq, fields=()):
            t = format_utc(datetime.now(timezone.utc))
            return encode("FIX.4.4", mt, [(49, "ALICE"), (56, "TANDEM"), (34, seq), (52, t), *fields])

        r, w = await asyncio.open_connection("127.0.0.1", port)
        w.write(msg("A", 1, [(98, 0), (108, 0)]))
        (logon,) = await read(r, 1)
        assert logon.msg_type == "A" and app.events == [("logon", key)] and acc.is_logged_on(key)
        assert acc.send_app(key, "8", [(37, "O-1"), (150, "0")]) == 2
        (er,) = await read(r, 1)
        assert er.msg_type == "8" and er.get(37) == b"O-1"
        w.close()
        for _ in range(100):
            if len(app.events) == 2:
                break
            await asyncio.sleep(0.01)
        assert app.events[1] == ("logout", key, "connection closed by the counterparty")
        assert not acc.is_logged_on(key)
        assert acc.send_app(key, "8", [(37, "O-2"), (150, "4")]) == 3     # down: stored, not written
        r, w = await asyncio.open_connection("127.0.0.1", port)
        w.write(msg("A", 2, [(98, 0), (108, 0)]))
        logon, = await read(r, 1)
        assert logon.get(34) == b"4" and app.events[2] == ("logon", key)
        w.write(msg("2", 3, [(7, 3), (16, 0)]))        # the gap 3..3 seen from the Logon's 4
        resent, gap = await read(r, 2)
        assert resent.get(34) == b"3" and resent.get(43) == b"Y" and resent.get(37) == b"O-2"
        assert gap.msg_type == "4" and gap.get(36) == b"5"
        closing = asyncio.create_task(acc.close())     # logs ALICE out and waits for the answer
        (lo,) = await read(r, 1)
        assert lo.msg_type == "5" and lo.get(58) == b"gateway shutting down"
        w.write(msg("5", 4))
        await closing
        assert app.events[-1] == ("logout", key, "logout complete")

    asyncio.run(scenario())


def test_store_dir_lock(tmp_path):
    cfg = GatewayConfig(sessions=(SessionSpec("FIX.4.4", "TANDEM", "ALICE"),), store_dir=str(tmp_path / "s"))
    a = FixAcceptor(cfg)
    with pytest.raises(StoreInUse):
        FixAcceptor(cfg)
    assert (tmp_path / "s" / "FIX.4.4" / "TANDEM" / "ALICE" / "data.mdb").exists()
    a._close_stores()
    FixAcceptor(cfg)._close_stores()
    assert os.path.exists(tmp_path / "s" / "gateway.lock")
