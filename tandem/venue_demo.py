"""The venues and gateways part of ``make demo``: clients trading through the gateways,
the core routing to simulated exchanges.

A primary and a standby sequencer process; the default venue set
(``venues.config.DEFAULT_VENUES``: two OUCH/ITCH venues and a FIX venue, each a
``tandem venue-sim`` with background liquidity) and one ``tandem venue-adapter`` per
venue; ``tandem gateway fix`` and ``tandem gateway binary``. Client 1 sends a flow of
routed and direct orders and cancels over FIX 4.4 for ``seconds``; client 2 sends direct
orders and cancels over the binary protocol. Half-way through, the first venue's adapter
is SIGKILLed and restarted. At the end the simulators are stopped (End of Session) and
the checks compare the journal with what each venue says it did and what each client
was told:

- every report the core made for client 1 reached it as a FIX message, and every
  response it made for client 2 as a binary response, with no session reject;
- one scrape of ``tandem metrics`` (Prometheus text over HTTP) shows the sequencer
  primary, each gateway's reports count equal to what its client received, and FIX
  orders taken by the gateway's batch path;

- every execution a venue sent our session is journaled exactly once (count, shares);
- each adapter's records are numbered without a gap and their venue sequence numbers
  only go up (nothing twice);
- the business logic's book of every (venue, symbol) has the simulator's best bid and
  offer, built from the ITCH feed alone;
- an admin command without the operator credential (a global kill) is refused before the
  journal; every journaled one carries it;
- a replay of the journal reaches the digest the live sequencer reported, and so does a
  replay from a snapshot taken mid-run;
- the standby node (replicating over IPC, as in the rest of the demo) holds the same
  journal and reaches the same digest.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np

from gateways.binary import protocol as BP
from journal import JournalReader
from sequencer import records as R
from sequencer.replay import replay, restore
from sequencer.state import S_KILL_GLOBAL
from sequencer.workload import reference_prices
from tandem import config as config_mod
from tandem import metrics, topology
from journal.snapshots import SnapshotStore
from tandem.demo import _all_records, cli, last_digest_event, wait_for_standby
from tandem.drill import write_node_configs
from tandem.venue_stack import ADMIN_SOURCE, Client, FixOrderClient, VenueStack, core_bbo
from venues.config import DEFAULT_VENUES, feed_source, order_source

STRATEGIES = (R.STRATEGY_BEST_PRICE, R.STRATEGY_SWEEP, R.STRATEGY_COST, R.STRATEGY_DIRECT)


def _flow(client, rng, n_symbols: int, prices, venues, live: list):
    """One client action: mostly new orders near the mid, some cancels of live ones."""
    if live and rng.random() < 0.25:
        cl, sym, side = live.pop(int(rng.integers(len(live))))
        client.cancel(cl, sym, side)
        return
    sym = int(rng.integers(1, n_symbols + 1))
    side = R.SIDE_BUY if rng.random() < 0.5 else R.SIDE_SELL_SHORT
    strategy = STRATEGIES[int(rng.integers(len(STRATEGIES)))]
    venue = int(venues[int(rng.integers(len(venues)))]["venue_id"]) if strategy == R.STRATEGY_DIRECT else 0
    offset = int(rng.integers(-4, 5)) * (R.PRICE_SCALE // 100)
    px = int(prices[sym]) + (offset if side == R.SIDE_BUY else -offset)
    cl = client.new_order(sym, side, int(rng.integers(1, 6)) * 100, px, strategy=strategy, venue_id=venue)
    live.append((cl, sym, side))


def _fix_gateway_toml(root: Path) -> Path:
    p = root / "gateway-fix.toml"
    p.write_text(f'[gateway]\nport = 0\nstore_dir = "{root / "gateway-fix"}"\n[[gateway.sessions]]\n'
                 'begin_string = "FIX.4.4"\nsender_comp_id = "TANDEM"\ntarget_comp_id = "DEMO1"\n'
                 'account = "ACC1"\nclient_id = 1\nsource_id = 301\ncancel_on_disconnect = false\n')
    return p


def _binary_gateway_toml(root: Path) -> Path:
    p = root / "gateway-binary.toml"
    p.write_text(f'[gateway]\nport = 0\nstore_dir = "{root / "gateway-binary"}"\n[[gateway.sessions]]\n'
                 'api_key = "demo-key-0002"\nclient_id = 2\naccount = "ACC2"\nsource_id = 302\n')
    return p


def _binary_orders(port: int, prices, n_symbols: int, n: int = 20) -> socket.socket:
    """Client 2: n resting buy orders over the binary protocol, every other one cancelled."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    msgs = [BP.login("demo-key-0002")]
    for i in range(1, n + 1):
        sym = i % n_symbols + 1
        msgs.append(BP.new_order(i, R.SIDE_BUY, sym, 100, int(prices[sym]) - 10 * (R.PRICE_SCALE // 100)))
    msgs += [BP.cancel(1000 + i, i) for i in range(1, n + 1, 2)]
    sock.sendall(b"".join(msgs))
    return sock


def _binary_responses(sock: socket.socket) -> int:
    """The numbered (application) responses client 2 received."""
    sock.settimeout(0.5)
    data = b""
    try:
        while chunk := sock.recv(1 << 16):
            data += chunk
    except (socket.timeout, OSError):
        pass
    sock.close()
    r = BP.decode_responses(data[:len(data) // BP.RESPONSE_SIZE * BP.RESPONSE_SIZE])
    return int(np.isin(r["msg_type"], BP.APP_RESPONSES).sum())


def _scrape_metrics(run_dir) -> dict[str, int]:
    """One scrape of ``tandem metrics`` (its server, in a thread), as {sample: value}."""
    srv = metrics.server(run_dir, port=0)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{srv.server_address[1]}/metrics", timeout=10) as r:
            text = r.read().decode()
    finally:
        srv.shutdown()
        srv.server_close()
    return {name: int(value) for name, value in
            (line.rsplit(" ", 1) for line in text.splitlines() if line and not line.startswith("#"))}


def _gateway_metric(scraped: dict, kind: str, name: str) -> int:
    """The sum of a gateway metric over the gateway processes of one kind."""
    return sum(v for k, v in scraped.items()
               if k.startswith(f"tandem_gateway_{name}{{") and f'instance="gateway-{kind}-' in k)


def _journal(path: Path) -> np.ndarray:
    parts = list(JournalReader(path).iter_batches())
    return np.concatenate(parts) if parts else np.empty(0, R.RAW_COMMAND)


def _venue_seqs(recs: np.ndarray) -> np.ndarray:
    return np.array([int(recs[i:i + 1].view(R.COMMAND_DTYPES[int(t)])["venue_seq"][0])
                     for i, t in enumerate(R.header(recs)["type"])], np.int64)


def run(root="var/demo/venues", seconds: float = 8.0, seed: int = 7, n_symbols: int = 8,
        venues=DEFAULT_VENUES, say=lambda *a: None) -> dict:
    root = Path(root)
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    cfg_path, standby_path = write_node_configs(root, {"sequencer": {"snapshot_every": 2_000}})
    cfg, standby_cfg = config_mod.load(cfg_path), config_mod.load(standby_path)
    names = {f"SYM{i:04d}": i for i in range(1, n_symbols + 1)}
    ref = reference_prices(n_symbols)
    prices = {name: int(ref[i]) for name, i in names.items()}
    logs = open(root / "sequencer.log", "w")
    driver = topology.start_media_driver(cfg)
    aeron = topology.connect(cfg)
    standby = subprocess.Popen(cli("sequencer", "--config", str(standby_path), "--role", "standby"), stderr=logs)
    seq_proc = subprocess.Popen(cli("sequencer", "--config", str(cfg_path), "--role", "primary"), stderr=logs)
    stack = VenueStack(root, cfg_path, names, prices, venues, seed, background_per_s=300.0)
    client = Client(aeron, cfg)
    rng = np.random.default_rng(seed)
    kill_name = venues[0]["name"]
    try:
        wait_for_standby(cfg, seq_proc, standby, root / "sequencer.log")
        client.reference_data(names, prices, venues)
        # someone without the operator credential tries the global kill switch: refused
        # before the journal (the core keeps trading)
        rogue = R.admin_command(R.ADMIN_KILL, v0=1, scope=R.KILL_GLOBAL, operator="rogue")
        topology.inbound_publisher(aeron, cfg).publish(rogue)
        say(f"== venues: {', '.join(v['name'] + ' (' + v['protocol'] + ')' for v in venues)}; "
            f"{n_symbols} symbols, {seconds:.0f}s of client flow")
        stack.start()
        # the clients come in through the gateways: client 1 over FIX 4.4 (the flow below),
        # client 2 over the binary protocol (direct orders, half of them cancelled)
        fix = FixOrderClient(stack.start_gateway("fix", _fix_gateway_toml(root)), "DEMO1", "TANDEM", "ACC1",
                             {i: n for n, i in names.items()})
        binary = _binary_orders(stack.start_gateway("binary", _binary_gateway_toml(root)), ref, n_symbols)
        live: list = []
        t0 = time.monotonic()
        killed = restarted = False
        sent = 0
        while time.monotonic() - t0 < seconds:
            _flow(fix, rng, n_symbols, ref, venues, live)
            sent += 1
            fix.poll()
            age = time.monotonic() - t0
            if not killed and age > seconds * 0.4:
                stack.kill_adapter(kill_name)
                killed = True
            elif killed and not restarted and age > seconds * 0.4 + 0.5:
                stack.start_adapter(kill_name)
                restarted = True
            time.sleep(0.01)
        for _ in range(100):   # the last reports
            fix.poll()
            time.sleep(0.01)
        finals = stack.stop_sims()
        # the adapters publish what the venues sent up to End of Session
        inputs = _journal(topology.input_journal_dir(cfg))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            time.sleep(0.5)
            again = _journal(topology.input_journal_dir(cfg))
            if len(again) == len(inputs):
                break
            inputs = again
        raw = R.new_commands(1)
        a = raw.view(R.Admin)
        a["type"], a["version"], a["action"] = R.ADMIN, 1, R.ADMIN_DIGEST
        client.send(raw, ADMIN_SOURCE)
        deadline = time.monotonic() + 30
        while last_digest_event(topology.output_journal_dir(cfg)) is None and time.monotonic() < deadline:
            fix.poll()
            time.sleep(0.1)
        binary_responses = _binary_responses(binary)
        scraped = _scrape_metrics(cfg["run_dir"])
        fix.close()
    finally:
        stack.stop()
        for p in (seq_proc, standby):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in (seq_proc, standby):
            p.wait(timeout=60)
        aeron.close()
        driver.close()
        logs.close()

    in_dir, out_dir = topology.input_journal_dir(cfg), topology.output_journal_dir(cfg)
    inputs = _journal(in_dir)
    hdr = R.header(inputs)
    state = restore(in_dir, from_snapshot=False).logic.state
    full = replay(in_dir, out_dir=root / "replay-out")
    live_digest = last_digest_event(out_dir)
    mid = [q for q in SnapshotStore(in_dir).list() if q < full.final_seq]
    snap = replay(in_dir, from_snapshot=True, max_snapshot_seq=mid[len(mid) // 2]) if mid else None
    standby_in = topology.input_journal_dir(standby_cfg)
    standby_snap = SnapshotStore(standby_in).latest_valid()
    per_venue, checks = [], {}
    fills_ok = numbering_ok = books_ok = True
    for v in venues:
        vid, name = v["venue_id"], v["name"]
        final = finals.get(name, {})
        ours = final.get("sessions", {}).get("TNDM01", {"executions": -1, "executed_shares": -1})
        mine = inputs[hdr["source_id"] == order_source(vid)]
        fills = mine[R.header(mine)["type"] == R.VENUE_FILL].view(R.VenueFill)
        feed = inputs[hdr["source_id"] == feed_source(vid)].view(R.MarketData)
        fills_ok &= len(fills) == ours["executions"] and int(fills["qty"].sum()) == ours["executed_shares"]
        fills_ok &= len(np.unique(fills[["venue_exec_id", "order_id"]])) == len(fills)  # ours on both sides: 2
        for recs, seqs in ((mine, _venue_seqs(mine)), (feed, feed["venue_seq"].astype(np.int64))):
            src = R.header(recs)["source_seq"]
            numbering_ok &= src.tolist() == list(range(1, len(src) + 1)) and bool((np.diff(seqs) > 0).all())
        same = sum(core_bbo(state, vid, sid) == tuple(final.get("bbo", {}).get(sym, ())) for sym, sid in names.items())
        books_ok &= same == len(names)
        orders = int(np.isin(R.header(mine)["type"], (R.VENUE_ACK,)).sum())
        per_venue.append({"venue": name, "protocol": v["protocol"], "acks": orders, "fills": int(len(fills)),
                          "shares": int(fills["qty"].sum()), "fees": int(fills["fee"].sum()),
                          "feed_records": int(len(feed)), "books_matching": f"{same}/{len(names)}"})
    checks["venue_executions_journaled_once"] = bool(fills_ok)
    checks["adapter_records_gapless_no_duplicates"] = bool(numbering_ok)
    checks["core_books_match_venue_bbo"] = bool(books_ok)
    checks["adapter_restart_recovered"] = "recovered venue" in (root / "venues.log").read_text() and restarted
    checks["replay_digest_matches_live"] = live_digest is not None and \
        last_digest_event(root / "replay-out") == live_digest
    admins = inputs[hdr["type"] == R.ADMIN].view(R.Admin)
    operators = admins[~np.isin(admins["action"], R.SEQUENCER_ONLY_ADMIN)]   # not epochs and markers
    checks["unauthenticated_admin_refused"] = bool((admins["action"] != R.ADMIN_KILL).all()) and \
        not int(state.scalars[S_KILL_GLOBAL]) and bool((operators["version"] == 2).all())
    outputs = _journal(out_dir)
    ohdr = R.header(outputs)
    to_clients = outputs[np.isin(ohdr["type"], (R.EXEC_REPORT, R.CANCEL_REJECT))]
    cid = np.where(R.header(to_clients)["type"] == R.EXEC_REPORT, to_clients.view(R.ExecReport)["client_id"],
                   to_clients.view(R.CancelReject)["client_id"])
    checks["fix_gateway_reports_match_the_core"] = fix.reports == int((cid == 1).sum()) > 0 and fix.rejects == 0
    checks["binary_gateway_responses_match_the_core"] = \
        binary_responses == len(BP.responses_from_events(to_clients[cid == 2])) > 0
    checks["metrics_count_what_the_clients_got"] = (
        scraped.get('tandem_sequencer_role{instance="sequencer"}') == 1
        and _gateway_metric(scraped, "fix", "reports_out_total") == fix.reports
        and _gateway_metric(scraped, "binary", "reports_out_total") == binary_responses
        and _gateway_metric(scraped, "fix", "orders_batched_total") > 0)
    checks["snapshot_replay_digest_matches"] = snap is not None and snap.digest == full.digest
    checks["standby_journal_and_digest_match"] = (
        _all_records(in_dir).tobytes() == _all_records(standby_in).tobytes() and standby_snap is not None
        and standby_snap.seq == full.final_seq and f"{standby_snap.digest:016x}" == full.digest)
    return {"ok": all(checks.values()), "checks": checks, "venues": per_venue, "client_actions": sent,
            "fix_reports": fix.reports, "binary_responses": binary_responses,
            "fix_orders_batched": _gateway_metric(scraped, "fix", "orders_batched_total"),
            "fix_orders_in": _gateway_metric(scraped, "fix", "orders_in_total"),
            "inputs": int(len(inputs)), "replay_digest": full.digest,
            "killed_adapter": kill_name}
