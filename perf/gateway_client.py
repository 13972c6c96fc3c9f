"""The processes that stand beside a gateway in ``perf/gateways.py``.

- ``fix``: a FIX 4.4 load client. It logs on, then pipelines NewOrderSingle messages with
  unique numeric ClOrdIDs (``1..N``), keeping at most ``--window`` orders without an
  answer, and stamps each order's send time and the time its first ExecutionReport is
  read. Every message is encoded before the clock starts (MsgSeqNum and SendingTime
  included: the gateways under test do not check SendingTime), so the client's work per
  order is a slice of one buffer out and its share of one Numba scan of each read in.
- ``binary``: the same for the 32-byte binary protocol (a numpy array of orders, 64-byte
  responses decoded as one array per read).
- ``quickfix-acceptor``: the reference: a QuickFIX acceptor (C++ engine, Python
  application) that answers each NewOrderSingle with one ExecutionReport carrying the
  fields Tandem's PENDING_NEW report carries, with no core behind it.

A run has three phases over consecutive ids: warm-up (not measured), the sustained run
(throughput, and latency under that load) and a ping-pong run (window 1: latency with no
queue in front of the order). The client prints JSON lines: ``{"event": "measure_start"}``
and ``{"event": "measure_end"}`` around the sustained run (the harness samples the other
processes' CPU time at both), then one result object.

Run as ``python -m perf.gateway_client {fix,binary,quickfix-acceptor} ...``: a process of
its own, so its Python does not share a GIL (or a core's time slice) with the gateway or
with the harness that measures.
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import signal
import socket
import sys
import time
from pathlib import Path

import numba
import numpy as np

SOH = b"\x01"
NOW = "20261124-10:00:00.000"   # SendingTime / TransactTime of every pre-encoded message


# ------------------------------------------------------------------ FIX, client side
def fix_message(begin: str, msg_type: str, fields) -> bytes:
    """One FIX message: BodyLength and CheckSum computed (a minimal encoder of our own,
    so the client does not rely on the codec of the gateway it measures)."""
    body = b"35=" + msg_type.encode() + SOH + b"".join(b"%d=%s\x01" % (t, str(v).encode()) for t, v in fields)
    head = b"8=" + begin.encode() + b"\x019=" + str(len(body)).encode() + SOH
    return head + body + b"10=%03d\x01" % (sum(head + body) % 256)


def encode_fix_orders(begin: str, sender: str, target: str, account: str, symbol: str, price: str,
                      first_id: int, count: int, first_seq: int) -> tuple[bytes, np.ndarray]:
    """NewOrderSingle ``first_id .. first_id+count-1`` (ClOrdID = the id, MsgSeqNum from
    ``first_seq``): one buffer and the offset of each message (``count + 1`` entries)."""
    msgs = []
    for i in range(count):
        cl = first_id + i
        msgs.append(fix_message(begin, "D", [
            (49, sender), (56, target), (34, first_seq + i), (52, NOW),
            (11, cl), (1, account), (55, symbol), (54, 1), (60, NOW), (38, 1), (40, 2), (44, price), (59, 0)]))
    offsets = np.zeros(count + 1, np.int64)
    np.cumsum([len(m) for m in msgs], out=offsets[1:])
    return b"".join(msgs), offsets


_EXEC_TYPE = re.compile(rb"\x01150=([^\x01]*)\x01")   # only for ExecType values that are not one character

_ER = ord("8")
_SESSION_TYPES = (ord("0"), ord("A"), ord("5"))     # Heartbeat, Logon, Logout: expected besides ERs


@numba.njit(cache=True)
def _scan_fix(b):
    r"""Cut ``b`` (whole messages: it ends with a trailer) into FIX messages, in one pass.

    A message is ``SOH 35=<type> SOH ... SOH 10=ddd SOH`` (the first SOH may be the start
    of ``b``), ended by the first trailer after its type: what the regex
    ``\x0135=([^\x01]*)\x01(.*?)\x0110=\d{3}\x01`` finds. Returns

    - ``ids``: the ClOrdID (first ``11=<digits>``) of each ExecutionReport that has one;
    - ``msgs`` (one row per message): MsgType byte (-1: not one ASCII character), the
      first ExecType (150) byte of an ExecutionReport (-1: none, -2: not one ASCII
      character), where the type starts, the SOH that ends it, the SOH of the trailer;
    - ``tally``: rows (kind, code, count) in order of first appearance, kind 0 the
      ExecTypes of ExecutionReports, kind 1 the MsgTypes of the other messages;
    - how many messages are of a type other than 8, 0, A and 5.

    Counting here rather than per message in Python keeps a read to a few microseconds
    plus about a nanosecond a byte, however many messages it brings."""
    n = b.size
    cap = n // 12 + 1                  # the shortest message, "35=\x01\x0110=ddd\x01", is 12 bytes
    msgs = np.empty((cap, 5), np.int64)
    ids = np.empty(cap, np.int64)
    tally = np.zeros((259, 3), np.int64)
    row_of = np.full((2, 130), -1, np.int64)   # (kind, code + 2) -> row of tally
    k = nid = rows = odd = 0
    e = 0                              # end of the previous message: the next "SOH 35=" starts at or after it
    while True:
        ts = -1                        # where the MsgType value starts
        if k == 0 and n >= 3 and b[0] == 51 and b[1] == 53 and b[2] == 61:
            ts = 3
        else:
            q = e
            while q + 3 < n:
                if b[q] == 1 and b[q + 1] == 51 and b[q + 2] == 53 and b[q + 3] == 61:
                    ts = q + 4
                    break
                q += 1
        if ts < 0:
            break
        t = ts
        while t < n and b[t] != 1:
            t += 1
        if t >= n:
            break
        er = t - ts == 1 and b[ts] == 56
        et = -1
        cl = -1
        has_cl = False
        # walk the SOHs from the one after the type: the first trailer ends the message;
        # on the way, an ER's first 150= and first 11=<digits>SOH
        s = -1
        p = t
        while p < n:
            if b[p] != 1:
                p += 1
                continue
            if (p > t and p + 7 < n and b[p + 1] == 49 and b[p + 2] == 48 and b[p + 3] == 61
                    and 48 <= b[p + 4] <= 57 and 48 <= b[p + 5] <= 57 and 48 <= b[p + 6] <= 57 and b[p + 7] == 1):
                s = p
                break
            if er:
                if et == -1 and p + 4 < n and b[p + 1] == 49 and b[p + 2] == 53 and b[p + 3] == 48 and b[p + 4] == 61:
                    v = p + 5
                    while v < n and b[v] != 1:
                        v += 1
                    et = b[p + 5] if v == p + 6 and b[p + 5] < 128 else -2
                    p = v                      # the SOH that ends the value: look at it next
                    continue
                if not has_cl and p + 3 < n and b[p + 1] == 49 and b[p + 2] == 49 and b[p + 3] == 61:
                    v = p + 4
                    x = 0
                    while v < n and 48 <= b[v] <= 57:
                        x = x * 10 + (b[v] - 48)
                        v += 1
                    if v > p + 4 and v < n and b[v] == 1:   # else not an id: a later 11= may be one
                        has_cl = True
                        cl = x if v - (p + 4) <= 18 else -1   # beyond int64: not an id of ours
                        p = v
                        continue
            p += 1
        if s < 0:
            break                      # no trailer after this start, so none after a later one
        mt = b[ts] if t - ts == 1 and b[ts] < 128 else -1
        msgs[k, 0], msgs[k, 1], msgs[k, 2], msgs[k, 3], msgs[k, 4] = mt, et, ts, t, s
        kind, code = (0, et) if er else (1, mt)
        r = row_of[kind, code + 2]
        if r < 0:
            r = row_of[kind, code + 2] = rows
            tally[r, 0], tally[r, 1] = kind, code
            rows += 1
        tally[r, 2] += 1
        if er:
            if has_cl and cl >= 0:
                ids[nid] = cl
                nid += 1
        elif mt != 48 and mt != 65 and mt != 53:
            odd += 1
        k += 1
        e = s + 8
    return ids[:nid], msgs[:k], tally[:rows], odd


class FixReader:
    """Cuts the received stream into messages; ExecutionReports give (ClOrdID, ExecType).

    The per-message work is one Numba pass (``_scan_fix``) over the bytes of a read: at
    100k+ reports/s the client must stay a small share of a core. Python looks only at
    rare messages (unexpected types, a MsgType or ExecType that is not one character)."""

    def __init__(self):
        self.buf = b""
        self.other: dict[str, int] = {}     # message types other than ExecutionReport, counted
        self.exec_types: dict[str, int] = {}
        self.samples: list[str] = []        # the first few unexpected messages, for the report
        _scan_fix(np.frombuffer(b"", np.uint8))   # compile (or load from the cache) before any clock runs

    def feed(self, data: bytes) -> np.ndarray:
        """ClOrdIDs (int64) of the ExecutionReports that ``data`` completes, in stream order."""
        buf = self.buf + data if self.buf else data
        end = buf.rfind(b"\x0110=")
        if end < 0 or len(buf) < end + 8:   # no complete message yet ("\x0110=ddd\x01")
            end = buf.rfind(b"\x0110=", 0, end) if end >= 0 else -1
            if end < 0:
                self.buf = buf
                return np.zeros(0, np.int64)
        cut = end + 8
        self.buf = buf[cut:]
        ids, msgs, tally, odd = _scan_fix(np.frombuffer(buf, np.uint8, count=cut))
        for kind, code, count in tally.tolist():
            counts = self.exec_types if kind == 0 else self.other
            if code >= 0 or kind == 0 and code == -1:
                key = chr(code) if code >= 0 else "?"
                counts[key] = counts.get(key, 0) + count
                continue
            # not one ASCII character: read it from each such message (rare)
            for _, _, ts, te, be in msgs[msgs[:, 1 - kind] == code].tolist():
                if kind == 0:
                    key = _EXEC_TYPE.search(buf, te, be + 1).group(1).decode("ascii", "replace")
                else:
                    key = buf[ts:te].decode("ascii", "replace")
                counts[key] = counts.get(key, 0) + 1
        if odd and len(self.samples) < 5:
            unexpected = msgs[~np.isin(msgs[:, 0], (_ER,) + _SESSION_TYPES)]
            for _, _, _, te, be in unexpected[:5 - len(self.samples)].tolist():
                self.samples.append(buf[te + 1:be].replace(SOH, b"|").decode("ascii", "replace"))
        return ids


@numba.njit(cache=True)
def _mark_answered(ids, first, sent, answered, recv_ns, t):
    """The first answer of each order sent counts: ids out of ``[first, first + sent)``,
    answered before or repeated in ``ids`` do not. Returns how many orders it answered."""
    new = 0
    for i in ids:
        i -= first
        if 0 <= i < sent and not answered[i]:
            answered[i] = True
            recv_ns[i] = t
            new += 1
    return new


class FixConn:
    def __init__(self, sock: socket.socket, args):
        self.sock, self.args = sock, args
        self.reader = FixReader()
        self.seq = 1

    def send_admin(self, msg_type: str, fields) -> None:
        a = self.args
        self.sock.sendall(fix_message(a.begin, msg_type, [(49, a.sender), (56, a.target), (34, self.seq),
                                                          (52, NOW)] + fields))
        self.seq += 1

    def login(self, timeout_s: float) -> None:
        self.send_admin("A", [(98, 0), (108, 30)])
        self._wait_for(b"A", timeout_s, "the Logon answer")

    def _wait_for(self, msg_type: bytes, timeout_s: float, what: str) -> None:
        deadline = time.monotonic() + timeout_s
        seen = b""
        while b"\x0135=" + msg_type + SOH not in seen:
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {what}; got {seen[:300]!r}")
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            if not data:
                raise ConnectionError(f"closed before {what}; got {seen[:300]!r}")
            seen += data
        self.sock.settimeout(None)

    def prepare(self, total: int) -> None:
        a = self.args
        # MsgSeqNum 1 is the Logon: orders are 2, 3, ...
        self.blob, self.offsets = encode_fix_orders(a.begin, a.sender, a.target, a.account, a.symbol, a.price,
                                                    1, total, 2)
        self.view = memoryview(self.blob)

    def send_orders(self, first: int, last: int) -> None:
        """Orders with ids first..last-1 (ids from 1)."""
        self.sock.sendall(self.view[self.offsets[first - 1]:self.offsets[last - 1]])

    def feed(self, data: bytes) -> np.ndarray:
        return self.reader.feed(data)

    def finish(self, total: int, timeout_s: float) -> None:
        self.seq += total
        self.send_admin("5", [])
        try:
            self._wait_for(b"5", timeout_s, "the Logout answer")
        except (TimeoutError, ConnectionError):
            pass

    def summary(self) -> dict:
        r = self.reader
        return {"exec_types": r.exec_types, "other_messages": r.other, "unexpected_samples": r.samples}


# ------------------------------------------------------------------ binary, client side
class BinaryConn:
    def __init__(self, sock: socket.socket, args):
        from gateways.binary import protocol as P
        self.P, self.sock, self.args = P, sock, args
        self.buf = b""
        self.kinds: dict[str, int] = {}

    def login(self, timeout_s: float) -> None:
        P = self.P
        self.sock.sendall(P.login(self.args.api_key))
        deadline = time.monotonic() + timeout_s
        got = b""
        while len(got) < P.RESPONSE_SIZE:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            data = self.sock.recv(P.RESPONSE_SIZE - len(got))
            if not data:
                raise ConnectionError("closed before the login answer")
            got += data
        self.sock.settimeout(None)
        r = P.decode_responses(got)[0]
        if int(r["msg_type"]) != P.LOGIN_ACCEPTED:
            raise ConnectionError(f"login refused: type {int(r['msg_type'])} reason {int(r['reason'])}")

    def prepare(self, total: int) -> None:
        P, a = self.P, self.args
        orders = np.zeros(total, P.ORDER_MSG)
        orders["msg_type"], orders["side"], orders["symbol_id"] = P.NEW_ORDER, 1, a.symbol_id
        orders["quantity"], orders["price"] = a.qty, a.price_fixed
        orders["client_order_id"] = np.arange(1, total + 1, dtype=np.uint64)
        self.blob = orders.tobytes()
        self.view = memoryview(self.blob)

    def send_orders(self, first: int, last: int) -> None:
        self.sock.sendall(self.view[(first - 1) * 32:(last - 1) * 32])

    def feed(self, data: bytes) -> np.ndarray:
        """Client order ids (int64) of the responses to orders in ``data``: one array view
        per read; the Python loop is over the distinct (type, reason) kinds, not messages."""
        P = self.P
        buf = self.buf + data if self.buf else data
        n = len(buf) // P.RESPONSE_SIZE * P.RESPONSE_SIZE
        resp, self.buf = P.decode_responses(buf[:n]), buf[n:]
        types = resp["msg_type"]
        kinds, counts = np.unique(np.stack([types.astype(np.int64), resp["reason"].astype(np.int64)]), axis=1,
                                  return_counts=True)
        for (t, r), c in zip(kinds.T.tolist(), counts.tolist()):
            k = f"{t}/{r}"
            self.kinds[k] = self.kinds.get(k, 0) + c
        return resp["client_order_id"][types < 16].astype(np.int64)

    def finish(self, total: int, timeout_s: float) -> None:
        try:
            self.sock.sendall(self.P.logout())
            self.sock.settimeout(timeout_s)
            while self.sock.recv(65536):
                pass
        except OSError:
            pass

    def summary(self) -> dict:
        return {"responses": self.kinds}   # "msg_type/reason": count


# ------------------------------------------------------------------ the load itself
def run_phase(conn, first: int, count: int, window: int, max_s: float | None, timeout_s: float):
    """Orders from id ``first``, at most ``count`` of them and no new one after ``max_s``
    seconds, with at most ``window`` unanswered; per order sent, its send time and the
    time its first answer was read (ns, perf_counter)."""
    sent_ns = np.zeros(count, np.int64)
    recv_ns = np.zeros(count, np.int64)
    answered = np.zeros(count, np.bool_)
    sent = done = 0
    burst = max(1, min(64, window // 16))   # fewer, larger writes; the window still bounds what is out
    clock = time.perf_counter_ns
    stop_at = clock() + int(max_s * 1e9) if max_s else None
    deadline = time.monotonic() + timeout_s
    sock = conn.sock
    sock.settimeout(timeout_s)
    while True:
        t = clock()
        if stop_at is not None and t > stop_at:
            count = sent                     # the budget is spent: only wait for what is out
        room = min(window - (sent - done), count - sent)
        if room >= burst or (room > 0 and sent + room == count):
            conn.send_orders(first + sent, first + sent + room)
            sent_ns[sent:sent + room] = t
            sent += room
        if done == sent:
            break
        data = sock.recv(1 << 20)
        t = clock()
        if not data:
            raise ConnectionError(f"the gateway closed the connection after {done} of {sent} answers")
        done += _mark_answered(conn.feed(data), first, sent, answered, recv_ns, t)
        if time.monotonic() > deadline:
            raise TimeoutError(f"{done} of {sent} orders answered in {timeout_s}s")
    return sent_ns[:sent], recv_ns[:sent]


def percentiles_us(sent_ns, recv_ns) -> dict:
    lat = (recv_ns - sent_ns) / 1000.0
    p50, p99, p999 = np.percentile(lat, [50, 99, 99.9])
    return {"p50": float(p50), "p99": float(p99), "p999": float(p999), "max": float(lat.max()),
            "mean": float(lat.mean())}


def emit(doc: dict) -> None:
    print(json.dumps(doc), flush=True)


def cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def load(args) -> int:
    total = args.warmup + args.orders + args.pingpong
    sock = socket.create_connection((args.host, args.port), timeout=30)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    conn = FixConn(sock, args) if args.protocol == "fix" else BinaryConn(sock, args)
    # compile (or load from the cache) the answer kernel before any clock runs
    _mark_answered(np.zeros(0, np.int64), 1, 0, np.zeros(0, np.bool_), np.zeros(0, np.int64), 0)
    t0 = time.perf_counter()
    conn.prepare(total)
    encode_s = time.perf_counter() - t0
    conn.login(30.0)
    result = {"protocol": args.protocol, "window": args.window, "encode_s": encode_s}
    nxt = 1                                  # ids (and so MsgSeqNums) stay contiguous across phases
    if args.warmup:
        s, _ = run_phase(conn, nxt, args.warmup, args.window, args.warmup_s, args.timeout)
        nxt += len(s)
        result["warmup_orders"] = len(s)
    emit({"event": "measure_start"})
    c0, t0 = cpu_s(), time.perf_counter()
    sent_ns, recv_ns = run_phase(conn, nxt, args.orders, args.window, args.seconds, args.timeout)
    wall = time.perf_counter() - t0
    client_cpu = cpu_s() - c0
    emit({"event": "measure_end"})
    nxt += len(sent_ns)
    # throughput: from the first send to the last answer of the sustained run
    span_s = (recv_ns.max() - sent_ns.min()) / 1e9
    result["sustained"] = {"orders": len(sent_ns), "seconds": span_s, "rate": len(sent_ns) / span_s,
                           "latency_us": percentiles_us(sent_ns, recv_ns),
                           "client_cpu_share": client_cpu / wall}
    if args.pingpong:
        s, r = run_phase(conn, nxt, args.pingpong, 1, args.pingpong_s, args.timeout)
        nxt += len(s)
        result["pingpong"] = {"orders": len(s), "latency_us": percentiles_us(s, r)}
    conn.finish(nxt - 1, 5.0)
    sock.close()
    result.update(conn.summary())
    emit(result)
    return 0


# ------------------------------------------------------------------ QuickFIX reference
def quickfix_acceptor(args) -> int:
    """A QuickFIX acceptor whose application answers every NewOrderSingle with one
    ExecutionReport (PENDING_NEW, the fields Tandem's report for a new order carries)."""
    import threading

    import quickfix as fix

    work = Path(args.dir)
    work.mkdir(parents=True, exist_ok=True)
    settings = {
        "ConnectionType": "acceptor", "SocketAcceptPort": str(args.port), "SocketReuseAddress": "Y",
        "SocketNodelay": "Y", "StartTime": "00:00:00", "EndTime": "00:00:00", "UseDataDictionary": "N",
        "CheckLatency": "N", "FileStorePath": str(work / "store"),
        "BeginString": args.begin, "SenderCompID": args.target, "TargetCompID": args.sender,
    }
    path = work / "acceptor.cfg"
    session_keys = ("BeginString", "SenderCompID", "TargetCompID")
    path.write_text("\n".join(["[DEFAULT]"] + [f"{k}={v}" for k, v in settings.items() if k not in session_keys]
                              + ["", "[SESSION]"] + [f"{k}={settings[k]}" for k in session_keys]) + "\n")

    class Answer(fix.Application):
        def __init__(self):
            super().__init__()
            self.n = 0
            self.logons = 0

        def onCreate(self, sid):
            pass

        def onLogon(self, sid):
            self.logons += 1

        def onLogout(self, sid):
            pass

        def toAdmin(self, msg, sid):
            pass

        def fromAdmin(self, msg, sid):
            pass

        def toApp(self, msg, sid):
            pass

        def fromApp(self, msg, sid):
            if msg.getHeader().getField(35) != "D":
                return
            self.n += 1
            er = fix.Message()
            h = er.getHeader()
            h.setField(8, args.begin)
            h.setField(35, "8")
            for tag, value in ((37, str(self.n)), (11, msg.getField(11)), (17, str(self.n)), (150, "A"),
                               (39, "A"), (1, msg.getField(1)), (55, msg.getField(55)), (54, msg.getField(54)),
                               (38, msg.getField(38)), (40, msg.getField(40)), (44, msg.getField(44)),
                               (151, msg.getField(38)), (14, "0"), (6, "0")):
                er.setField(tag, value)
            fix.Session.sendToTarget(er, sid)

    app = Answer()
    s = fix.SessionSettings(str(path))
    acceptor = fix.SocketAcceptor(app, fix.FileStoreFactory(s), s)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    acceptor.start()
    emit({"acceptor": "quickfix", "port": args.port})
    while not stop.wait(0.2):
        pass
    acceptor.stop()
    emit({"acceptor": "quickfix", "stopped": True, "answered": app.n, "logons": app.logons})
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m perf.gateway_client", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="protocol", required=True)
    for name in ("fix", "binary"):
        c = sub.add_parser(name)
        c.add_argument("--host", default="127.0.0.1")
        c.add_argument("--port", type=int, required=True)
        c.add_argument("--orders", type=int, default=200_000, help="orders in the sustained run")
        c.add_argument("--warmup", type=int, default=20_000)
        c.add_argument("--pingpong", type=int, default=5_000, help="orders sent one at a time (0: none)")
        c.add_argument("--window", type=int, default=2000, help="orders without an answer, at most")
        c.add_argument("--seconds", type=float, default=20.0, help="time budget of the sustained run")
        c.add_argument("--warmup-s", type=float, default=5.0)
        c.add_argument("--pingpong-s", type=float, default=5.0)
        c.add_argument("--timeout", type=float, default=120.0, help="seconds per phase before giving up")
        if name == "fix":
            c.add_argument("--begin", default="FIX.4.4")
            c.add_argument("--sender", default="CLIENT1", help="our CompID")
            c.add_argument("--target", default="TANDEM", help="the gateway's CompID")
            c.add_argument("--account", default="BENCH")
            c.add_argument("--symbol", default="AAA")
            c.add_argument("--price", default="100")
        else:
            c.add_argument("--api-key", required=True)
            c.add_argument("--symbol-id", type=int, default=1)
            c.add_argument("--qty", type=int, default=1)
            c.add_argument("--price-fixed", type=int, default=100 * 10**8, help="price, 8 implied decimals")
    q = sub.add_parser("quickfix-acceptor")
    q.add_argument("--dir", required=True)
    q.add_argument("--port", type=int, required=True)
    q.add_argument("--begin", default="FIX.4.4")
    q.add_argument("--sender", default="CLIENT1", help="the client's CompID")
    q.add_argument("--target", default="TANDEM", help="the acceptor's CompID")
    args = p.parse_args(argv)
    if args.protocol == "quickfix-acceptor":
        return quickfix_acceptor(args)
    return load(args)


if __name__ == "__main__":
    sys.exit(main())
