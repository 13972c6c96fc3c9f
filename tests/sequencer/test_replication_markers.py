"""The business logic's side of replication: epochs, replication down/up, divergence alerts.

These are Admin records the sequencer writes itself; the kernels turn them into state
(so a replay, a snapshot and the standby agree) and alerts, and refuse new risk while
no standby holds the journal under the reject policy.
"""

import numpy as np

from sequencer import records as R
from sequencer.intake import admit

from seq_testkit import PX, Harness, admin, cancel, new_order, replace, text


def alert(events, code):
    found = [e for e in events if e["type"] == R.ALERT and e["code"] == code]
    assert found, f"no alert {code} in {[int(e['type']) for e in events]}"
    return found[0]


def test_epoch_is_state_and_history():
    h = Harness()
    ev = h.send(admin(R.ADMIN_EPOCH, target_id=2, v0=1))
    a = alert(ev, R.REASON_EPOCH)
    assert (a["a"], a["b"]) == (1, 2)
    assert h.state.epoch == 1 and h.state.epoch_first_seq(1) == h.seq
    first = h.seq
    h.send(new_order("O1"))
    h.send(admin(R.ADMIN_EPOCH, target_id=1, v0=2))
    assert h.state.epoch == 2 and h.state.epoch_first_seq(1) == first
    assert h.state.epoch_first_seq(2) == h.seq
    # An epoch never goes back: a stale one is an invalid admin command.
    ev = h.send(admin(R.ADMIN_EPOCH, target_id=9, v0=2))
    alert(ev, R.REASON_INVALID_ADMIN)
    assert h.state.epoch == 2 and h.state.epochs["node_id"][2] == 1


def test_reject_policy_refuses_new_risk_but_passes_cancels():
    h = Harness()
    oid = h.open_order("O1")
    ev = h.send(admin(R.ADMIN_REPLICATION, v0=R.REPLICATION_DOWN, v1=R.POLICY_REJECT_NEW, v2=h.seq + 1))
    a = alert(ev, R.REASON_REPLICATION_DOWN)
    assert a["severity"] == R.SEVERITY_ERROR and a["b"] == R.POLICY_REJECT_NEW
    assert h.state.replication_down
    (er,) = h.send(new_order("O2"))
    assert chr(er["exec_type"]) == "8" and er["reason"] == R.REASON_NOT_REPLICATED
    (cr,) = h.send(replace("R1", order_id=oid, orig_cl_ord_id="O1"))
    assert cr["type"] == R.CANCEL_REJECT and cr["reason"] == R.REASON_NOT_REPLICATED
    ev = h.send(cancel("X1", order_id=oid, orig_cl_ord_id="O1"))
    assert [int(e["type"]) for e in ev] == [R.EXEC_REPORT, R.VENUE_CANCEL]
    ev = h.send(admin(R.ADMIN_REPLICATION, v0=R.REPLICATION_UP))
    alert(ev, R.REASON_REPLICATION_UP)
    assert not h.state.replication_down
    er, vo = h.send(new_order("O3"))
    assert chr(er["exec_type"]) == "A" and vo["type"] == R.VENUE_ORDER


def test_degrade_policy_keeps_trading_and_marks_the_range():
    h = Harness()
    h.send(admin(R.ADMIN_REPLICATION, v0=R.REPLICATION_DOWN, v1=R.POLICY_DEGRADE, v2=7))
    er, vo = h.send(new_order("O1"))
    assert chr(er["exec_type"]) == "A"
    from sequencer.state import S_REPL_DOWN_SEQ
    assert h.state.replication_down and h.state.scalars[S_REPL_DOWN_SEQ] == 7


def test_divergence_alert_names_the_seq():
    h = Harness()
    ev = h.send(admin(R.ADMIN_STANDBY_DIVERGED, target_id=2, v0=500, v1=0x1234))
    a = alert(ev, R.REASON_STANDBY_DIVERGED)
    assert (a["a"], a["b"]) == (500, 0x1234)
    assert R.REASON_TEXT[R.REASON_STANDBY_DIVERGED].startswith("standby")


def test_markers_change_the_digest():
    a, b = Harness(), Harness()
    b.send(admin(R.ADMIN_REPLICATION, v0=R.REPLICATION_DOWN, v1=R.POLICY_DEGRADE, v2=1))
    a.send(admin(R.ADMIN_DIGEST))
    assert a.state.digest() != b.state.digest()


def test_nobody_but_the_sequencer_writes_markers():
    raw = np.concatenate([
        R.admin_command(R.ADMIN_EPOCH, v0=5),
        R.admin_command(R.ADMIN_REPLICATION, v0=R.REPLICATION_UP),
        R.admin_command(R.ADMIN_STANDBY_DIVERGED, v0=1),
        R.admin_command(R.ADMIN_DIGEST),
    ])
    batch, invalid, dups, gaps = admit(raw, np.zeros(16, np.uint64))
    assert invalid == 3 and len(batch) == 1
    assert batch.view(R.Admin)["action"][0] == R.ADMIN_DIGEST
    assert text(R.admin_command(R.ADMIN_DIGEST, operator="ops").view(R.Admin)["operator"][0]) == "ops"
