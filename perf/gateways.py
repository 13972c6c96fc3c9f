"""Client gateway benchmarks: one gateway process between a load client and the core.

Each run starts an Aeron media driver (in this process), a ``tandem sequencer`` process
with reference data (one venue, symbol AAA at 100.00, the benchmark's clients), one
gateway process (``tandem gateway fix`` or ``tandem gateway binary``) and the load client
of ``perf/gateway_client.py`` in a process of its own. The client pipelines new orders
(at most ``WINDOW`` without an answer) and times each one from its send to the first
answer it reads:

- FIX: NewOrderSingle → the core's first ExecutionReport (PENDING_NEW, 150=A: a direct
  order whose venue has no adapter running stays there, so every order has exactly one
  report);
- binary: 32-byte NewOrder → the first response. PENDING_NEW gives no binary response
  (docs/binary.md), so the benchmark client has no cash and the core's risk check
  refuses every order for buying power: the Reject is the one response, after the same
  gateway → sequencer → journal → business logic → gateway round trip;
- QuickFIX reference: a QuickFIX acceptor (C++ engine, Python application, FileStore)
  answering each NewOrderSingle with one ExecutionReport, no core behind it, driven by
  the same client.

Figures: sustained answers/s (first send to last answer of the run), latency p50 / p99 /
p99.9 under that load (with W orders queued, by Little's law mostly W / rate) and with one
order at a time. The sustained run is ``min(n, 200_000)`` orders or ``RUN_S`` seconds,
whichever ends first, after a warm-up; ``docs/performance.md`` has the numbers and where
the time goes.

``python -m perf.gateways [fix|fix-tmpfs|binary|binary-deep|quickfix ...] [--profile DIR]`` runs only
these (``--profile`` runs the gateway under cProfile and writes DIR/<name>.prof).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from perf.core import figure

ROOT = Path(__file__).resolve().parent.parent
WINDOW = 2000
DEEP_WINDOW = 8000
RUN_S = 20.0            # time budget of the sustained run
WARMUP_S = 3.0
PINGPONG_S = 5.0
SOURCE_FIX, SOURCE_BINARY = 301, 201
CLIENT_FIX, CLIENT_BINARY = 5, 6        # beside the reference data's usual clients
API_KEY = "bench-key-0001"

_results: dict[str, dict] = {}          # the FIX gateway's run, for the QuickFIX ratio


# ------------------------------------------------------------------ processes
def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class _Lines:
    """JSON lines from a child's stdout (an unbuffered pipe: select then read, so a line
    that came in the same read as the previous one is not left in a buffer)."""

    def __init__(self, proc: subprocess.Popen, what: str):
        self.proc, self.what, self.buf = proc, what, b""

    def next(self, timeout_s: float) -> dict:
        deadline = time.monotonic() + timeout_s
        fd = self.proc.stdout.fileno()
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"{self.what}: nothing printed in {timeout_s:.0f}s")
            ready, _, _ = select.select([fd], [], [], min(left, 1.0))
            if ready:
                data = os.read(fd, 65536)
                if not data:
                    raise RuntimeError(f"{self.what} exited with status {self.proc.wait()} (see its log)")
                self.buf += data
            elif self.proc.poll() is not None:
                raise RuntimeError(f"{self.what} exited with status {self.proc.returncode} (see its log)")
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)


def _json_line(proc: subprocess.Popen, what: str, timeout_s: float) -> dict:
    return _Lines(proc, what).next(timeout_s)


def _stop(proc: subprocess.Popen | None, timeout_s: float = 30.0) -> None:
    """SIGTERM, then SIGKILL if it has not ended within ``timeout_s``."""
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _popen(args, log, **kw) -> subprocess.Popen:
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=log, bufsize=0, cwd=ROOT, **kw)


class _Core:
    """A media driver here and a sequencer process with the benchmark's reference data."""

    def __init__(self, root: Path, orders: int, stack: contextlib.ExitStack, extra: dict | None = None):
        from sequencer import records as R
        from tandem import config, topology
        from tandem.demo import cli, write_config

        capacity = 1 << max(20, (2 * orders).bit_length())    # rejected / pending orders all stay
        overrides = {"sequencer": {"timer_ms": 0}, "capacity": {"orders": capacity}}
        for section, values in (extra or {}).items():
            overrides.setdefault(section, {}).update(values)
        self.cfg_path = write_config(root, overrides)
        self.cfg = config.load(self.cfg_path)
        self.log = stack.enter_context(open(root / "processes.log", "w"))
        self.driver = topology.start_media_driver(self.cfg)
        stack.callback(self.driver.close)
        self.aeron = topology.connect(self.cfg)
        stack.callback(self.aeron.close)
        self.sequencer = subprocess.Popen(cli("sequencer", "--config", str(self.cfg_path)), stdout=self.log,
                                          stderr=self.log, cwd=ROOT)
        stack.callback(_stop, self.sequencer, 60.0)   # a clean stop writes a snapshot
        pub = topology.inbound_publisher(self.aeron, self.cfg)
        deadline = time.monotonic() + 180    # a cold Numba cache compiles the kernels first
        while not pub.is_connected:
            if self.sequencer.poll() is not None:
                raise RuntimeError(f"the sequencer exited with status {self.sequencer.returncode}")
            if time.monotonic() > deadline:
                raise TimeoutError("the sequencer did not subscribe to the inbound stream")
            time.sleep(0.05)
        # reference data: a venue (a direct order needs one; no adapter runs, so orders stay
        # PENDING_NEW), AAA at 100.00, the FIX client (limits and cash for millions of
        # 1-share orders) and the binary client (no cash: every buy is refused for buying
        # power by the risk checks)
        rows = []
        a = R.admin_command(R.ADMIN_ADD_VENUE, 1, 0, 0)
        a.view(R.Admin)["name"][0] = R.ascii_field("XNAS", R.ACCOUNT_LEN)
        rows.append(a)
        a = R.admin_command(R.ADMIN_ADD_SYMBOL, 1, 100 * R.PRICE_SCALE, 1)
        a.view(R.Admin)["name"][0, :R.SYMBOL_LEN] = R.ascii_field("AAA", R.SYMBOL_LEN)
        rows.append(a)
        for cid, account, cash in ((CLIENT_FIX, "BENCH", 10**18), (CLIENT_BINARY, "BENCHB", 0)):
            a = R.admin_command(R.ADMIN_ADD_CLIENT, cid, 10**9, 10**18, cash)
            a.view(R.Admin)["name"][0] = R.ascii_field(account, R.ACCOUNT_LEN)
            rows.append(a)
        raw = np.concatenate(rows)
        h = R.header(raw)
        h["source_id"], h["source_seq"] = 3, np.arange(1, len(raw) + 1)
        pub.publish(R.sign_admin(raw, config.operator_key(self.cfg)))
        pub.close()

    def pids(self) -> dict[str, int]:
        return {"sequencer": self.sequencer.pid, "harness (media driver)": os.getpid()}


