"""The FIX 4.2 / 4.4 acceptor process shell: many configured sessions on one listening socket.

``FixAcceptor`` hosts one ``FixSession`` (acceptor role) per configured session, each with
an ``LmdbStore`` under ``store_dir``, so sequence numbers and sent messages survive a
restart of the process: a restarted gateway resumes every session where it stood and
serves ResendRequests for what the previous process sent.

A new connection is routed to its session by its first message, which must be a Logon:
BeginString (8), the counterparty's SenderCompID (49) and ours in TargetCompID (56) name
the session. A first message that names no configured session, or a session that already
has a connection (one connection per session at a time), is closed without an answer: no
session's sequence numbers are spent on a stranger. Garbled input is dropped (and logged).

On top of the session layer's Logon checks (CompIDs, Username 553 / Password 554, HeartBtInt
format, EncryptMethod, SendingTime) the acceptor enforces each session's policy:

- HeartBtInt (108) within ``heartbeat_min_s`` .. ``heartbeat_max_s``, else Logout with the
  reason and disconnect;
- ``reset_on_logon``: ``accept`` (a counterparty's ResetSeqNumFlag 141=Y resets both sides),
  ``always`` (every Logon starts the session over at 1, as if it carried 141=Y, which the
  answer then carries) or ``refuse`` (a Logon with 141=Y gets a Logout: sessions whose
  queued messages must not be lost by a reset).

The application is any object with ``on_logon(key, now)``, ``on_logout(key, reason, now)``
and ``on_app(key, msg, now)`` (``FixApplication``); ``key`` is the session's key string
``"FIX.4.4:OURS->THEIRS"``. It talks back through ``send_app(key, msg_type, fields)`` (the
session writes the header; while the session is down the message is stored with its
MsgSeqNum and reaches the counterparty by resend after its next Logon), ``send_encoded``
(messages encoded in a batch), ``reject(...)`` (session-level Reject) and
``logout(key, text)``. ``on_logout`` comes once for every connection that had logged on,
however it ended (Logout handshake, lost connection, heartbeat timeout): the hook for
cancel-on-disconnect.

An application that also has ``on_commands(key, commands, first_msg_seq, now)`` (the order
gateway) gets the batch path: each read is framed by ``order_decoder`` in one Numba pass,
runs of plain orders in sequence arrive as one array of commands, and every other message
still goes through the session one by one, in order.

Everything runs on one asyncio event loop: the application is called on it and must call
back on it. ``close()`` logs every connected session out and waits for the answers (at most
``logout_timeout_s``) before closing the connections. TLS (stdlib ``ssl``) is optional.

The TOML format (``load_config``) is documented in docs/fix.md.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import fcntl
import os
import signal
import ssl
import sys
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Protocol

import lmdb
import numpy as np
import uvloop

from gateways.fix.codec import FixError, FixFramer, FixMessage, parse
from gateways.fix.order_decoder import OrderDecoder
from gateways.fix.session import (ACCEPTOR, DISCONNECT, LOGGED_ON, LOGGED_OUT, REJECT_RECEIVED, FixSession,
                                  SessionConfig)
from gateways.fix.store import LmdbStore, SessionStore

__all__ = ["ConfigError", "GatewayConfig", "SessionSpec", "TlsConfig", "FixApplication", "FixAcceptor",
           "load_config", "parse_config", "session_key", "serve", "run", "RESET_POLICIES", "StoreInUse"]

log = logging.getLogger(__name__)

RESET_ACCEPT, RESET_ALWAYS, RESET_REFUSE = "accept", "always", "refuse"
RESET_POLICIES = (RESET_ACCEPT, RESET_ALWAYS, RESET_REFUSE)
_COMP_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
ACCOUNT_LEN = 16                 # the width of the account field in Tandem's records
MAX_WRITE_BUFFER = 16 << 20      # a counterparty that stops reading is dropped past this
READ_SIZE = 1 << 18              # bytes per read: a busy session's orders come in batches


def session_key(begin_string: str, sender_comp_id: str, target_comp_id: str) -> str:
    """``"FIX.4.4:OURS->THEIRS"``: our SenderCompID first, as the session writes it."""
    return f"{begin_string}:{sender_comp_id}->{target_comp_id}"


# ---------------------------------------------------------------------- configuration
class ConfigError(ValueError):
    """A gateway config that cannot be used; the message names the file and the key."""


class StoreInUse(RuntimeError):
    """Another process holds the store directory."""


@dataclass(frozen=True)
class TlsConfig:
    cert_file: str
    key_file: str
    ca_file: str | None = None       # set: clients must present a certificate signed by it

    def context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(self.cert_file, self.key_file)
        if self.ca_file:
            ctx.load_verify_locations(self.ca_file)
            ctx.verify_mode = ssl.CERT_REQUIRED
        return ctx


@dataclass(frozen=True)
class SessionSpec:
    """One configured session; ``sender_comp_id`` is ours, ``target_comp_id`` the client's."""
    begin_string: str
    sender_comp_id: str
    target_comp_id: str
    account: str = ""
    client_id: int = 0
    username: str | None = None
    password: str | None = None
    heartbeat_min_s: int = 1
    heartbeat_max_s: int = 300
    reset_on_logon: str = RESET_ACCEPT
    cancel_on_disconnect: bool = True
    source_id: int = 0          # the session's source id towards the sequencer (order mode)

    @property
    def key(self) -> str:
        return session_key(self.begin_string, self.sender_comp_id, self.target_comp_id)


