"""QuickFIX against the order gateway (`make interop`): a QuickFIX initiator logs on to
`tandem gateway fix` in front of a sequencer and a simulated venue, sends orders, a
replace and a cancel, and receives ExecutionReports QuickFIX accepts, with the values
the core decided (FIX 4.2 and 4.4)."""

import json
import signal
import subprocess
from pathlib import Path

import pytest

from sequencer import records as R
from tandem.demo import cli
from tests.e2e.venue_testkit import Rig
from tests.interop.test_quickfix import assert_clean
from venues.config import DEFAULT_VENUES

pytestmark = pytest.mark.interop

XNAS = dict(DEFAULT_VENUES[0], users={"OTHR01": "other"})
PX = 100 * R.PRICE_SCALE
SESSION = {"FIX.4.4": ("QF44", "QF44ACCT", 1, 401), "FIX.4.2": ("QF42", "QF42ACCT", 2, 402)}


def gateway_config(tmp_path: Path) -> Path:
    p = tmp_path / "fix.toml"
    p.write_text(f'[gateway]\nhost = "127.0.0.1"\nport = 0\nstore_dir = "{tmp_path / "store"}"\n' + "".join(
        f'[[gateway.sessions]]\nbegin_string = "{b}"\nsender_comp_id = "TANDEM"\ntarget_comp_id = "{t}"\n'
        f'account = "{a}"\nclient_id = {c}\nsource_id = {s}\nheartbeat_min_s = 1\ncancel_on_disconnect = false\n'
        for b, (t, a, c, s) in SESSION.items()))
    return p


@pytest.mark.parametrize("begin", ["FIX.4.4", "FIX.4.2"])
def test_quickfix_orders_fills_replace_cancel(qf, tmp_path, begin):
    target, account, client_id, _ = SESSION[begin]
    rig = Rig(tmp_path, {"AAA": 1}, {"AAA": PX}, venues=[XNAS])
    rig.client.reference_data({"AAA": 1}, {"AAA": PX}, [XNAS], clients=2)
    rig.wait_sequenced(1)
    rig.stack.start()
    gw = subprocess.Popen(cli("gateway", "fix", "--config", str(gateway_config(tmp_path)), "--core-config",
                              str(rig.cfg_path)), stdout=subprocess.PIPE, stderr=rig.stack.logs, text=True)
    c = None
    try:
        port = json.loads(gw.stdout.readline())["port"]
        c = qf.QuickFixClient(tmp_path / "qf", port, begin, target, "TANDEM", heartbeat_s=5)
        c.start()
        c.wait_logon()
        ers = lambda cl, status: c.app.wait_received(  # noqa: E731
            lambda m: m.msg_type == "8" and m.get_str(11) == cl and m.get_str(39) == status, timeout=20,
            what=f"ExecutionReport {cl} OrdStatus {status}")
        order = c.new_order("AAA", "1", 300, "100", account=account)
        new = ers(order.clordid, "0")
        assert (new.get_str(150), new.get_str(151), new.get_str(14), new.get_str(1)) == ("0", "300", "0", account)
        assert (new.get_str(20) == "0") == (begin == "FIX.4.2")      # ExecTransType: 4.2 only
        # another firm sells 100 into the order at the venue
        other = rig.other_firm()
        other.order("S1", "S", 100, PX)
        fill = ers(order.clordid, "1")
        assert fill.get_str(150) == ("F" if begin == "FIX.4.4" else "1")
        assert (fill.get_str(32), fill.get_str(31), fill.get_str(151), fill.get_str(14)) == ("100", "100", "200", "100")
        rpl = c.replace(order, 250, "100")
        rep = ers(rpl, "1")
        assert (rep.get_str(150), rep.get_str(41), rep.get_str(151)) == ("5", order.clordid, "150")
        order.advance(rpl, 250, "100")
        cxl = c.cancel(order)
        cx = ers(cxl, "4")
        assert (cx.get_str(150), cx.get_str(41), cx.get_str(151), cx.get_str(14)) == ("4", rpl, "0", "100")
        bad = c.new_order("ZZZ", "1", 10, "1", account=account)
        rej = ers(bad.clordid, "8")
        assert rej.get_str(58) == "unknown symbol"
        other.close()
        c.stop()
        assert_clean(c)
    finally:
        if c is not None:
            c.stop()
        if gw.poll() is None:
            gw.send_signal(signal.SIGTERM)
            gw.wait(timeout=20)
        rig.close()