def _gateway_toml(root: Path, kind: str, store_dir: Path) -> Path:
    p = root / f"{kind}-gateway.toml"
    if kind == "fix":
        p.write_text(f"""[gateway]
host = "127.0.0.1"
port = 0
store_dir = "{store_dir}"
max_sending_time_skew_s = 0
[[gateway.sessions]]
begin_string = "FIX.4.4"
sender_comp_id = "TANDEM"
target_comp_id = "CLIENT1"
account = "BENCH"
client_id = {CLIENT_FIX}
source_id = {SOURCE_FIX}
cancel_on_disconnect = false
""")
    else:
        p.write_text(f"""[gateway]
host = "127.0.0.1"
port = 0
store_dir = "{store_dir}"
[[gateway.sessions]]
name = "bench"
api_key = "{API_KEY}"
client_id = {CLIENT_BINARY}
account = "BENCHB"
source_id = {SOURCE_BINARY}
cancel_on_disconnect = false
""")
    return p


def _drive(client_args: list[str], port: int, orders: int, log, pids: dict[str, int], window: int = WINDOW) -> dict:
    """Run the load client against ``port``; its result, with the CPU share of each
    process in ``pids`` over the sustained run."""
    warmup = min(20_000, max(1000, orders // 10))
    cmd = [sys.executable, "-m", "perf.gateway_client", *client_args, "--port", str(port),
           "--orders", str(orders), "--warmup", str(warmup), "--pingpong", str(min(5000, orders)),
           "--window", str(window), "--seconds", str(RUN_S), "--warmup-s", str(WARMUP_S),
           "--pingpong-s", str(PINGPONG_S)]
    client = _popen(cmd, log)
    lines = _Lines(client, "the load client")
    try:
        limit = 120 + 3 * RUN_S
        ev = lines.next(limit)
        assert ev.get("event") == "measure_start", ev
        cpu0, t0 = {k: _cpu_s(p) for k, p in pids.items()}, time.monotonic()
        cpu0["client"] = _cpu_s(client.pid)
        ev = lines.next(limit)
        assert ev.get("event") == "measure_end", ev
        wall = time.monotonic() - t0
        share = {k: (_cpu_s(p) - cpu0[k]) / wall for k, p in pids.items()}
        share["client"] = (_cpu_s(client.pid) - cpu0["client"]) / wall
        result = lines.next(limit)
        client.wait(timeout=30)
    finally:
        _stop(client, 5.0)
    result["cpu_share"] = share
    return result


def _gateway_cmd(kind: str, gw_toml: Path, core: _Core, profile: Path | None) -> list[str]:
    args = ["gateway", kind, "--config", str(gw_toml), "--core-config", str(core.cfg_path)]
    if profile is None:
        return [sys.executable, "-m", "tandem.cli", *args]
    profile.parent.mkdir(parents=True, exist_ok=True)
    return [sys.executable, "-m", "cProfile", "-o", str(profile), "-m", "tandem.cli", *args]


def run_gateway(kind: str, orders: int, store_on_tmpfs: bool = False, profile: Path | None = None,
                core_extra: dict | None = None, window: int = WINDOW) -> dict:
    """One gateway benchmark run (``kind`` "fix" or "binary"); the client's result.
    ``core_extra``: core config overrides by section (diagnostics, e.g. the sequencer's
    idle strategy)."""
    with contextlib.ExitStack() as stack:
        root = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix=f"bench-{kind}-")))
        store = root / "gateway-store"
        if store_on_tmpfs:
            store = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-store-", dir="/dev/shm")))
        core = _Core(root, orders, stack, core_extra)
        gw = _popen(_gateway_cmd(kind, _gateway_toml(root, kind, store), core, profile), core.log)
        stack.callback(_stop, gw, 30.0)
        port = _json_line(gw, f"the {kind} gateway", 120)["port"]
        if kind == "fix":
            client_args = ["fix", "--account", "BENCH"]
        else:
            client_args = ["binary", "--api-key", API_KEY]
        pids = {**core.pids(), "gateway": gw.pid}
        try:
            result = _drive(client_args, port, orders, core.log, pids, window)
        except Exception:
            core.log.flush()
            sys.stderr.write((root / "processes.log").read_text()[-4000:])
            raise
        _stop(gw, 30.0)       # before the sequencer: the gateway logs the session out
        return result