@dataclass(frozen=True)
class GatewayConfig:
    sessions: tuple[SessionSpec, ...]
    host: str = "127.0.0.1"
    port: int = 0
    store_dir: str = "var/gateway/fix"
    tls: TlsConfig | None = None
    logon_timeout_s: float = 10.0
    logout_timeout_s: float = 5.0
    max_sending_time_skew_s: float | None = 120.0


_GATEWAY_KEYS = {"host", "port", "store_dir", "tls", "sessions", "logon_timeout_s", "logout_timeout_s",
                 "max_sending_time_skew_s"}
_TLS_KEYS = {"cert_file", "key_file", "ca_file"}
_SESSION_KEYS = {"begin_string", "sender_comp_id", "target_comp_id", "account", "client_id", "username",
                 "password", "password_file", "heartbeat_min_s", "heartbeat_max_s", "reset_on_logon",
                 "cancel_on_disconnect", "source_id"}


class _Reader:
    """Typed access to one TOML table; every error names the file and the key."""

    def __init__(self, table: dict, where: str, allowed: set[str]) -> None:
        self.t, self.where = table, where
        unknown = sorted(set(table) - allowed)
        if unknown:
            raise ConfigError(f"{where}: unknown key {unknown[0]!r} (allowed: {', '.join(sorted(allowed))})")

    def fail(self, key: str, what: str) -> ConfigError:
        return ConfigError(f"{self.where}: {key} {what}, got {self.t.get(key)!r}")

    def text(self, key: str, default: str | None = None, required: bool = False) -> str | None:
        if key not in self.t:
            if required:
                raise ConfigError(f"{self.where}: {key} is required")
            return default
        v = self.t[key]
        if not isinstance(v, str) or not v:
            raise self.fail(key, "must be a non-empty string")
        return v

    def integer(self, key: str, default: int, lo: int, hi: int) -> int:
        v = self.t.get(key, default)
        if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
            raise self.fail(key, f"must be an integer from {lo} to {hi}")
        return v

    def number(self, key: str, default: float | None, lo: float, zero_is_none: bool = False) -> float | None:
        v = self.t.get(key, default)
        if v is None:
            return None
        if not isinstance(v, (int, float)) or isinstance(v, bool) or v < lo:
            raise self.fail(key, f"must be a number >= {lo}")
        if zero_is_none and v == 0:
            return None
        return float(v)

    def flag(self, key: str, default: bool) -> bool:
        v = self.t.get(key, default)
        if not isinstance(v, bool):
            raise self.fail(key, "must be true or false")
        return v


