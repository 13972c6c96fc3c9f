"""``tandem``: the one command-line entry point."""

from __future__ import annotations

import json
import sys

import click

from tandem import config as config_mod
from tandem import logs

CONFIG_OPTION = click.option(
    "--config", "config_path", type=click.Path(dir_okay=False), default=None,
    help="TOML config file (defaults are built in; see docs/config.md).")


def _load(config_path, role):
    try:
        cfg = config_mod.load(config_path)
    except config_mod.ConfigError as e:
        raise click.ClickException(str(e))
    logs.setup(role, cfg["log"]["level"])
    return cfg


def _emit(obj: dict) -> None:
    click.echo(json.dumps(obj, indent=None, sort_keys=False))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main():
    """Tandem: the trading core — sequencer, journal, business logic, tools."""


@main.command()
@click.option("--commands", default=1_000_000, show_default=True, help="Synthetic commands to send.")
@click.option("--dir", "root", default="var/demo", show_default=True, help="Where the demo keeps its files.")
@click.option("--seed", default=7, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print only the final JSON object.")
def demo(commands, root, seed, as_json):
    """Run the whole system locally on embedded defaults, then replay and compare digests."""
    from tandem import demo as demo_mod

    logs.setup("demo", "WARNING")
    result = demo_mod.run(root=root, commands=commands, seed=seed, quiet=as_json)
    _emit(result)
    sys.exit(0 if result["ok"] else 1)


@main.command()
@CONFIG_OPTION
def driver(config_path):
    """Run this host's Aeron media driver until SIGTERM/SIGINT."""
    import signal
    import threading

    from tandem import topology

    cfg = _load(config_path, "driver")
    md = topology.start_media_driver(cfg)
    click.echo(f"media driver running in {md.dir}", err=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    md.close()


EXIT_FENCED = 3


@main.command()
@CONFIG_OPTION
@click.option("--role", type=click.Choice(["primary", "standby"]), default=None,
              help="Start-up role when replication is enabled (default: replication.role).")
def sequencer(config_path, role):
    """Run a sequencer node: journal, replication, business logic, outputs (needs a media driver).

    Exits with status 3 when fenced (another node was promoted): restart it with --role standby."""
    from sequencer.agent import SequencerAgent
    from tandem.agent import AgentRunner

    cfg = _load(config_path, "sequencer")
    try:
        agent = SequencerAgent(cfg, role=role)
    except ValueError as e:
        raise click.ClickException(str(e))
    AgentRunner([agent], idle=cfg["sequencer"]["idle"]).run(until=lambda: agent.done)
    sys.exit(EXIT_FENCED if agent.fenced else 0)


@main.command()
@CONFIG_OPTION
@click.option("--commands", default=100_000, show_default=True, help="Client commands to send.")
@click.option("--seed", default=7, show_default=True)
@click.option("--clients", default=64, show_default=True)
@click.option("--symbols", default=256, show_default=True)
@click.option("--source-id", default=1, show_default=True, help="Source id of the client flow (venue flow is +1).")
def producer(config_path, commands, seed, clients, symbols, source_id):
    """Send seeded synthetic order flow and answer venue orders (stands in for gateways and venues)."""
    from tandem.producer import ProducerAgent
    from tandem.agent import AgentRunner

    cfg = _load(config_path, "producer")
    agent = ProducerAgent(cfg, commands=commands, seed=seed, clients=clients, symbols=symbols,
                          source_id=source_id)
    AgentRunner([agent], idle="backoff").run(until=lambda: agent.done)
    _emit(agent.result())


@main.command()
@click.argument("journal_path", type=click.Path(exists=True, file_okay=False))
@click.option("--from-snapshot", is_flag=True, help="Start from the latest valid snapshot.")
@click.option("--snapshot-at-or-before", "snapshot_seq", type=int, default=None,
              help="With --from-snapshot: the newest valid snapshot at or before this seq.")
@click.option("--to-seq", type=int, default=None, help="Stop after this seq.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Write the regenerated output events to a new output journal here.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def replay(journal_path, from_snapshot, snapshot_seq, to_seq, out_dir, as_json):
    """Re-run the business logic over a journal; print the final digest and counts."""
    from sequencer.replay import replay as run_replay

    logs.setup("replay", "WARNING")
    try:
        r = run_replay(journal_path, from_snapshot=from_snapshot, to_seq=to_seq, out_dir=out_dir,
                       progress=not as_json, max_snapshot_seq=snapshot_seq)
    except Exception as e:  # every failure is reported as the contract says, never a traceback
        if as_json:
            _emit({"ok": False, "journal": journal_path, "error": f"{type(e).__name__}: {e}"})
            sys.exit(1)
        raise click.ClickException(f"{type(e).__name__}: {e}")
    out = {"ok": True, **r.to_json()}
    if as_json:
        _emit(out)
    else:
        click.echo(f"replayed {r.inputs:,} inputs (from snapshot seq {r.from_snapshot_seq}) "
                   f"in {r.seconds:.2f}s: final seq {r.final_seq}, digest {r.digest}, "
                   f"{r.events:,} events")
        for k, v in r.input_counts.items():
            click.echo(f"  in  {k:<16}{v:>12,}")
        for k, v in r.event_counts.items():
            click.echo(f"  out {k:<16}{v:>12,}")


@main.group()
def journal():
    """Journal tools: verify."""


@journal.command()
@click.argument("path", type=click.Path(exists=True, file_okay=False))
@click.option("--seal-key-file", type=click.Path(exists=True, dir_okay=False), default=None,
              help="HMAC key the seals were made with.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def verify(path, seal_key_file, as_json):
    """Check every frame, seal and the seq order; name the first bad seq. Non-zero exit on any fault."""
    from journal import verify as run_verify

    logs.setup("verify", "WARNING")
    key = open(seal_key_file, "rb").read() if seal_key_file else None
    try:
        r = run_verify(path, seal_key=key, progress=not as_json)
        out = r.to_json()
    except Exception as e:
        out = {"ok": False, "first_bad_seq": None, "reason": f"format: {type(e).__name__}: {e}"}
    if as_json:
        _emit(out)
    elif out["ok"]:
        click.echo(f"{path}: ok — {out['records']:,} records, final seq {out['final_seq']}, "
                   f"{out['segments']} segments")
    else:
        click.echo(f"{path}: BAD at seq {out['first_bad_seq']}: {out['reason']}", err=True)
    sys.exit(0 if out["ok"] else 1)


@main.group()
def admin():
    """Operator requests to a running sequencer (journaled like every input)."""


def _send_admin(config_path, action, role, **fields):
    import numpy as np

    from sequencer import records
    from tandem import topology

    cfg = _load(config_path, role)
    raw = records.new_commands(1)
    a = raw.view(records.Admin)
    a["type"], a["version"], a["action"] = records.ADMIN, 1, action
    for name, value in fields.items():
        a[name] = value
    a["operator"][0] = np.frombuffer(b"tandem".ljust(8, b"\0"), np.uint8)
    # the credential: a sequencer with sequencer.operator_token_file refuses unsigned commands
    records.sign_admin(raw, config_mod.operator_key(cfg))
    aeron = topology.connect(cfg)
    try:
        topology.inbound_publisher(aeron, cfg).publish(raw, wait_s=10)
    except Exception as e:
        raise click.ClickException(f"no sequencer took the request: {e}")
    finally:
        aeron.close()


KILL_SCOPES = {"global": 1, "new-orders": 2, "symbol": 3, "client": 4, "venue": 5}
SCOPE_OPTION = click.option("--scope", type=click.Choice(list(KILL_SCOPES)), required=True,
                            help="global: all client orders, replaces and cancels; new-orders: new orders and "
                                 "replaces (cancels pass); symbol / client / venue: new orders and replaces "
                                 "there.")
TARGET_OPTION = click.option("--target", "target_id", type=int, default=0,
                             help="Symbol, client or venue id for those scopes.")


def _check_target(scope, target_id):
    if KILL_SCOPES[scope] >= 3 and target_id <= 0:
        raise click.BadParameter(f"--scope {scope} needs --target ID", param_hint="--target")


@admin.command()
@CONFIG_OPTION
@SCOPE_OPTION
@TARGET_OPTION
@click.option("--off", is_flag=True, help="Clear the switch instead of setting it.")
@click.option("--cancel-all", is_flag=True, help="Also cancel every open order in the scope.")
def kill(config_path, scope, target_id, off, cancel_all):
    """Set or clear a kill switch (journaled; checked before any other risk check)."""
    from sequencer import records

    _check_target(scope, target_id)
    _send_admin(config_path, records.ADMIN_KILL, "admin", scope=KILL_SCOPES[scope], target_id=target_id,
                v0=0 if off else 1, v1=1 if cancel_all and not off else 0)
    click.echo(f"kill switch {scope}{' ' + str(target_id) if target_id else ''} {'off' if off else 'on'}"
               f"{' with cancel-all' if cancel_all and not off else ''} requested")


@admin.command("cancel-all")
@CONFIG_OPTION
@SCOPE_OPTION
@TARGET_OPTION
def cancel_all(config_path, scope, target_id):
    """Cancel every open order in a scope (the switches stay as they are)."""
    from sequencer import records

    _check_target(scope, target_id)
    _send_admin(config_path, records.ADMIN_CANCEL_ALL, "admin", scope=KILL_SCOPES[scope], target_id=target_id)
    click.echo(f"cancel-all {scope}{' ' + str(target_id) if target_id else ''} requested")


RISK_LIMITS = {"max-open-orders": 1, "max-position": 2, "max-gross": 3, "order-rate": 4, "margin": 5}


@admin.command("set-risk")
@CONFIG_OPTION
@click.option("--client", "client_id", type=int, required=True)
@click.option("--limit", type=click.Choice(list(RISK_LIMITS)), required=True,
              help="max-open-orders (orders), max-position (shares per symbol), max-gross (dollars), "
                   "order-rate (per second), margin (initial and maintenance bps).")
@click.option("--value", type=str, required=True, help="The limit (0: not enforced); margin: initial bps.")
@click.option("--maintenance-bps", type=int, default=0, help="margin only: maintenance requirement, bps.")
def set_risk(config_path, client_id, limit, value, maintenance_bps):
    """Set a client's pre-trade risk limit."""
    from decimal import Decimal, InvalidOperation

    from sequencer import records

    try:
        v = int(Decimal(value) * records.PRICE_SCALE) if limit == "max-gross" else int(value)
    except (InvalidOperation, ValueError):
        raise click.BadParameter(f"{value!r} is not a number", param_hint="--value")
    _send_admin(config_path, records.ADMIN_SET_RISK, "admin", scope=RISK_LIMITS[limit], target_id=client_id,
                v0=v, v1=maintenance_bps)
    click.echo(f"{limit} of client {client_id} set to {value}")


@admin.command()
@CONFIG_OPTION
def snapshot(config_path):
    """Ask the sequencer for a snapshot at the end of the current batch."""
    from sequencer import records

    _send_admin(config_path, records.ADMIN_SNAPSHOT, "admin")
    click.echo("snapshot requested")


@admin.command()
@CONFIG_OPTION
def digest(config_path):
    """Ask for a StateDigest event now (in the output journal and on the outbound stream)."""
    from sequencer import records

    _send_admin(config_path, records.ADMIN_DIGEST, "admin")
    click.echo("digest requested")


@main.group()
def failover():
    """Operator commands for DR failover (see runbooks/dr-failover.md)."""


def _node_counters(cfg):
    from pathlib import Path

    from tandem.counters import SEQUENCER, Counters

    path = Path(cfg["run_dir"]) / "sequencer.counters"
    if not path.exists():
        raise click.ClickException(f"no counters at {path}: is a node running with this config?")
    return Counters(path, SEQUENCER, create=False)


def _node_status(c) -> dict:
    from sequencer.agent import ROLE_NAMES

    v = c.snapshot()
    return {"role": ROLE_NAMES.get(v["role"], "unknown"), "epoch": v["epoch"], "last_seq": v["last_seq"],
            "processed_seq": v["processed_seq"], "replication_live": bool(v["replication_live"]),
            "replication_down": bool(v["replication_down"]), "standby_node": v["standby_node"],
            "standby_acked": v["standby_acked"], "following_epoch": v["following_epoch"],
            "digests_compared": v["digests_compared"], "diverged_at": v["diverged_at"],
            "fenced_by": v["fenced_by"]}


WAIT_STATES = {
    "primary": lambda st: st["role"] == "primary",
    "live": lambda st: st["role"] == "primary" and st["replication_live"],
    "standby": lambda st: st["role"] == "standby" and st["following_epoch"] > 0,
    "fenced": lambda st: st["role"] == "fenced",
    "stopped": lambda st: st["role"] in ("stopped", "fenced"),
}


@failover.command()
@CONFIG_OPTION
@click.option("--token-file", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Operator token (default: replication.operator_token_file of the config).")
@click.option("--wait", "wait_s", default=10.0, show_default=True, help="Seconds to wait for the promotion.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def promote(config_path, token_file, wait_s, as_json):
    """Promote the standby node of this config to primary (journals a new epoch; the old
    primary is fenced). Run it on the standby's host with the standby's config."""
    import time
    from pathlib import Path

    from replicas import protocol as P
    from tandem import topology

    cfg = _load(config_path, "failover")
    token_path = token_file or cfg["replication"]["operator_token_file"]
    if not token_path:
        raise click.ClickException("no operator token: pass --token-file or set replication.operator_token_file")
    token = Path(token_path).read_bytes().strip()
    counters = _node_counters(cfg)
    before = _node_status(counters)
    if before["role"] != "standby":
        raise click.ClickException(f"node {cfg['node']['id']} is {before['role']}, not a standby")
    t0 = time.monotonic()
    aeron = topology.connect(cfg)
    try:
        pub = topology.control_publisher(aeron, cfg)
        msg = P.encode(P.PROMOTE, 0, 0, target=cfg["node"]["id"], payload=token)
        if not pub.send(msg, wait_s):
            raise click.ClickException("the node is not listening on its control stream")
        while _node_status(counters)["role"] != "primary":
            if time.monotonic() - t0 > wait_s:
                raise click.ClickException(f"node {cfg['node']['id']} was not promoted within {wait_s}s "
                                           "(wrong token? see its log)")
            time.sleep(0.01)
    finally:
        aeron.close()
    after = _node_status(counters)
    out = {"ok": True, "node": cfg["node"]["id"], "epoch": after["epoch"], "last_seq": after["last_seq"],
           "ms": round(1000 * (time.monotonic() - t0), 1)}
    if as_json:
        _emit(out)
    else:
        click.echo(f"node {out['node']} is primary of epoch {out['epoch']} at seq {out['last_seq']} "
                   f"({out['ms']} ms)")


@failover.command()
@CONFIG_OPTION
@click.option("--wait-until", type=click.Choice(sorted(WAIT_STATES)), default=None,
              help="Wait until the node is primary, primary with a live standby, a joined standby, fenced, "
                   "or stopped (its journals closed).")
@click.option("--timeout", "timeout_s", default=30.0, show_default=True, help="Seconds --wait-until waits.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def status(config_path, wait_until, timeout_s, as_json):
    """Role, epoch and replication state of the node of this config (from its counters)."""
    import time

    cfg = _load(config_path, "failover")
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            st = {"node": cfg["node"]["id"], **_node_status(_node_counters(cfg))}
        except click.ClickException:
            if wait_until is None:
                raise
            st = None  # not started yet
        if wait_until is None or (st is not None and WAIT_STATES[wait_until](st)):
            break
        if time.monotonic() > deadline:
            raise click.ClickException(f"node {cfg['node']['id']} did not become {wait_until} "
                                       f"within {timeout_s}s: {st}")
        time.sleep(0.05)
    if as_json:
        _emit(st)
    else:
        for k, v in st.items():
            click.echo(f"{k:<18}{v}")


@main.command()
@click.option("--dir", "root", default="var/drill", show_default=True, help="Where the drill keeps its files.")
@click.option("--commands", default=20_000, show_default=True, help="Client commands over the drill.")
@click.option("--kill-at", default=None, type=int,
              help="Inputs journaled by the primary when it is SIGKILLed (default: a third of the flow).")
@click.option("--seed", default=7, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def drill(root, commands, kill_at, seed, as_json):
    """Run a DR drill locally: unplanned failover (SIGKILL), rejoin, planned failover; print RTO and checks."""
    from tandem import drill as drill_mod

    logs.setup("drill", "WARNING")
    result = drill_mod.run(root=root, commands=commands, kill_at=kill_at, seed=seed, quiet=as_json)
    if as_json:
        _emit(result)
    else:
        click.echo(drill_mod.summary(result))
    sys.exit(0 if result["ok"] else 1)


@main.command()
@CONFIG_OPTION
@click.option("--json", "as_json", is_flag=True)
def stat(config_path, as_json):
    """Print the sequencer's live counters (read from shared memory)."""
    from pathlib import Path

    from tandem.counters import SEQUENCER, Counters

    cfg = _load(config_path, "stat")
    path = Path(cfg["run_dir"]) / "sequencer.counters"
    if not path.exists():
        raise click.ClickException(f"no counters at {path}: is a sequencer running with this config?")
    values = Counters(path, SEQUENCER, create=False).snapshot()
    if as_json:
        _emit(values)
    else:
        for k, v in values.items():
            click.echo(f"{k:<22}{v:>16,}")



@main.command()
@CONFIG_OPTION
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=9464, show_default=True, help="Port to listen on (0: any free port).")
def metrics(config_path, host, port):
    """Serve the counters of this host's processes (run_dir) as Prometheus metrics on /metrics."""
    import signal
    import threading

    from tandem import metrics as metrics_mod

    cfg = _load(config_path, "metrics")
    try:
        srv = metrics_mod.server(cfg["run_dir"], host, port)
    except OSError as e:
        raise click.ClickException(f"cannot listen on {host}:{port}: {e}")
    _emit({"metrics": f"http://{host}:{srv.server_address[1]}/metrics", "run_dir": cfg["run_dir"]})
    sys.stdout.flush()
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=srv.shutdown).start())
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    srv.server_close()


@main.command()
@click.argument("journal_path", type=click.Path(exists=True, file_okay=False))
@click.option("--from-snapshot/--from-start", default=True, show_default=True,
              help="Start from the latest valid snapshot, or replay the whole day.")
@click.option("--top", default=20, show_default=True, help="Clients listed, by gross market value.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def positions(journal_path, from_snapshot, top, as_json):
    """Positions and P&L per client, firm exposure and the trading picture, from a journal."""
    from sequencer.replay import restore
    from tandem import trading_report

    try:
        r = restore(journal_path, from_snapshot=from_snapshot, progress=not as_json)
    except ValueError as e:
        raise click.ClickException(str(e))
    state = r.logic.state
    clients = trading_report.client_rows(state)
    summary = trading_report.summary(state)
    if as_json:
        _emit({"seq": r.seq, "digest": f"{state.digest():016x}", "clients": clients, **summary})
        return
    click.echo(f"state at seq {r.seq}, digest {state.digest():016x}")
    click.echo(trading_report.format_clients(clients, top))
    firm = summary["firm"]
    click.echo(f"firm: {firm['positions']} positions, gross ${firm['gross']:,.2f}, net ${firm['net']:,.2f}")


@main.command("venue-sim")
@click.option("--config", "config_path", required=True, type=click.Path(exists=True, dir_okay=False),
              help="TOML with a [venue] table (see venues/sim/process.py).")
def venue_sim(config_path):
    """Run one simulated venue: OUCH 4.2 over SoupBinTCP or FIX 4.2, ITCH 5.0 feed, background liquidity."""
    from venues.sim.process import main as venue_main

    code = venue_main(config_path)
    if code:
        raise SystemExit(code)


@main.command("venue-adapter")
@CONFIG_OPTION
@click.option("--venue", "venue_path", required=True, type=click.Path(exists=True, dir_okay=False),
              help="Venue TOML with [venue] and [adapter] tables (see venues/config.py).")
def venue_adapter(config_path, venue_path):
    """Run the core's side of one venue: its order-entry session (OUCH or FIX) and its ITCH feed.

    Needs a media driver; resumes from the journal after a restart (docs/venues.md)."""
    from venues.adapter_process import run
    from venues.config import load_adapter

    cfg = _load(config_path, "venue-adapter")
    try:
        v = load_adapter(venue_path)
    except (OSError, ValueError) as e:
        raise click.ClickException(str(e))
    run(cfg, v, announce=lambda line: click.echo(line))


@main.group()
def gateway():
    """Client gateways: FIX 4.2/4.4 (docs/fix.md) and the binary protocol (docs/binary.md)."""



CORE_CONFIG_OPTION = click.option(
    "--core-config", "core_config_path", type=click.Path(dir_okay=False), default=None,
    help="The core's TOML config (Aeron, journal; defaults built in), for the order gateway.")


@gateway.command("fix")
@click.option("--config", "config_path", required=True, type=click.Path(exists=True, dir_okay=False),
              help="Gateway TOML with a [gateway] table and [[gateway.sessions]] (docs/fix.md).")
@click.option("--echo-app", is_flag=True,
              help="Conformance mode: echo each NewOrderSingle, BusinessMessageReject anything else; "
                   "no sequencer needed.")
@CORE_CONFIG_OPTION
def gateway_fix(config_path, echo_app, core_config_path):
    """Run the FIX acceptor for the configured sessions until SIGTERM (every session is logged out).

    Without --echo-app, orders go to the sequencer and reports come back (needs a media
    driver). Prints one JSON line {"gateway": "fix", "port": ..., "sessions": [...]} when
    listening."""
    if echo_app:
        from gateways.fix.echo import main as echo_main

        logs.setup("gateway-fix", "INFO")
        code = echo_main(config_path)
    else:
        from gateways.fix.gateway import main as gateway_main

        cfg = _load(core_config_path, "gateway-fix")
        code = gateway_main(config_path, cfg)
    if code:
        raise SystemExit(code)


@gateway.command("binary")
@click.option("--config", "config_path", required=True, type=click.Path(exists=True, dir_okay=False),
              help="Gateway TOML with a [gateway] table and [[gateway.sessions]] (gateways/binary/server.py).")
@CORE_CONFIG_OPTION
def gateway_binary(config_path, core_config_path):
    """Run the binary order-entry gateway (32-byte orders, numbered responses) until SIGTERM.

    Needs a media driver. Prints one JSON line {"gateway": "binary", "port": ..., "sessions": [...]}."""
    from gateways.binary.server import main as binary_main

    cfg = _load(core_config_path, "gateway-binary")
    try:
        code = binary_main(cfg, config_path, announce=lambda line: click.echo(line))
    except (OSError, ValueError) as e:
        raise click.ClickException(str(e))
    if code:
        raise SystemExit(code)


@main.group()
def scenario():
    """Scenario files: input stories with the outputs they must produce."""


@scenario.command("run")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
def scenario_run(paths):
    """Run scenario files (or directories of them); exit 1 if any fails."""
    from sequencer.scenario import main as scenario_main

    code = scenario_main(list(paths))
    if code:
        raise SystemExit(code)


if __name__ == "__main__":
    main()