def _check(result: dict, what: str, expect: dict) -> None:
    """Every order answered the expected way, or the numbers mean nothing."""
    got = result.get("exec_types") or result.get("responses") or {}
    orders = result.get("warmup_orders", 0) + result["sustained"]["orders"] + result.get("pingpong", {}).get("orders", 0)
    wrong = {k: v for k, v in got.items() if k not in expect}
    if wrong or sum(got.get(k, 0) for k in expect) != orders:
        raise RuntimeError(f"{what}: expected {orders} answers of kind {list(expect)}, got {got}; "
                           f"other messages {result.get('other_messages')} {result.get('unexpected_samples')}")


def _figures(label: str, what: str, result: dict, unit: str, goal) -> list[dict]:
    """Rate and latency rows; names stay the same from run to run (no counts in them)."""
    s, p = result["sustained"], result.get("pingpong")
    out = [figure(f"{label}: {what}, sustained (W={WINDOW})", s["rate"], unit, goal)]
    for k, name in (("p50", "p50"), ("p99", "p99"), ("p999", "p99.9")):
        out.append(figure(f"{label}: latency {name} under load (W={WINDOW})", s["latency_us"][k], "µs", None,
                          "lower"))
    if p:
        for k, name in (("p50", "p50"), ("p99", "p99"), ("p999", "p99.9")):
            out.append(figure(f"{label}: latency {name}, one at a time", p["latency_us"][k], "µs", None, "lower"))
    return out