def _resolve(base: Path, p: str) -> str:
    q = Path(p)
    return str(q if q.is_absolute() else base / q)


def _session(t, where: str, base: Path) -> SessionSpec:
    if not isinstance(t, dict):
        raise ConfigError(f"{where}: must be a table")
    r = _Reader(t, where, _SESSION_KEYS)
    begin = r.text("begin_string", required=True)
    if begin not in ("FIX.4.2", "FIX.4.4"):
        raise r.fail("begin_string", 'must be "FIX.4.2" or "FIX.4.4"')
    ids = {}
    for k in ("sender_comp_id", "target_comp_id"):
        ids[k] = r.text(k, required=True)
        if not _COMP_ID.fullmatch(ids[k]):
            raise r.fail(k, "must be 1 to 64 letters, digits, '.', '_' or '-'")
    account = r.text("account", "")
    if len(account) > ACCOUNT_LEN or not account.isascii() or not account.isprintable():
        raise r.fail("account", f"must be at most {ACCOUNT_LEN} printable ASCII characters")
    client_id = r.integer("client_id", 0, 0, 2 ** 32 - 1)
    username = r.text("username")
    password = r.text("password")
    if "password_file" in t:
        if password is not None:
            raise ConfigError(f"{where}: password and password_file are exclusive")
        pf = _resolve(base, r.text("password_file"))
        try:
            password = Path(pf).read_text().strip()
        except OSError as e:
            raise ConfigError(f"{where}: password_file: {e}") from None
        if not password:
            raise ConfigError(f"{where}: password_file {pf} is empty")
    for k, v in (("username", username), ("password", password)):
        if v is not None and (not v.isascii() or not v.isprintable()):
            raise ConfigError(f"{where}: {k} must be printable ASCII")
    hb_min = r.integer("heartbeat_min_s", 1, 0, 3600)
    hb_max = r.integer("heartbeat_max_s", 300, 0, 3600)
    if hb_min > hb_max:
        raise ConfigError(f"{where}: heartbeat_min_s {hb_min} is above heartbeat_max_s {hb_max}")
    reset = t.get("reset_on_logon", RESET_ACCEPT)
    if isinstance(reset, bool):
        reset = RESET_ALWAYS if reset else RESET_ACCEPT
    if reset not in RESET_POLICIES:
        raise r.fail("reset_on_logon", 'must be "accept", "always", "refuse" (or true = "always", '
                                       'false = "accept")')
    return SessionSpec(begin, ids["sender_comp_id"], ids["target_comp_id"], account, client_id, username,
                       password, hb_min, hb_max, reset, r.flag("cancel_on_disconnect", True),
                       r.integer("source_id", 0, 0, 2 ** 32 - 1))


