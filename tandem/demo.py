"""``tandem demo``: the whole system as it stands, on one host, embedded defaults.

Starts the media driver (here), a primary and a standby sequencer node and a synthetic
producer as separate processes over Aeron IPC; sends the trading flow (three venues'
L3 feeds, client orders through risk, a third routed by the SOR, TWAP/VWAP parents on
the sequencer's timer ticks, an operator kill switch with cancel-all at the end; every
batch replicated and acknowledged before it is processed); stops the nodes; verifies the journals;
replays from seq 1 and from a mid-stream snapshot; checks that both reach the live
digest, that the replay regenerates the output journal byte for byte and that the
standby holds the same journals and digest; prints the trading picture (books, routing,
rejects, positions and P&L). Then runs the DR drill (``tandem drill``).
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from journal import JournalReader, SnapshotStore, verify
from sequencer import records
from sequencer.replay import replay, restore
from tandem import config as config_mod
from tandem import topology, trading_report
from tandem.counters import SEQUENCER, Counters


def _toml(cfg_overrides: dict) -> str:
    lines = []
    scalars = {k: v for k, v in cfg_overrides.items() if not isinstance(v, dict)}
    for k, v in scalars.items():
        lines.append(f"{k} = {json.dumps(v)}")
    for section, values in cfg_overrides.items():
        if isinstance(values, dict):
            lines.append(f"\n[{section}]")
            lines.extend(f"{k} = {json.dumps(v)}" for k, v in values.items())
    return "\n".join(lines) + "\n"


def write_config(root: Path, extra: dict | None = None) -> Path:
    """A TOML config placing every file of a run below ``root``."""
    overrides = config_mod.under(root.resolve())
    for section, values in (extra or {}).items():
        overrides.setdefault(section, {}).update(values)
    path = root / "tandem.toml"
    path.write_text(_toml(overrides))
    return path


def cli(*args) -> list[str]:
    return [sys.executable, "-m", "tandem.cli", *args]


def last_digest_event(out_dir: Path):
    """(seq, digest) of the last on-demand StateDigest in an output journal."""
    found = None
    for batch in JournalReader(out_dir).iter_batches():
        hdr = records.header(batch)
        d = batch.view(records.StateDigest)[hdr["type"] == records.STATE_DIGEST]
        d = d[d["reason"] == records.DIGEST_ON_DEMAND]
        if len(d):
            found = (int(d["seq"][-1]), int(d["digest"][-1]))
    return found


def _all_records(path: Path) -> np.ndarray:
    batches = list(JournalReader(path).iter_batches(batch_records=65536))
    return np.concatenate(batches) if batches else np.zeros(0, np.uint8)


def same_outputs(a: Path, b: Path) -> bool:
    """Byte-for-byte equality of two output journals' records."""
    return _all_records(a).tobytes() == _all_records(b).tobytes()


def journaled_per_source(in_dir: Path) -> dict[int, int]:
    """How many distinct (source, source seq) each source has in the journal (-1: a repeat).
    Unnumbered records (source seq 0) are left out: the sequencer's own (source 0: epochs,
    replication markers, timer ticks) and market-data feeds, which are not de-duplicated."""
    hdr = records.header(_all_records(in_dir).view(records.RAW_COMMAND))
    out = {}
    numbered = hdr["source_seq"] != 0
    for source in np.unique(hdr["source_id"][numbered]).tolist():
        if source == 0:
            continue
        seqs = hdr["source_seq"][numbered & (hdr["source_id"] == source)]
        out[source] = len(np.unique(seqs)) if len(np.unique(seqs)) == len(seqs) else -1
    return out


