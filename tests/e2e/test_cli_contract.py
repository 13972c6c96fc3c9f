"""The scriptable contract: `tandem replay --json`, `tandem journal verify --json`, exit codes."""

import json
import subprocess
import sys

import pytest

from journal import JournalWriter
from sequencer import records, workload
from sequencer.replay import LogicParams, write_params

pytestmark = pytest.mark.e2e


def tandem(*args):
    p = subprocess.run([sys.executable, "-m", "tandem.cli", *args], capture_output=True, text=True)
    return p.returncode, p.stdout, p.stderr


@pytest.fixture(scope="module")
def journal_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli") / "journal"
    stream = workload.generate(11, 6_000, n_clients=8, n_symbols=16)
    w = JournalWriter(d, kind="input", record_size=records.COMMAND_SIZE, segment_bytes=256 << 10, fsync="none")
    w.open()
    for i in range(0, len(stream), 1000):
        w.append(stream[i:i + 1000])
    w.close(seal=True)
    write_params(d, LogicParams(orders=1 << 14, clients=64, symbols=64, digest_every=1000, max_sources=16))
    return d


def test_replay_json(journal_dir):
    code, out, err = tandem("replay", str(journal_dir), "--json")
    assert code == 0, err
    r = json.loads(out)
    assert r["ok"] and r["final_seq"] == 6_000 and len(r["digest"]) == 16
    assert sum(r["input_counts"].values()) == 6_000
    code, out2, _ = tandem("replay", str(journal_dir), "--json", "--to-seq", "2500")
    r2 = json.loads(out2)
    assert code == 0 and r2["final_seq"] == 2500 and r2["digest"] != r["digest"]


def test_verify_json_clean(journal_dir):
    code, out, _ = tandem("journal", "verify", str(journal_dir), "--json")
    r = json.loads(out)
    assert code == 0 and r["ok"] and r["first_bad_seq"] is None and r["final_seq"] == 6_000


def test_verify_names_flipped_byte(tmp_path, journal_dir):
    import shutil

    bad = tmp_path / "bad"
    shutil.copytree(journal_dir, bad)
    seg = sorted(bad.glob("*.seg"))[1]
    frame = 32 + records.COMMAND_SIZE
    data = bytearray(seg.read_bytes())
    # Find the 10th frame of the second segment by its seq field and flip a payload byte.
    header_len = 128
    off = header_len + 9 * frame
    seq = int.from_bytes(data[off + 8:off + 16], "little")
    data[off + 24 + 60] ^= 0x40
    seg.write_bytes(bytes(data))
    code, out, _ = tandem("journal", "verify", str(bad), "--json")
    r = json.loads(out)
    assert code != 0 and not r["ok"]
    assert r["first_bad_seq"] == seq
    assert r["reason"].startswith("checksum")


def test_replay_refuses_unknown_record(tmp_path):
    d = tmp_path / "j"
    raw = records.new_commands(3)
    hdr = records.header(raw)
    hdr["type"] = [records.TIMER, 250, records.TIMER]
    hdr["version"] = 1
    hdr["seq"] = [1, 2, 3]
    w = JournalWriter(d, kind="input", record_size=records.COMMAND_SIZE, fsync="none")
    w.open()
    w.append(raw)
    w.close(seal=True)
    write_params(d, LogicParams(orders=64, clients=4, symbols=4, digest_every=10, max_sources=4))
    code, out, _ = tandem("replay", str(d), "--json")
    r = json.loads(out)
    assert code != 0 and not r["ok"]
    assert "seq 2" in r["error"] and "unknown record type 250" in r["error"]


def test_every_command_has_help():
    for args in (["--help"], ["demo", "--help"], ["replay", "--help"], ["journal", "verify", "--help"],
                 ["sequencer", "--help"], ["producer", "--help"], ["driver", "--help"], ["stat", "--help"],
                 ["admin", "snapshot", "--help"], ["admin", "digest", "--help"], ["admin", "kill", "--help"],
                 ["admin", "cancel-all", "--help"], ["admin", "set-risk", "--help"], ["positions", "--help"],
                 ["scenario", "--help"], ["scenario", "run", "--help"]):
        code, out, _ = tandem(*args)
        assert code == 0 and "Usage:" in out


@pytest.fixture(scope="module")
def trading_journal(tmp_path_factory):
    """A day of the trading mix: routed orders, algos, three venues' L3 feeds."""
    d = tmp_path_factory.mktemp("trading") / "journal"
    stream = workload.generate(5, 8_000, n_clients=8, n_symbols=16, mix=workload.TRADING_MIX)
    w = JournalWriter(d, kind="input", record_size=records.COMMAND_SIZE, fsync="none")
    w.open()
    w.append(stream)
    w.close(seal=True)
    write_params(d, LogicParams(orders=1 << 15, clients=64, symbols=64, digest_every=1000, max_sources=16))
    return d, stream


def test_positions_json_from_a_journal(trading_journal):
    d, stream = trading_journal
    code, out, err = tandem("positions", str(d), "--json")
    assert code == 0, err
    doc = json.loads(out)
    code, replayed, _ = tandem("replay", str(d), "--json")
    assert doc["seq"] == len(stream) and doc["digest"] == json.loads(replayed)["digest"]
    assert doc["books"] > 0 and doc["child_orders"] > 0 and doc["routed_parents"] > 0
    assert {v["venue"] for v in doc["venues"]} == {1, 2, 3}
    # cash accounts: buying power is cash less what open buys reserve
    assert doc["clients"] and all(c["buying_power"] <= c["cash"] for c in doc["clients"])
    assert doc["firm"]["positions"] > 0 and doc["firm"]["gross"] >= abs(doc["firm"]["net"])


def test_positions_names_a_bad_journal(tmp_path):
    code, _, err = tandem("positions", str(tmp_path))
    assert code != 0 and "not a Tandem input journal" in err


def test_scenario_run_exit_codes(tmp_path):
    from pathlib import Path

    good = Path(__file__).resolve().parents[1] / "scenarios" / "buy_filled.toml"
    code, out, _ = tandem("scenario", "run", str(good))
    assert code == 0 and out.startswith("PASS")
    bad = tmp_path / "bad.toml"
    bad.write_text("title = 'a record type that does not exist'\n[[step]]\ninput = { type = 'Nope' }\nexpect = []\n")
    code, out, _ = tandem("scenario", "run", str(bad))
    assert code == 1 and "FAIL" in out and "Nope" in out