def parse_config(data: dict, source: str = "<config>", base: Path | None = None) -> GatewayConfig:
    """A ``GatewayConfig`` from parsed TOML (its ``[gateway]`` table; other tables are left
    to their own readers). Relative paths are taken from ``base`` (the file's folder)."""
    base = base or Path(".")
    g = data.get("gateway")
    if not isinstance(g, dict):
        raise ConfigError(f"{source}: no [gateway] table")
    r = _Reader(g, f"{source}: [gateway]", _GATEWAY_KEYS)
    tls = None
    if "tls" in g:
        if not isinstance(g["tls"], dict):
            raise ConfigError(f"{source}: [gateway] tls must be a table ([gateway.tls])")
        rt = _Reader(g["tls"], f"{source}: [gateway.tls]", _TLS_KEYS)
        tls = TlsConfig(_resolve(base, rt.text("cert_file", required=True)),
                        _resolve(base, rt.text("key_file", required=True)),
                        _resolve(base, rt.text("ca_file")) if "ca_file" in g["tls"] else None)
    raw = g.get("sessions")
    if not isinstance(raw, list) or not raw:
        raise ConfigError(f"{source}: no [[gateway.sessions]] entry")
    sessions, seen = [], {}
    for i, t in enumerate(raw, 1):
        name = t.get("target_comp_id", "?") if isinstance(t, dict) else "?"
        s = _session(t, f"{source}: [[gateway.sessions]] #{i} ({name})", base)
        if s.key in seen:
            raise ConfigError(f"{source}: [[gateway.sessions]] #{i} repeats session {s.key} (#{seen[s.key]})")
        seen[s.key] = i
        sessions.append(s)
    return GatewayConfig(
        sessions=tuple(sessions), host=r.text("host", "127.0.0.1"), port=r.integer("port", 0, 0, 65535),
        store_dir=_resolve(base, r.text("store_dir", "var/gateway/fix")), tls=tls,
        logon_timeout_s=r.number("logon_timeout_s", 10.0, 0.1),
        logout_timeout_s=r.number("logout_timeout_s", 5.0, 0.1),
        max_sending_time_skew_s=r.number("max_sending_time_skew_s", 120.0, 0, zero_is_none=True))


def load_config(path) -> GatewayConfig:
    """Read and check a gateway TOML file; ``ConfigError`` names the key at fault."""
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text())
    except OSError as e:
        raise ConfigError(f"{p}: {e.strerror or e}") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{p}: not valid TOML: {e}") from None
    return parse_config(data, str(p), p.parent)


# ---------------------------------------------------------------------- sessions
class GatewaySession(FixSession):
    """A ``FixSession`` with the gateway's Logon policy (heartbeat bounds, reset policy)
    checked after the session's own CompID and credential checks."""

    def __init__(self, spec: SessionSpec, config: SessionConfig, store: SessionStore) -> None:
        super().__init__(config, store)
        self.spec = spec

    def _on_logon(self, msg: FixMessage, seq: int, now: float) -> None:
        s, c = self.spec, self.config
        if msg.msg_type == "A" and self._comp_ids_ok(msg) \
                and (c.username is None or msg.get_str(553) == c.username) \
                and (c.password is None or msg.get_str(554) == c.password):
            try:
                hb = msg.get_int(108)
            except FixError:
                hb = None   # the session answers a malformed HeartBtInt itself
            if hb is not None and hb >= 0 and not s.heartbeat_min_s <= hb <= s.heartbeat_max_s:
                return self._logout_and_disconnect(
                    f"HeartBtInt {hb} out of bounds: must be {s.heartbeat_min_s} to {s.heartbeat_max_s}", now)
            reset = msg.get(141) == b"Y"
            if reset and s.reset_on_logon == RESET_REFUSE:
                return self._logout_and_disconnect("ResetSeqNumFlag(141)=Y not accepted on this session", now)
            if not reset and s.reset_on_logon == RESET_ALWAYS:
                fields = list(msg.fields)
                fields.insert(len(fields) - 1, (141, b"Y"))   # before CheckSum (10)
                msg = FixMessage(fields, msg.raw)
        return super()._on_logon(msg, seq, now)


class FixApplication(Protocol):
    def on_logon(self, key: str, now: float) -> None: ...

    def on_logout(self, key: str, reason: str, now: float) -> None: ...

    def on_app(self, key: str, msg: FixMessage, now: float) -> None: ...


class _Conn:
    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        peer = writer.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)

    def send(self, data: bytes) -> None:
        if self.writer.is_closing():
            return
        self.writer.write(data)
        if self.writer.transport.get_write_buffer_size() > MAX_WRITE_BUFFER:
            log.warning("FIX %s: not reading (over %d bytes unsent), dropped", self.peer, MAX_WRITE_BUFFER)
            self.writer.transport.abort()

    def close(self) -> None:
        if not self.writer.is_closing():
            self.writer.close()