def reject_reasons(out_dir: Path) -> list[tuple[str, int]]:
    """Order rejects in an output journal by reason text, most frequent first."""
    counts = np.zeros(1 << 16, np.int64)
    for batch in JournalReader(out_dir).iter_batches(batch_records=65536):
        hdr = records.header(batch)
        er = batch.view(records.ExecReport)[hdr["type"] == records.EXEC_REPORT]
        counts += np.bincount(er["reason"][er["exec_type"] == records.EXEC_REJECTED], minlength=1 << 16)
    order = np.argsort(-counts, kind="stable")
    return [(records.REASON_TEXT.get(int(r), str(int(r))), int(counts[r])) for r in order if counts[r]]


def wait_for_standby(cfg, primary: subprocess.Popen, standby: subprocess.Popen, log_path: Path,
                     timeout_s: float = 60.0) -> None:
    """Until the primary reports replication live (the standby joined and caught up)."""
    counters_path = Path(cfg["run_dir"]) / "sequencer.counters"
    deadline = time.monotonic() + timeout_s
    while not (counters_path.exists() and Counters(counters_path, SEQUENCER, create=False).get("replication_live")):
        if time.monotonic() > deadline or primary.poll() is not None or standby.poll() is not None:
            raise RuntimeError(f"the standby did not join the primary; see {log_path}")
        time.sleep(0.05)


