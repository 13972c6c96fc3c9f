"""``tandem gateway binary``: the binary order-entry gateway as a process.

An asyncio TCP server (127.0.0.1 unless configured otherwise) in front of the configured
``BinarySession``s, and the ``CoreLink`` to the sequencer. A connection belongs to the
session whose API key its Login carries; an unknown key gets a login reject and is
closed, a key already connected too. Orders go to the sequencer as the session's
commands (its source id, gapless source seqs); the core's reports for the session's
client come back as numbered responses, stored in the session's LMDB store before they
are written, so a client that reconnects asks for what it missed.

Session events are journaled as SessionEvent records of the session's source: logon,
logout, disconnect and, for a session with ``cancel_on_disconnect``, the
cancel-on-disconnect that makes the core cancel the client's open orders.

Restart: the link continues each source's numbering from the input journal; the
gateway's place in the output stream (``out_seq``, in ``store_dir/gateway.lmdb``) is
saved after the responses it led to are stored, and the reports after it are read back
from the output journal at start. A crash between the two re-numbers a few responses
(at least once, never lost); what a client sent that the sequencer never journaled is
not acknowledged, and the client sends it again (the core refuses a duplicate ClOrdID).

Config (TOML):

    [gateway]
    host = "127.0.0.1"
    port = 0                        # 0: any free port (printed)
    store_dir = "var/gateway-binary"
    [[gateway.sessions]]
    name = "alpha"
    api_key = "key-alpha-0001"
    client_id = 1
    account = "ACC1"
    source_id = 201
    cancel_on_disconnect = false
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import struct
import time
import tomllib
from pathlib import Path

import lmdb
import numpy as np
import uvloop

from gateways.binary import protocol as P
from gateways.binary.session import DISCONNECT, LOGGED_IN, LOGGED_OUT, BinaryConfig, BinarySession
from gateways.binary.store import LmdbStore
from gateways.core import CoreLink, catch_up
from sequencer import records as R
from tandem import topology
from tandem.counters import GATEWAY, Counters, gateway_counters_path

log = logging.getLogger(__name__)

_KEY = slice(8, 8 + P.API_KEY_LEN)   # the api_key bytes in a Login message
_ORDER_TYPES = (R.NEW_ORDER, R.CANCEL, R.REPLACE)


def load(path) -> tuple[dict, list[dict]]:
    """(gateway settings, session settings) from a TOML file; errors name the key."""
    with open(path, "rb") as f:
        doc = tomllib.load(f)
    g = doc.get("gateway")
    if not isinstance(g, dict):
        raise ValueError(f"{path}: no [gateway] table")
    sessions = g.get("sessions", [])
    if not sessions:
        raise ValueError(f"{path}: no [[gateway.sessions]]")
    out = []
    for i, s in enumerate(sessions):
        try:
            cfg = BinaryConfig(api_key=str(s["api_key"]), client_id=int(s["client_id"]), account=str(s["account"]),
                               source_id=int(s["source_id"]), name=str(s.get("name", f"session{i + 1}")))
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"{path}: [[gateway.sessions]] #{i + 1}: {e!r}") from None
        out.append({"config": cfg, "cancel_on_disconnect": bool(s.get("cancel_on_disconnect", False))})
    for what in ("api_key", "client_id", "source_id"):
        vals = [getattr(s["config"], what) for s in out]
        if len(set(vals)) != len(vals):
            raise ValueError(f"{path}: two sessions share a {what}")
    settings = {"host": str(g.get("host", "127.0.0.1")), "port": int(g.get("port", 0)),
                "store_dir": Path(str(g.get("store_dir", "var/gateway-binary")))}
    return settings, out


def session_event(event: int, cfg: BinaryConfig) -> np.ndarray:
    raw = R.new_commands(1)
    e = raw.view(R.SessionEvent)
    e["type"], e["version"] = R.SESSION_EVENT, 1
    e["session_id"], e["client_id"], e["event"] = cfg.source_id, cfg.client_id, event
    return raw


class BinaryGateway:
    def __init__(self, cfg, settings: dict, sessions: list[dict], aeron):
        self.cfg, self.settings = cfg, settings
        settings["store_dir"].mkdir(parents=True, exist_ok=True)
        self.sessions = {}
        for s in sessions:
            c = s["config"]
            # synced every tick, not per batch: an fsync per batch was most of an order's round trip
            store = LmdbStore(settings["store_dir"] / f"session-{c.source_id}", sync=False)
            self.sessions[c.api_key.encode("ascii").ljust(P.API_KEY_LEN, b"\0")] = (BinarySession(c, store), s)
        self.by_client = {s.config.client_id: s for s, _ in self.sessions.values()}
        self.writers: dict[int, asyncio.StreamWriter] = {}
        self.logged_in: set[int] = set()      # source ids of sessions logged in now
        sources = [s.config.source_id for s, _ in self.sessions.values()]
        self.counters = Counters(gateway_counters_path(cfg["run_dir"], "binary", sources[0]), GATEWAY, create=True)
        self.link = CoreLink(cfg, aeron, sources, self.counters)
        # sync=False: the note must survive this process, not the host (the responses'
        # store and the journal cover a host)
        self.meta = lmdb.open(str(settings["store_dir"] / "gateway.lmdb"), map_size=1 << 24, subdir=True,
                              sync=False)
        self.out_seq = self._load_out_seq()

    def _load_out_seq(self) -> int:
        with self.meta.begin() as txn:
            v = txn.get(b"out_seq")
        return struct.unpack("<Q", v)[0] if v else 0

    def _save_out_seq(self, seq: int) -> None:
        with self.meta.begin(write=True) as txn:
            txn.put(b"out_seq", struct.pack("<Q", seq))
        self.out_seq = seq

    def start(self) -> None:
        self.link.start()
        for batch in catch_up(self.cfg, self.out_seq):
            # through the link's cursor, so what the live stream repeats is dropped
            self._deliver(self.link.cursor.fresh(batch))

    # ------------------------------------------------------------ reports
    def _deliver(self, events: np.ndarray) -> None:
        if not len(events):
            return
        now = time.monotonic()
        cid = np.where(R.header(events)["type"] == R.EXEC_REPORT, events.view(R.ExecReport)["client_id"],
                       events.view(R.CancelReject)["client_id"])
        for client in np.unique(cid).tolist():
            session = self.by_client.get(client)
            if session is not None:
                before = session.store.next_seq
                session.on_events(events[cid == client], now)
                self.counters.add("reports_out", session.store.next_seq - before)
                self._write(session)
        self._save_out_seq(int(R.header(events)["seq"][-1]))

    def _write(self, session: BinarySession) -> None:
        out = session.take_outgoing()
        w = self.writers.get(session.config.source_id)
        if out and w is not None:
            w.write(out)

    def _submit(self, session: BinarySession) -> None:
        cmds = session.take_commands()
        orders = int(np.isin(R.header(cmds)["type"], _ORDER_TYPES).sum()) if len(cmds) else 0
        if orders:
            self.counters.add("orders_in", orders)
            self.counters.add("orders_batched", orders)
        if len(cmds):
            self.link.submit(session.config.source_id, cmds)
            self.link.flush()   # now, not at the pump's next turn: that is a millisecond per order

    def _session_events(self, session: BinarySession, extra) -> None:
        for ev in session.take_events():
            if ev.kind in (LOGGED_IN, LOGGED_OUT):
                event = R.SESSION_LOGON if ev.kind == LOGGED_IN else R.SESSION_LOGOUT
                if ev.kind == LOGGED_IN:
                    self.logged_in.add(session.config.source_id)
                    self.counters.add("logons")
                    self.counters.add("sessions_logged_on")
                self.link.submit(session.config.source_id, session_event(event, session.config))
            elif ev.kind == DISCONNECT:
                w = self.writers.get(session.config.source_id)
                if w is not None:
                    w.close()

    async def pump(self, stop: asyncio.Event) -> None:
        """The sequencer side, polled from the event loop."""
        last_tick = 0.0
        while not stop.is_set():
            events = self.link.poll()
            self._deliver(events)
            sent = self.link.flush()
            now = time.monotonic()
            if now - last_tick > 0.1:
                last_tick = now
                for session, extra in self.sessions.values():
                    session.tick(now)
                    self._write(session)
                    self._session_events(session, extra)
                    session.store.flush()
            await self.link.pause(bool(len(events) or sent))

    # ------------------------------------------------------------ connections
    async def serve_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            first = await asyncio.wait_for(reader.readexactly(P.MSG_SIZE), 5.0)
        except (asyncio.TimeoutError, asyncio.IncompleteReadError, ConnectionError):
            writer.close()
            return
        found = self.sessions.get(first[_KEY]) if first[0] == P.LOGIN else None
        if found is None or found[0].config.source_id in self.writers:
            reason = P.PR_NOT_LOGGED_IN if first[0] != P.LOGIN else \
                P.PR_BAD_API_KEY if found is None else P.PR_ALREADY_LOGGED_IN
            writer.write(P.session_response(P.LOGIN_REJECTED if first[0] == P.LOGIN else P.SESSION_REJECT, 0, reason))
            await writer.drain()
            writer.close()
            return
        session, extra = found
        sid = session.config.source_id
        self.writers[sid] = writer
        session.connected(time.monotonic())
        data = first
        try:
            while data:
                bad = session.bad_messages
                session.on_bytes(data, time.monotonic())
                self.counters.add("refused", session.bad_messages - bad)
                self._submit(session)
                self._write(session)
                self._session_events(session, extra)
                if writer.is_closing():
                    break
                await writer.drain()
                data = await reader.read(1 << 16)
            if not data:
                session.eof(time.monotonic())
                self._write(session)
        except ConnectionError:
            pass
        finally:
            if sid in self.logged_in:
                self.logged_in.discard(sid)
                self.counters.add("disconnects")
                self.counters.add("sessions_logged_on", -1)
            session.disconnected(time.monotonic())
            if self.writers.get(sid) is writer:
                del self.writers[sid]
            writer.close()
            self.link.submit(sid, session_event(R.SESSION_DISCONNECT, session.config))
            if extra["cancel_on_disconnect"]:
                self.link.submit(sid, session_event(R.SESSION_CANCEL_ON_DISCONNECT, session.config))

    def close(self) -> None:
        for session, _ in self.sessions.values():
            session.store.close()
        self.meta.close()


async def run(cfg, settings, sessions, stop: asyncio.Event, announce=print) -> None:
    try:
        aeron = topology.connect(cfg)
    except Exception as e:  # pyaeron raises its own error types
        raise OSError(f"cannot reach the media driver at {topology.driver_dir(cfg)} ({e}); "
                      "start one with `tandem driver`") from None
    gw = BinaryGateway(cfg, settings, sessions, aeron)
    try:
        gw.start()
        server = await asyncio.start_server(gw.serve_client, settings["host"], settings["port"])
        port = server.sockets[0].getsockname()[1]
        announce(json.dumps({"gateway": "binary", "host": settings["host"], "port": port,
                             "sessions": [s.config.name for s, _ in gw.sessions.values()]}))
        pump = asyncio.create_task(gw.pump(stop))
        await stop.wait()
        for session, _ in gw.sessions.values():
            session.logout(P.PR_SHUTDOWN, time.monotonic())
            gw._write(session)
        server.close()
        await pump
        gw.link.flush()
    finally:
        gw.close()
        aeron.close()


def main(cfg, config_path, announce=print) -> int:
    settings, sessions = load(config_path)

    async def go():
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await run(cfg, settings, sessions, stop, announce)

    asyncio.run(go(), loop_factory=uvloop.new_event_loop)   # libuv: fewer µs per read and write
    return 0
