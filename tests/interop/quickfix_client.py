"""A QuickFIX initiator for interop tests against Tandem's FIX acceptor.

``QuickFixClient`` writes a QuickFIX settings file for one session (FileStore and FileLog
under a working directory), starts a ``SocketInitiator`` and
collects everything the session sends and receives. Its ``Recorder`` application keeps
every message as Tandem's own ``FixMessage`` (parsed from QuickFIX's wire string), so
tests check fields with the same accessors as everywhere else, and waits for them
thread-safely (QuickFIX calls back on its own thread).

Order entry helpers build NewOrderSingle (D), OrderCancelRequest (F) and
OrderCancelReplaceRequest (G) with the fields FIX 4.2 and 4.4 require, so the same client
drives the echo mode now and the order gateway later. QuickFIX runs without a data
dictionary (``UseDataDictionary=N``): the tests check content themselves.

Needs the ``quickfix`` package (``pip install -e '.[interop]'``, built from source). The
PyPI build has no SSL (``SSLSocketInitiator`` answers "HAVE_SSL not enabled"), so TLS is
not tried with QuickFIX; tests/gateways/test_fix_echo.py covers it with Python's ssl.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import quickfix as fix

from gateways.fix.codec import FixMessage, parse

__all__ = ["QuickFixClient", "Recorder", "Order"]


def _utc() -> str:
    t = datetime.now(timezone.utc)
    return t.strftime("%Y%m%d-%H:%M:%S") + f".{t.microsecond // 1000:03d}"


def _copy(message: fix.Message) -> FixMessage:
    """QuickFIX's message object lives only for the callback: keep a parsed copy."""
    return parse(message.toString().encode("ascii"))


class Recorder(fix.Application):
    """Every message in and out, by direction; logon / logout callbacks counted."""

    def __init__(self, username: str | None = None, password: str | None = None) -> None:
        super().__init__()
        self.username, self.password = username, password
        self.cond = threading.Condition()
        self.received: list[FixMessage] = []      # admin and application, in arrival order
        self.sent: list[FixMessage] = []
        self.logons = 0
        self.logouts = 0
        self.session_id: fix.SessionID | None = None

    # QuickFIX callbacks (on QuickFIX's thread) ---------------------------------------
    def onCreate(self, sessionID):
        self.session_id = sessionID

    def onLogon(self, sessionID):
        with self.cond:
            self.logons += 1
            self.cond.notify_all()

    def onLogout(self, sessionID):
        with self.cond:
            self.logouts += 1
            self.cond.notify_all()

    def toAdmin(self, message, sessionID):
        if message.getHeader().getField(35) == "A":
            if self.username:
                message.setField(553, self.username)
            if self.password:
                message.setField(554, self.password)
        self._keep(self.sent, message)

    def fromAdmin(self, message, sessionID):
        self._keep(self.received, message)

    def toApp(self, message, sessionID):
        self._keep(self.sent, message)

    def fromApp(self, message, sessionID):
        self._keep(self.received, message)

    def _keep(self, where: list, message) -> None:
        m = _copy(message)
        with self.cond:
            where.append(m)
            self.cond.notify_all()

    # for the test's thread ------------------------------------------------------------
    def wait(self, pred: Callable[[], object], timeout: float = 10.0, what: str = "condition"):
        with self.cond:
            if not self.cond.wait_for(pred, timeout):
                raise AssertionError(f"QuickFIX client: timed out waiting for {what}; received "
                                     f"{self.received}")
            return pred()

    def wait_received(self, pred: Callable[[FixMessage], bool], timeout: float = 10.0, what: str = "a message",
                      after: int = 0) -> FixMessage:
        """The first received message (from index ``after``) satisfying ``pred``."""
        def found():
            return next((m for m in self.received[after:] if pred(m)), None)
        return self.wait(found, timeout, what)

    def of_type(self, msg_type: str, where: list | None = None) -> list[FixMessage]:
        with self.cond:
            return [m for m in (self.received if where is None else where) if m.msg_type == msg_type]


@dataclass
class Order:
    """What the client knows of one order chain."""
    clordid: str
    symbol: str
    side: str
    qty: int
    price: str | None
    ord_type: str = "2"
    account: str | None = None
    history: list[str] = field(default_factory=list)   # earlier ClOrdIDs of the chain

    def advance(self, clordid: str, qty: int | None = None, price: str | None = None) -> None:
        """A cancel or replace was accepted: ``clordid`` is now the order's."""
        self.history.append(self.clordid)
        self.clordid = clordid
        if qty is not None:
            self.qty = qty
        if price is not None:
            self.price = price