def _orders(n: int) -> int:
    return max(1000, min(n, 200_000))


def _log(what: str, result: dict) -> None:
    s = result["sustained"]
    print(f"  {what}: {s['rate']:,.0f}/s over {s['orders']:,} orders; latency {s['latency_us']}; "
          f"one at a time {result.get('pingpong', {}).get('latency_us')}; CPU share {result['cpu_share']}",
          file=sys.stderr, flush=True)


# ------------------------------------------------------------------ benchmarks
def fix_gateway(n, profile: Path | None = None):
    """NewOrderSingle in → the core's first ExecutionReport out, one FIX 4.4 session."""
    r = run_gateway("fix", _orders(n), profile=profile)
    _check(r, "fix gateway", {"A": None})
    _log("fix gateway", r)
    _results["fix"] = r
    return _figures("fix gateway", "NOS -> first ER", r, "msgs/s", 100_000)


def fix_gateway_tmpfs(n, profile: Path | None = None):
    """The same with the gateway's LMDB stores on tmpfs: what the stores' fsyncs cost."""
    if not os.path.isdir("/dev/shm"):
        return [figure("fix gateway, stores on tmpfs: SKIPPED, no /dev/shm", math.nan, "msgs/s", None)]
    r = run_gateway("fix", _orders(n), store_on_tmpfs=True, profile=profile)
    _check(r, "fix gateway (tmpfs)", {"A": None})
    _log("fix gateway, stores on tmpfs", r)
    s = r["sustained"]
    return [figure("fix gateway, stores on tmpfs: NOS -> first ER, sustained", s["rate"], "msgs/s", None),
            figure("fix gateway, stores on tmpfs: latency p50, one at a time", r["pingpong"]["latency_us"]["p50"],
                   "µs", None, "lower")]


def binary_gateway(n, profile: Path | None = None):
    """32-byte NewOrder in → the first response (the core's Reject: no buying power)."""
    from gateways.binary import protocol as P
    from sequencer import records as R

    r = run_gateway("binary", _orders(n), profile=profile)
    _check(r, "binary gateway", {f"{P.REJECT}/{R.REASON_BUYING_POWER}": None})
    _log("binary gateway", r)
    return _figures("binary gateway", "order -> first response", r, "orders/s", 300_000)


def binary_gateway_deep(n, profile: Path | None = None):
    """The same with 8000 orders in flight: at 2000 the client's window, not the gateway,
    bounds the rate (rate = window / round trip)."""
    from gateways.binary import protocol as P
    from sequencer import records as R

    r = run_gateway("binary", _orders(n), profile=profile, window=DEEP_WINDOW)
    _check(r, "binary gateway (deep window)", {f"{P.REJECT}/{R.REASON_BUYING_POWER}": None})
    _log(f"binary gateway, window {DEEP_WINDOW}", r)
    s = r["sustained"]
    return [figure(f"binary gateway: order -> first response, sustained (W={DEEP_WINDOW})", s["rate"],
                   "orders/s", 300_000),
            figure(f"binary gateway: latency p50 under load (W={DEEP_WINDOW})", s["latency_us"]["p50"],
                   "µs", None, "lower")]