def run(root="var/demo", commands=1_000_000, seed=7, quiet=False, drill_commands=20_000,
        venue_seconds=8.0) -> dict:
    from tandem import drill

    root = Path(root)
    # About four snapshots over the run (the flow has ~4 inputs per client command).
    snapshot_every = max(10_000, commands)
    say = (lambda *a: None) if quiet else (lambda *a: print(*a, file=sys.stderr, flush=True))
    if root.exists():
        shutil.rmtree(root)  # each demo starts a fresh day
    root.mkdir(parents=True)
    # Two nodes on this host: node 1 primary, node 2 its standby (replication over IPC).
    paths = drill.write_node_configs(root, {"sequencer": {"snapshot_every": snapshot_every}})
    cfg, standby_cfg = config_mod.load(paths[0]), config_mod.load(paths[1])
    in_dir, out_dir = topology.input_journal_dir(cfg), topology.output_journal_dir(cfg)
    logs = open(root / "processes.log", "w")

    say(f"== tandem demo: {commands:,} synthetic commands, primary journal {in_dir}, standby node 2")
    driver = topology.start_media_driver(cfg)
    standby = subprocess.Popen(cli("sequencer", "--config", str(paths[1]), "--role", "standby"), stderr=logs)
    seq_proc = subprocess.Popen(cli("sequencer", "--config", str(paths[0]), "--role", "primary"), stderr=logs)
    try:
        counters_path = Path(cfg["run_dir"]) / "sequencer.counters"
        standby_counters = Path(standby_cfg["run_dir"]) / "sequencer.counters"
        wait_for_standby(cfg, seq_proc, standby, root / "processes.log")
        t_start = time.perf_counter()
        prod = subprocess.Popen(cli("producer", "--config", str(paths[0]), "--commands", str(commands),
                                    "--seed", str(seed)), stdout=subprocess.PIPE, stderr=logs, text=True)
        bar = None
        if not quiet:
            from tqdm import tqdm
            bar = tqdm(desc="sequenced+replicated", unit="rec", unit_scale=True, file=sys.stderr)
        while prod.poll() is None:
            time.sleep(0.2)
            if bar is not None:
                bar.n = Counters(counters_path, SEQUENCER, create=False).get("inputs_journaled")
                bar.refresh()
            if seq_proc.poll() is not None or standby.poll() is not None:
                prod.kill()
                raise RuntimeError(f"a sequencer node exited; see {root / 'processes.log'}")
        if bar is not None:
            bar.close()
        live_seconds = time.perf_counter() - t_start
        produced = json.loads(prod.stdout.read().strip().splitlines()[-1])
        if prod.returncode:
            raise RuntimeError(f"producer exited with {prod.returncode}; see {root / 'processes.log'}")
        # The standby processes what it acked right after acking it.
        final_seq = Counters(counters_path, SEQUENCER, create=False).get("last_seq")
        while Counters(standby_counters, SEQUENCER, create=False).get("processed_seq") < final_seq:
            if time.monotonic() - t_start > 600:
                raise RuntimeError("the standby did not process everything")
            time.sleep(0.05)
    finally:
        for p in (seq_proc, standby):
            p.send_signal(signal.SIGTERM)
        for p in (seq_proc, standby):
            p.wait(timeout=120)
        driver.close()
        logs.close()
    counters = Counters(counters_path, SEQUENCER, create=False).snapshot()

    say("== verifying the journals")
    v = verify(in_dir)
    vo = verify(out_dir)
    standby_in, standby_out = topology.input_journal_dir(standby_cfg), topology.output_journal_dir(standby_cfg)
    say("== replaying from seq 1")
    full = replay(in_dir, out_dir=root / "replay-out", progress=not quiet)
    # The final snapshot is taken at the last seq; start from one taken mid-stream so
    # that snapshot + tail replay is a real check.
    mid = [s for s in SnapshotStore(in_dir).list() if s < full.final_seq]
    say(f"== replaying from the snapshot at seq {mid[-1] if mid else 0} + tail")
    snap = replay(in_dir, from_snapshot=True, max_snapshot_seq=mid[-1] if mid else 0)
    live = last_digest_event(out_dir)
    live_seq, live_digest = live if live else (None, None)
    live_hex = None if live_digest is None else f"{live_digest:016x}"
    outputs_identical = same_outputs(out_dir, root / "replay-out")
    standby_snap = SnapshotStore(standby_in).latest_valid()

    rejects = reject_reasons(root / "replay-out")
    inputs = counters["inputs_journaled"]
    per_source = journaled_per_source(in_dir)
    busy_s = counters["busy_ns"] / 1e9
    checks = {
        "journal_verified": v.ok,
        "output_journal_verified": vo.ok,
        # Timer ticks may follow the final digest request, so the live digest is compared
        # at its own seq (the replay writes it again) and the replays at the journal's end.
        "replay_digest_matches_live": live is not None and last_digest_event(root / "replay-out") == live,
        "snapshot_replay_digest_matches_replay": bool(mid) and snap.digest == full.digest
        and snap.final_seq == full.final_seq,
        "replay_outputs_identical": outputs_identical,
        "no_gap_no_duplicate": v.ok and v.final_seq == inputs and -1 not in per_source.values(),
        "every_command_journaled": (per_source.get(1) == produced["client_commands"]
                                    and per_source.get(2, 0) == produced["venue_commands"]),
        "standby_journals_identical": (_all_records(in_dir).tobytes() == _all_records(standby_in).tobytes()
                                       and same_outputs(out_dir, standby_out)),
        "standby_digest_matches_replay": standby_snap is not None and standby_snap.seq == full.final_seq
        and f"{standby_snap.digest:016x}" == full.digest,
    }
    final_state = restore(in_dir, from_snapshot=True).logic.state
    trading = trading_report.summary(final_state)
    clients_table = trading_report.format_clients(trading_report.client_rows(final_state), top=5)
    say("== DR drill: SIGKILL the primary under flow, fail over, rejoin, fail back")
    dr = drill.run(root=root / "drill", commands=drill_commands, seed=seed, quiet=True)
    checks["dr_drill"] = dr["ok"]
    from tandem import venue_demo
    say("== venues and gateways: clients over FIX and binary, simulated exchanges (OUCH/ITCH, FIX) and their "
        "adapters, one adapter SIGKILLed")
    ven = venue_demo.run(root / "venues", seconds=venue_seconds, seed=seed)
    checks.update({f"venues: {k.replace('_', ' ')}": ok for k, ok in ven["checks"].items()})
    rows = [
        ("client commands sent", f"{produced['client_commands']:,}"),
        ("venue responses sent", f"{produced['venue_commands']:,}"),
        ("inputs sequenced", f"{inputs:,}"),
        ("output events", f"{full.events:,}"),
        ("live end-to-end, replicated", f"{inputs / live_seconds:,.0f} inputs/s over {live_seconds:.1f}s"),
        ("sequencer busy (journal+replicate+logic+publish)", f"{inputs / busy_s:,.0f} inputs/s" if busy_s else "-"),
        ("replay from seq 1", f"{full.inputs / full.seconds:,.0f} inputs/s"),
        ("replay from snapshot seq", f"{snap.from_snapshot_seq:,} (+{snap.inputs:,} tail)"),
        ("live digest @ seq", f"{live_hex} @ {live_seq}"),
        ("replay digest @ seq", f"{full.digest} @ {full.final_seq}"),
        ("snapshot+tail digest", snap.digest),
        ("standby digest @ seq", "-" if standby_snap is None else f"{standby_snap.digest:016x} @ {standby_snap.seq}"),
        ("L3 books (venue x symbol) / feed messages refused",
         f"{trading['books']:,} / {trading['market_data_refused']:,}"),
        ("client orders / routed parents / algo parents", f"{trading['client_orders']:,} / "
         f"{trading['routed_parents']:,} / {trading['algo_parents']:,}"),
        ("child orders sent by the router", f"{trading['child_orders']:,} over "
         + ", ".join(f"{v['name']} {v['children']:,} (fill ratio {v['fill_ratio']})" for v in trading["venues"])),
        ("order rejects (top reasons)", ", ".join(f"{k} {v:,}" for k, v in rejects[:4])),
        ("kill switch at the end", f"symbols {trading['kill_switch']['symbols']} (operator, with cancel-all)"),
        ("firm exposure at the marks", f"{trading['firm']['positions']:,} positions, gross "
         f"${trading['firm']['gross']:,.0f}, net ${trading['firm']['net']:,.0f}"),
        ("DR drill RTO", f"{dr['rto_ms']} ms ({dr['rto_basis']}; goal {dr['rto_goal_ms']} ms)"),
        ("DR drill acked orders / lost", f"{dr['acked_orders']:,} / {dr['lost_acked_orders']}"),
    ] + [(f"venue {v['venue']} ({v['protocol']})", f"{v['acks']:,} orders acked, {v['fills']:,} fills "
          f"({v['shares']:,} shares, fees ${v['fees'] / records.PRICE_SCALE:,.2f}), {v['feed_records']:,} "
          f"feed records, books matching {v['books_matching']}") for v in ven["venues"]] + [
        ("client gateways", f"FIX 4.4: {ven['fix_orders_in']:,} orders from client 1 ({ven['fix_orders_batched']:,} "
                            f"on the batch path), {ven['fix_reports']:,} reports to it; binary: "
                            f"{ven['binary_responses']:,} responses to client 2")] + [(k.replace("_", " "), "PASS" if ok else "FAIL") for k, ok in checks.items()]
    width = max(len(k) for k, _ in rows)
    say("")
    for k, val in rows:
        say(f"  {k:<{width}}  {val}")
    say("\n  largest positions by client (dollars, marked to the book mids):")
    say("  " + clients_table.replace("\n", "\n  "))
    say("")
    return {
        "ok": all(checks.values()),
        "journal": str(in_dir.resolve()),
        "output_journal": str(out_dir.resolve()),
        "standby_journal": str(standby_in.resolve()),
        "final_seq": live_seq,
        "digest": live_hex,
        "input_counts": full.input_counts,
        "event_counts": full.event_counts,
        "checks": checks,
        "trading": trading,
        "inputs_per_s_live": round(inputs / live_seconds),
        "replay_inputs_per_s": round(full.inputs / full.seconds),
        "drill": {k: dr[k] for k in ("rto_ms", "rto_basis", "acked_orders", "lost_acked_orders", "digests",
                                     "epochs", "checks")},
        "venues": ven,
    }
