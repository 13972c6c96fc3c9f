"""`tandem metrics`: the counters files of run_dir served as Prometheus text over real HTTP."""

import json
import subprocess
import sys
import threading
import urllib.error
import urllib.request

import pytest

from tandem import metrics
from tandem.counters import GATEWAY, SEQUENCER, Counters, gateway_counters_path


@pytest.fixture
def run_dir(tmp_path):
    seq = Counters(tmp_path / "sequencer.counters", SEQUENCER, create=True)
    seq.add("inputs_journaled", 12)
    seq.set("last_seq", 40)
    seq.set("role", 1)
    for source, logged_on in ((301, 2), (302, 0)):
        gw = Counters(gateway_counters_path(tmp_path, "fix", source), GATEWAY, create=True)
        gw.set("sessions_logged_on", logged_on)
        gw.add("orders_in", 7 * source)
    (tmp_path / "notes.txt").write_text("not a counters file")
    return tmp_path


def samples(text: str) -> dict[str, int]:
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            out[name] = int(value)
    return out


def test_render_types_and_labels(run_dir):
    text = metrics.render(run_dir)
    got = samples(text)
    assert got['tandem_sequencer_inputs_journaled_total{instance="sequencer"}'] == 12
    assert got['tandem_sequencer_last_seq{instance="sequencer"}'] == 40
    assert got['tandem_gateway_orders_in_total{instance="gateway-fix-301"}'] == 2107
    assert got['tandem_gateway_orders_in_total{instance="gateway-fix-302"}'] == 2114
    assert got['tandem_gateway_sessions_logged_on{instance="gateway-fix-301"}'] == 2
    assert "# TYPE tandem_sequencer_inputs_journaled_total counter" in text
    assert "# TYPE tandem_sequencer_role gauge" in text
    # one TYPE line per metric, before its samples; every slot of every file is there
    types = [ln.split()[2] for ln in text.splitlines() if ln.startswith("# TYPE")]
    assert len(types) == len(set(types)) == len(SEQUENCER) + len(GATEWAY)
    assert len(got) == len(SEQUENCER) + 2 * len(GATEWAY)


def test_served_over_http(run_dir):
    srv = metrics.server(run_dir, port=0)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{srv.server_address[1]}"
        with urllib.request.urlopen(url + "/metrics", timeout=5) as r:
            assert r.status == 200 and r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
            assert samples(r.read().decode())['tandem_sequencer_last_seq{instance="sequencer"}'] == 40
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(url + "/other", timeout=5)
        assert e.value.code == 404
    finally:
        srv.shutdown()
        srv.server_close()


def test_cli_serves_until_sigterm(run_dir, tmp_path):
    cfg = tmp_path / "core.toml"
    cfg.write_text(f'run_dir = "{run_dir}"\n')
    p = subprocess.Popen([sys.executable, "-m", "tandem.cli", "metrics", "--config", str(cfg), "--port", "0"],
                         stdout=subprocess.PIPE, text=True)
    try:
        hello = json.loads(p.stdout.readline())
        with urllib.request.urlopen(hello["metrics"], timeout=5) as r:
            assert 'tandem_gateway_orders_in_total{instance="gateway-fix-301"} 2107' in r.read().decode()
    finally:
        p.terminate()
        assert p.wait(timeout=10) == 0