def quickfix_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("quickfix") is not None


def run_quickfix(orders: int) -> dict:
    with contextlib.ExitStack() as stack:
        root = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-quickfix-")))
        log = stack.enter_context(open(root / "processes.log", "w"))
        port = _free_port()
        acc = _popen([sys.executable, "-m", "perf.gateway_client", "quickfix-acceptor", "--dir", str(root / "qf"),
                      "--port", str(port)], log)
        stack.callback(_stop, acc, 30.0)
        _json_line(acc, "the QuickFIX acceptor", 60)
        try:
            result = _drive(["fix", "--account", "BENCH"], port, orders, log, {"quickfix acceptor": acc.pid})
        except Exception:
            log.flush()
            sys.stderr.write((root / "processes.log").read_text()[-4000:])
            raise
        return result


def quickfix_reference(n):
    """The same client and round trip against a QuickFIX acceptor (no core), and the ratio."""
    if not quickfix_available():
        print("  quickfix reference skipped: the quickfix package is not installed (`make interop` "
              "installs it)", file=sys.stderr, flush=True)
        why = "SKIPPED: quickfix not installed, see make interop"
        return [figure(f"quickfix reference: {why}", math.nan, "msgs/s", None),
                figure(f"fix gateway / quickfix reference: {why}", math.nan, "x", 2.0)]
    r = run_quickfix(_orders(n))
    _check(r, "quickfix acceptor", {"A": None})
    _log("quickfix acceptor", r)
    out = _figures("quickfix reference", "NOS -> ER", r, "msgs/s", None)
    fix = _results.get("fix")
    if fix is None:       # run alone: measure the FIX gateway too, so there is a ratio
        fix_gateway(n)
        fix = _results["fix"]
    ratio = fix["sustained"]["rate"] / r["sustained"]["rate"]
    out.append(figure("fix gateway / quickfix reference, sustained", ratio, "x", 2.0))
    return out


# fix_gateway_tmpfs is a diagnostic (python -m perf.gateways fix-tmpfs): since the FIX
# stores sync once per tick it measures about what fix_gateway does.
BENCHMARKS = [fix_gateway, binary_gateway, binary_gateway_deep, quickfix_reference]


def main(argv=None) -> int:
    import argparse

    names = {"fix": fix_gateway, "fix-tmpfs": fix_gateway_tmpfs, "binary": binary_gateway,
             "binary-deep": binary_gateway_deep, "quickfix": quickfix_reference}
    p = argparse.ArgumentParser(prog="python -m perf.gateways", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("which", nargs="*", help=f"any of {', '.join(names)} (default: what make bench runs)")
    p.add_argument("--orders", type=int, default=200_000)
    p.add_argument("--profile", type=Path, help="run each gateway under cProfile, write DIR/<name>.prof")
    p.add_argument("--json", type=Path, help="also write the figures here")
    args = p.parse_args(argv)
    for name in args.which:
        if name not in names:
            p.error(f"unknown benchmark {name!r}: choose from {', '.join(names)}")
    figures = []
    default = [k for k, f in names.items() if f in BENCHMARKS]
    for name in args.which or default:
        print(f"running {name} ...", file=sys.stderr, flush=True)
        bench = names[name]
        if args.profile and name != "quickfix":
            figures.extend(bench(args.orders, profile=args.profile / f"{name}.prof"))
        else:
            figures.extend(bench(args.orders))
    for f in figures:
        goal = "" if f["goal"] is None else f"  (goal {f['goal']:,})"
        print(f"{f['name']:<75} {f['value']:>12,.1f} {f['unit']}{goal}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
