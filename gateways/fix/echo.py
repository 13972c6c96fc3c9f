"""Conformance mode: the FIX acceptor with a stand-in application, no sequencer.

``tandem gateway fix --config FILE --echo-app`` runs the gateway's session layer
(``FixAcceptor``: routing, Logon policy, LMDB stores, heartbeats, resends, Logout) behind
this application, so external session-level conformance suites and interop harnesses can
drive the session layer alone:

- NewOrderSingle (35=D) is echoed back as received: the same body fields in the same order,
  under a fresh header written by the session (our CompIDs, the next MsgSeqNum, SendingTime).
- Any other application message gets a BusinessMessageReject (35=j): RefSeqNum 45 = its
  MsgSeqNum, RefMsgType 372 = its MsgType, BusinessRejectReason 380 = 3 (unsupported
  message type) and Text 58.

Session-level messages never reach it: the session layer answers them.
"""

from __future__ import annotations

import logging

from gateways.fix.codec import FixMessage

__all__ = ["EchoApp", "UNSUPPORTED_MESSAGE_TYPE", "main"]

log = logging.getLogger(__name__)

UNSUPPORTED_MESSAGE_TYPE = 3    # BusinessRejectReason (380)


class EchoApp:
    """``send_app(key, msg_type, fields)`` is the acceptor's (or any sender's)."""

    def __init__(self, send_app) -> None:
        self.send_app = send_app
        self.echoed = 0
        self.rejected = 0

    def on_logon(self, key: str, now: float) -> None:
        pass

    def on_logout(self, key: str, reason: str, now: float) -> None:
        pass

    def on_app(self, key: str, msg: FixMessage, now: float) -> None:
        mt = msg.msg_type
        if mt == "D":
            self.send_app(key, "D", msg.body())
            self.echoed += 1
            return
        self.send_app(key, "j", [(45, msg.get(34)), (372, mt), (380, UNSUPPORTED_MESSAGE_TYPE),
                                 (58, f"Unsupported message type {mt}: echo mode answers only NewOrderSingle")])
        self.rejected += 1


def main(config_path, announce=None) -> int:
    """The process behind ``tandem gateway fix --echo-app``; its exit status."""
    from gateways.fix.acceptor import run

    return run(config_path, lambda acceptor: EchoApp(acceptor.send_app), mode="echo", announce=announce)
