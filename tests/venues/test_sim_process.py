"""`tandem venue-sim` as a real process: an OUCH client logs in over SoupBinTCP on
127.0.0.1, trades against the background liquidity, and gets End of Session at SIGTERM."""

import json
import signal
import socket
import subprocess
import sys
import time

import pytest

from venues.protocols import ouch42
from venues.protocols import soupbintcp as soup

pytestmark = pytest.mark.e2e

CONFIG = """
[venue]
name = "SIM1"
venue_id = 1
symbols = ["AAA"]
prices = [100.0]
seed = 3
background_per_s = 500
[venue.users]
TANDEM = "secret"
"""


def read_packets(sock, reader, until, timeout=10.0):
    got = []
    end = time.monotonic() + timeout
    while not until(got) and time.monotonic() < end:
        sock.settimeout(max(0.01, end - time.monotonic()))
        try:
            data = sock.recv(65536)
        except socket.timeout:
            break
        if not data:
            break
        got.extend(reader.feed(data))
    return got


def test_venue_sim_process_trades_ouch_over_soupbintcp(tmp_path):
    cfg = tmp_path / "venue.toml"
    cfg.write_text(CONFIG)
    proc = subprocess.Popen([sys.executable, "-m", "tandem.cli", "venue-sim", "--config", str(cfg)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        hello = json.loads(proc.stdout.readline())
        assert hello["venue"] == "SIM1" and hello["host"] == "127.0.0.1"
        sock = socket.create_connection(("127.0.0.1", hello["port"]), timeout=10)
        reader = soup.PacketReader(accept=soup.SERVER_TYPES)
        sock.sendall(soup.encode_login_request("TANDEM", "secret", "", 1))
        first = read_packets(sock, reader, lambda g: g)
        assert first[0][0] == soup.LOGIN_ACCEPTED
        time.sleep(0.3)  # let the background agent quote
        # a marketable buy far through the offers trades against the agent's quotes
        order = ouch42.encode_enter_order(
            order_token="T1".ljust(14), side="B", shares=100, stock="AAA", price=1_010_000,
            time_in_force=0, firm="TNDM", display="Y", capacity="A", intermarket_sweep="N",
            minimum_quantity=0, cross_type="N", customer_type="R")
        sock.sendall(soup.encode_unsequenced_data(order))
        mine = lambda g: [ouch42.decode(p)[0] for k, p in g if k == soup.SEQUENCED_DATA]
        got = first + read_packets(sock, reader, lambda g: "E" in mine(g))
        kinds = mine(got)
        # the day opens with System Event 'S'; then accepted and executed against the agent
        assert kinds[:2] == ["S", "A"] and "E" in kinds, kinds
        assert set(kinds[2:]) <= {"E", "C"}, kinds      # (and the IOC remainder canceled, if any)
        proc.send_signal(signal.SIGTERM)
        got = read_packets(sock, reader, lambda g: any(k == soup.END_OF_SESSION for k, _ in g))
        assert any(k == soup.END_OF_SESSION for k, _ in got)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()


def test_venue_sim_refuses_a_config_without_logins(tmp_path):
    cfg = tmp_path / "venue.toml"
    cfg.write_text('[venue]\nsymbols = ["AAA"]\n')
    p = subprocess.run([sys.executable, "-m", "tandem.cli", "venue-sim", "--config", str(cfg)],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and "[venue.users] names no login" in p.stderr


def test_venue_sim_itch_feed_over_moldudp64_with_retransmission(tmp_path):
    from venues.protocols import moldudp64 as mold

    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    rx.settimeout(5)
    cfg = tmp_path / "venue.toml"
    cfg.write_text(CONFIG + f'[venue.feed]\nhost = "127.0.0.1"\nport = {rx.getsockname()[1]}\n')
    proc = subprocess.Popen([sys.executable, "-m", "tandem.cli", "venue-sim", "--config", str(cfg)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        hello = json.loads(proc.stdout.readline())
        tracker = mold.GapTracker()
        delivered = []
        while len(delivered) < 200:
            p = mold.decode_packet(rx.recv(2048))
            delivered += tracker.feed(p)
        assert tracker.missing() == [] and tracker.duplicates == 0  # loopback: nothing lost
        kinds = [m[:1] for m in delivered]
        assert kinds[0] == b"S" and b"R" in kinds and b"A" in kinds  # start of day, directory, adds
        # a retransmission request gets the same messages back, to the requester
        rx.sendto(mold.encode_request(hello["venue"], 1, 3), ("127.0.0.1", hello["retransmit_port"]))
        while True:
            p = mold.decode_packet(rx.recv(2048))
            if p.seq == 1:
                break
        assert list(p.messages) == delivered[:3]
        proc.send_signal(signal.SIGTERM)
        while p.kind != mold.KIND_END_OF_SESSION:
            p = mold.decode_packet(rx.recv(2048))
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        rx.close()