class QuickFixClient:
    """One QuickFIX initiator session: ``start()``, ``wait_logon()``, orders, ``stop()``."""

    def __init__(self, workdir: Path, port: int, begin_string: str, sender_comp_id: str, target_comp_id: str,
                 heartbeat_s: int = 30, username: str | None = None, password: str | None = None,
                 reset_on_logon: bool = False, extra: dict | None = None) -> None:
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.begin_string = begin_string
        self.app = Recorder(username, password)
        settings = {
            "ConnectionType": "initiator",
            "BeginString": begin_string,
            "SenderCompID": sender_comp_id,
            "TargetCompID": target_comp_id,
            "SocketConnectHost": "127.0.0.1",
            "SocketConnectPort": str(port),
            "HeartBtInt": str(heartbeat_s),
            "ReconnectInterval": "1",
            "StartTime": "00:00:00",
            "EndTime": "00:00:00",
            "UseDataDictionary": "N",
            "ResetOnLogon": "Y" if reset_on_logon else "N",
            "FileStorePath": str(self.workdir / "store"),
            "FileLogPath": str(self.workdir / "log"),
            "LogoutTimeout": "5",
        }
        settings.update(extra or {})
        self.settings_path = self.workdir / "quickfix.cfg"
        lines = ["[DEFAULT]"] + [f"{k}={v}" for k, v in settings.items() if k not in
                                 ("BeginString", "SenderCompID", "TargetCompID")]
        lines += ["", "[SESSION]"] + [f"{k}={settings[k]}" for k in ("BeginString", "SenderCompID", "TargetCompID")]
        self.settings_path.write_text("\n".join(lines) + "\n")
        self.session_id = fix.SessionID(begin_string, sender_comp_id, target_comp_id)
        self.initiator = None
        self._seq = 0

    # session ---------------------------------------------------------------------------
    def create(self) -> None:
        """Build the initiator (sessions exist, not connected yet)."""
        s = fix.SessionSettings(str(self.settings_path))
        self._settings = s
        self._store = fix.FileStoreFactory(s)
        self._log = fix.FileLogFactory(s)
        self.initiator = fix.SocketInitiator(self.app, self._store, s, self._log)

    def start(self) -> None:
        if self.initiator is None:
            self.create()
        self.initiator.start()

    def session(self) -> fix.Session:
        return fix.Session.lookupSession(self.session_id)

    def wait_logon(self, timeout: float = 10.0, count: int = 1) -> None:
        self.app.wait(lambda: self.app.logons >= count, timeout, f"logon #{count}")

    def stop(self, timeout: float = 10.0) -> None:
        """Log out (QuickFIX sends Logout and waits for the answer) and stop."""
        if self.initiator is not None:
            self.initiator.stop()
            self.initiator = None

    def event_log(self) -> str:
        """QuickFIX's event log of the session (its own view of errors and rejects)."""
        return "\n".join(p.read_text(errors="replace") for p in sorted((self.workdir / "log").glob("*.event*.log")))

    # order entry ---------------------------------------------------------------------------
    def _message(self, msg_type: str) -> fix.Message:
        m = fix.Message()
        m.getHeader().setField(fix.BeginString(self.begin_string))
        m.getHeader().setField(fix.MsgType(msg_type))
        return m

    def send(self, message: fix.Message) -> None:
        if not fix.Session.sendToTarget(message, self.session_id):
            raise RuntimeError("QuickFIX refused to send (session not found or not logged on)")

    def send_fields(self, msg_type: str, fields) -> None:
        """Any message type with the given body fields (tag, value) in order."""
        m = self._message(msg_type)
        for tag, value in fields:
            m.setField(int(tag), str(value))
        self.send(m)

    def next_clordid(self, prefix: str = "QF") -> str:
        self._seq += 1
        return f"{prefix}{int(time.time()) % 100000:05d}-{self._seq}"

    def new_order(self, symbol: str, side: str, qty: int, price: str | None = None, clordid: str | None = None,
                  account: str | None = None, tif: str = "0", ord_type: str | None = None) -> Order:
        o = Order(clordid or self.next_clordid(), symbol, side, qty, price, ord_type or ("2" if price else "1"),
                  account)
        fields = [(11, o.clordid)]
        if account:
            fields.append((1, account))
        fields += [(21, "1"), (55, symbol), (54, side), (60, _utc()), (38, qty), (40, o.ord_type)]
        if price is not None:
            fields.append((44, price))
        fields.append((59, tif))
        self.send_fields("D", fields)
        return o

    def cancel(self, order: Order, clordid: str | None = None) -> str:
        """Send an OrderCancelRequest; the new ClOrdID (``order.advance`` it once accepted)."""
        new = clordid or self.next_clordid("CX")
        fields = [(41, order.clordid), (11, new)]
        if order.account:
            fields.append((1, order.account))
        fields += [(55, order.symbol), (54, order.side), (60, _utc()), (38, order.qty)]
        self.send_fields("F", fields)
        return new

    def replace(self, order: Order, qty: int, price: str | None = None, clordid: str | None = None) -> str:
        """Send an OrderCancelReplaceRequest; the new ClOrdID (``order.advance`` it once accepted)."""
        new = clordid or self.next_clordid("RP")
        fields = [(41, order.clordid), (11, new)]
        if order.account:
            fields.append((1, order.account))
        fields += [(21, "1"), (55, order.symbol), (54, order.side), (60, _utc()), (38, qty), (40, order.ord_type)]
        px = price if price is not None else order.price
        if px is not None:
            fields.append((44, px))
        self.send_fields("G", fields)
        return new