@dataclass
class Link:
    """One configured session and its current connection."""
    spec: SessionSpec
    session: GatewaySession
    decoder: OrderDecoder | None = None   # the batch path, for an application that takes commands
    conn: _Conn | None = None
    was_logged_on: bool = False       # during the current connection
    logons: int = 0
    close_reason: str | None = None   # the session asked to disconnect, and why

    @property
    def key(self) -> str:
        return self.spec.key


class FixAcceptor:
    """Many FIX sessions (acceptor role) behind one listening socket; see the module doc."""

    def __init__(self, config: GatewayConfig, app: FixApplication | None = None, tick_s: float = 0.1,
                 store_factory: Callable[[SessionSpec], SessionStore] | None = None) -> None:
        """``app`` may be set later (``acceptor.app = ...``), before ``start()``.
        ``store_factory`` replaces the LMDB stores under ``store_dir`` (tests)."""
        self.config, self.app, self.tick_s = config, app, tick_s
        self.port = config.port
        self.links: dict[str, Link] = {}
        self._route: dict[tuple[str, str, str], Link] = {}   # (BeginString, their CompID, ours) -> link
        self._lock_fd: int | None = None
        self._stores_closed = False
        self.final_status: list[dict] | None = None   # status() at close, after the Logouts
        if store_factory is None:
            self._lock_store_dir()
        make_store = store_factory or self._lmdb_store
        try:
            for spec in config.sessions:
                sc = SessionConfig(spec.sender_comp_id, spec.target_comp_id, role=ACCEPTOR,
                                   begin_string=spec.begin_string, username=spec.username,
                                   password=spec.password, logon_timeout_s=config.logon_timeout_s,
                                   logout_timeout_s=config.logout_timeout_s,
                                   max_sending_time_skew_s=config.max_sending_time_skew_s)
                link = Link(spec, GatewaySession(spec, sc, make_store(spec)))
                self.links[spec.key] = link
                self._route[(spec.begin_string, spec.target_comp_id, spec.sender_comp_id)] = link
        except BaseException:
            self._close_stores()
            raise
        self.counters = None   # the application's Counters (counters.GATEWAY), if it keeps them
        self._server: asyncio.base_events.Server | None = None
        self._tasks: set[asyncio.Task] = set()
        self._ticker: asyncio.Task | None = None
        self._closing = False

    def _lock_store_dir(self) -> None:
        """One process per store directory: two gateways serving the same sessions would
        hand out the same sequence numbers. The lock goes with the process (SIGKILL too)."""
        d = Path(self.config.store_dir)
        d.mkdir(parents=True, exist_ok=True)
        fd = os.open(d / "gateway.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise StoreInUse(f"store_dir {d} is in use by another gateway process") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._lock_fd = fd

    def _close_stores(self) -> None:
        if self._stores_closed:
            return
        self._stores_closed = True
        for link in self.links.values():
            link.session.store.close()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def send_encoded(self, key: str, encode: Callable[[int, str], tuple[bytes, object]]) -> None:
        """Send application messages encoded outside the session: ``encode(first_seq,
        sending_time)`` returns (bytes, end offset of each message)."""
        link = self.links[key]
        now = time.monotonic()
        first_seq, stamp = link.session.next_header()
        raw, ends = encode(first_seq, stamp)
        link.session.send_encoded(first_seq, raw, ends, now)
        self._flush(link, now)

    def _lmdb_store(self, spec: SessionSpec) -> SessionStore:
        return LmdbStore(Path(self.config.store_dir) / spec.begin_string / spec.sender_comp_id
                         / spec.target_comp_id)

    # ------------------------------------------------------------------ for the application
    def send_app(self, key: str, msg_type: str, fields) -> int:
        """Send an application message on a session (stored for resend while it is down);
        returns its MsgSeqNum. ``KeyError`` for an unknown session."""
        link = self.links[key]
        now = time.monotonic()
        seq = link.session.send_app(msg_type, fields, now)
        self._flush(link, now)
        return seq

    def reject(self, key: str, msg: FixMessage, reason: int, tag: int | None = None, text: str | None = None) -> None:
        """Session-level Reject (35=3) of a received application message."""
        link = self.links[key]
        now = time.monotonic()
        link.session.reject(msg, reason, tag, text, now)
        self._flush(link, now)

    def logout(self, key: str, text: str | None = None) -> None:
        link = self.links[key]
        now = time.monotonic()
        link.session.logout(text, now)
        self._flush(link, now)

    def is_logged_on(self, key: str) -> bool:
        link = self.links[key]
        return link.conn is not None and link.session.logged_on

    def status(self) -> list[dict]:
        return [{"key": k, "connected": link.conn is not None, "state": link.session.state,
                 "next_sender_seq": link.session.store.next_sender_seq,
                 "next_target_seq": link.session.store.next_target_seq} for k, link in self.links.items()]

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> int:
        ctx = self.config.tls.context() if self.config.tls else None
        self._server = await asyncio.start_server(self._serve, self.config.host, self.config.port, ssl=ctx)
        self.port = self._server.sockets[0].getsockname()[1]
        self._ticker = asyncio.create_task(self._tick_loop())
        return self.port

    async def close(self) -> None:
        """Stop accepting, log out every logged-on session and wait for the answers (at most
        ``logout_timeout_s``), then close what is left and the stores."""
        self._closing = True
        if self._server is not None:
            self._server.close()
        now = time.monotonic()
        for link in self.links.values():
            if link.conn is not None:
                if link.session.logged_on:
                    link.session.logout("gateway shutting down", now)
                    self._flush(link, now)
                else:
                    link.conn.close()
        deadline = now + self.config.logout_timeout_s + self.tick_s
        while any(link.conn is not None for link in self.links.values()) and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        for link in self.links.values():
            if link.conn is not None:
                link.conn.close()
        if self._ticker is not None:
            self._ticker.cancel()
        for t in list(self._tasks):
            t.cancel()
        await asyncio.gather(*self._tasks, *([self._ticker] if self._ticker else []), return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
        self.final_status = self.status()
        self._close_stores()

    async def _tick_loop(self) -> None:
        while True:
            await asyncio.sleep(self.tick_s)
            now = time.monotonic()
            for link in self.links.values():
                if link.conn is not None:
                    link.session.tick(now)
                    self._flush(link, now)
                link.session.store.flush()   # the stores sync in batches (store.py)

    # ------------------------------------------------------------------ plumbing
    def _flush(self, link: Link, now: float) -> None:
        """Deliver application messages, write pending bytes, act on session events."""
        s = link.session
        for _ in range(1000):   # an application answering inside on_app can make more work
            apps = s.take_app()
            for msg in apps:
                self._call_app(link, msg, now)
            data = s.take_outgoing()
            if data and link.conn is not None:
                link.conn.send(data)
            events = s.take_events()
            for ev in events:
                self._event(link, ev.kind, ev.reason, now)
            if not apps and not data and not events:
                break

    def _call_app(self, link: Link, msg: FixMessage, now: float) -> None:
        try:
            self.app.on_app(link.key, msg, now)
        except Exception:   # one bad message must not take the gateway down; the client is told
            log.exception("FIX %s: application failed on %r", link.key, msg)
            link.session.send_app("j", [(45, msg.get(34) or b"0"), (372, msg.get(35)), (380, 0),
                                        (58, "internal error")], now)

    def _event(self, link: Link, kind: str, reason: str, now: float) -> None:
        if kind == LOGGED_ON:
            link.was_logged_on = True
            link.logons += 1
            log.info("FIX %s: logged on from %s (HeartBtInt %s)", link.key, link.conn.peer if link.conn else "?",
                     link.session.heartbeat_s)
            try:
                self.app.on_logon(link.key, now)
            except Exception:
                log.exception("FIX %s: application failed on logon", link.key)
        elif kind == LOGGED_OUT:
            log.info("FIX %s: logout %s", link.key, reason)
        elif kind == REJECT_RECEIVED:
            log.warning("FIX %s: Reject received: %s", link.key, reason)
        elif kind == DISCONNECT:
            log.info("FIX %s: disconnect: %s", link.key, reason)
            link.close_reason = link.close_reason or reason
            if link.conn is not None:
                link.conn.close()

    def _attach(self, msg: FixMessage, conn: _Conn, now: float) -> Link | None:
        link = self._route.get((msg.begin_string, msg.get_str(49, ""), msg.get_str(56, "")))
        if msg.msg_type != "A" or link is None:
            log.warning("FIX %s: connection refused: first message names no configured session: %r",
                        conn.peer, msg)
            return None
        if self._closing:
            return None
        if link.conn is not None:
            log.warning("FIX %s: connection from %s refused: the session is already connected from %s",
                        link.key, conn.peer, link.conn.peer)
            return None
        link.conn, link.was_logged_on, link.close_reason = conn, False, None
        if link.decoder is None and hasattr(self.app, "on_commands"):
            s = link.spec
            link.decoder = OrderDecoder(s.begin_string, s.target_comp_id, s.sender_comp_id, s.client_id, s.account,
                                        self.config.max_sending_time_skew_s)
        link.session.connected(now)
        return link

    def _detach(self, link: Link, conn: _Conn, reason: str) -> None:
        if link.conn is not conn:
            return
        now = time.monotonic()
        self._flush(link, now)
        reason = link.close_reason or reason
        link.session.disconnected(now)
        link.conn = None
        conn.close()
        if link.was_logged_on:
            link.was_logged_on = False
            try:
                self.app.on_logout(link.key, reason, now)
            except Exception:
                log.exception("FIX %s: application failed on logout", link.key)

    def _receive_batch(self, link: Link, framer: FixFramer, data: bytes, now: float) -> bytes:
        """The batch path of one read: runs of plain orders in sequence go to the
        application as commands, every other framed message through the session, in
        order. Returns what the decoder did not frame (an incomplete message, junk) for
        the framer."""
        buf = framer.take_buffer() + data
        dec, session = link.decoder, link.session
        now_us = int(session.clock().timestamp() * 1_000_000)
        count, used, _ = dec.decode(buf, session.store.next_target_seq, now_us)
        if count:
            fast = dec.fast[:count]
            cuts = [0, *(np.flatnonzero(np.diff(fast)) + 1).tolist(), count]
            for a, b in zip(cuts, cuts[1:]):
                first = int(dec.seqs[a])
                if fast[a] and session.take_in_sequence(first, b - a, now):
                    self._call_commands(link, dec, a, b, buf, now)
                    continue
                for k in range(a, b):
                    try:
                        msg = parse(buf[dec.starts[k]:dec.ends[k]])
                    except FixError as e:   # framed and summed right, but not tag=value inside
                        self._garbled(link.key, str(e))
                        continue
                    session.on_message(msg, now)
                    self._flush(link, now)
        return buf[used:]

    def _garbled(self, who: str, why: str) -> None:
        log.warning("FIX %s: garbled input dropped: %s", who, why)
        if self.counters is not None:
            self.counters.add("garbled_dropped")

    def _call_commands(self, link: Link, dec: OrderDecoder, a: int, b: int, buf: bytes, now: float) -> None:
        try:
            self.app.on_commands(link.key, dec.commands(a, b), int(dec.seqs[a]), now)
        except Exception:   # as _call_app: the client is told each of them failed
            log.exception("FIX %s: application failed on %d orders", link.key, b - a)
            for k in range(a, b):
                msg = parse(buf[dec.starts[k]:dec.ends[k]])
                link.session.send_app("j", [(45, msg.get(34)), (372, msg.get(35)), (380, 0),
                                            (58, "internal error")], now)
        self._flush(link, now)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        self._tasks.add(task)
        conn = _Conn(writer)
        framer = FixFramer()
        link: Link | None = None
        reason = "connection closed by the counterparty"
        deadline = time.monotonic() + self.config.logon_timeout_s
        try:
            while True:
                if link is None:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        log.warning("FIX %s: no Logon within %ss, closed", conn.peer, self.config.logon_timeout_s)
                        return
                    try:
                        data = await asyncio.wait_for(reader.read(65536), left)
                    except asyncio.TimeoutError:
                        continue
                else:
                    data = await reader.read(READ_SIZE)
                if not data:
                    break
                now = time.monotonic()
                if link is not None and link.decoder is not None:
                    data = self._receive_batch(link, framer, data, now)
                for msg in framer.feed(data):
                    if link is None:
                        link = self._attach(msg, conn, now)
                        if link is None:
                            return
                    link.session.on_message(msg, now)
                    self._flush(link, now)
                if framer.garbled:   # dropped, as the session layer requires; logged here
                    for why in framer.garbled:
                        self._garbled(link.key if link else conn.peer, why)
                    framer.garbled.clear()
                if link is not None and link.close_reason is not None:
                    break
        except (ConnectionError, OSError, ssl.SSLError) as e:
            reason = f"connection lost: {e}"
            log.warning("FIX %s: %s", link.key if link else conn.peer, reason)
        except asyncio.CancelledError:
            reason = "gateway closing"
            raise
        finally:
            self._tasks.discard(task)
            if link is not None:
                self._detach(link, conn, reason)
            conn.close()


# ---------------------------------------------------------------------- process shell
async def serve(config: GatewayConfig, app_factory: Callable[[FixAcceptor], FixApplication],
                stop: asyncio.Event, announce: Callable[[str], None] = print, mode: str = "") -> FixAcceptor:
    """Run an acceptor until ``stop`` is set: build the application with
    ``app_factory(acceptor)``, listen, announce one JSON line, then log out and close."""
    acceptor = FixAcceptor(config)
    acceptor.app = app_factory(acceptor)   # the application needs the acceptor to answer
    port = await acceptor.start()
    hello = {"gateway": "fix", "host": config.host, "port": port, "tls": config.tls is not None,
             "sessions": [s.key for s in config.sessions]}
    if mode:
        hello["mode"] = mode
    announce(json.dumps(hello))
    try:
        await stop.wait()
    finally:
        await acceptor.close()
    return acceptor


def run(config_path, app_factory: Callable[[FixAcceptor], FixApplication], mode: str = "",
        announce: Callable[[str], None] | None = None) -> int:
    """The process: load the config (exit 2 naming the fault), serve until SIGTERM / SIGINT
    (every connected session is logged out first), exit 0."""
    try:
        config = load_config(config_path)
        for spec in config.sessions if mode == "orders" else ():
            missing = [k for k in ("account", "client_id", "source_id") if not getattr(spec, k)]
            if missing:   # reports carry the account; commands the client and the source
                raise ConfigError(f"{config_path}: session {spec.key}: the order gateway needs "
                                  f"{', '.join(missing)}")
        if config.tls is not None:
            config.tls.context()   # unreadable certificate or key: say so before listening
    except (ConfigError, OSError, ssl.SSLError) as e:
        print(f"gateway fix: {e}", file=sys.stderr)
        return 2
    # StoreInUse, LMDB and listening errors come from serve()
    out = announce or (lambda line: print(line, flush=True))

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        acceptor = await serve(config, app_factory, stop, out, mode)
        out(json.dumps({"gateway": "fix", "stopped": True, "sessions": acceptor.final_status}))

    try:
        asyncio.run(main(), loop_factory=uvloop.new_event_loop)   # libuv: fewer µs per read and write
    except (StoreInUse, OSError, lmdb.Error) as e:   # the port is taken, the store is in use or unwritable
        print(f"gateway fix: {e}", file=sys.stderr)
        return 1
    return 0


