"""Every scenario in tests/scenarios passes, and the runner fails clearly when one is wrong."""

from pathlib import Path

import pytest

from sequencer import records as R
from sequencer import scenario as sc

SCENARIOS = sorted((Path(__file__).resolve().parents[1] / "scenarios").glob("*.toml"))


def test_there_are_scenarios():
    assert len(SCENARIOS) >= 5


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_scenario(path):
    result = sc.run_file(path)
    assert result.steps == len(sc.load(path).steps)
    assert result.events > 0 and result.inputs > 0


# A small story the failure tests below break in one place each.
BASE = """
title = "buy 100, filled in two"

[[step]]
say = "setup"
inputs = [
  { type = "Admin", action = "ADD_CLIENT", target_id = 1, v0 = 1000, v1 = "100000", v2 = "1000000", name = "ACC1" },
  { type = "Admin", action = "ADD_SYMBOL", target_id = 1, v0 = "10", v1 = 1, name = "AAPL" },
]
expect = []

[[step]]
say = "buy"
input = { type = "NewOrder", client_id = 1, symbol = "AAPL", side = "buy", ord_type = "limit", price = "10.25", qty = 100, cl_ord_id = "C1" }
expect = [
  { type = "ExecReport", order_id = 1, exec_type = "PENDING_NEW", ord_status = "PENDING_NEW", leaves_qty = 100 },
  { type = "VenueOrder", order_id = 1, price = "10.25", qty = 100 },
]

[[step]]
say = "fills"
inputs = [
  { type = "VenueFill", order_id = 1, venue_exec_id = 1, qty = 40, price = "10.20", venue_id = 1 },
  { type = "VenueFill", order_id = 1, venue_exec_id = 2, qty = 60, price = "10.25", venue_id = 1 },
]
expect = [
  { type = "ExecReport", exec_type = "TRADE", ord_status = "PARTIAL", cum_qty = 40 },
  { type = "Trade", qty = 40, price = "10.20" },
  { type = "ExecReport", exec_type = "TRADE", ord_status = "FILLED", cum_qty = 100, avg_px = "10.23" },
  { type = "Trade", qty = 60, price = "10.25" },
]
state = { "orders.1.status" = "FILLED", "position.1.AAPL" = 100, "clients.1.cash" = "998977" }
"""


def write(tmp_path, text, name="story.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def changed(old, new):
    assert old in BASE, old
    return BASE.replace(old, new, 1)


def failure(tmp_path, text, kind=sc.ScenarioFailure) -> str:
    path = write(tmp_path, text)
    with pytest.raises(kind) as e:
        sc.run_file(path)
    msg = str(e.value)
    assert str(path) in msg, "the report names the file"
    return msg


def test_base_story_passes(tmp_path):
    r = sc.run_file(write(tmp_path, BASE))
    assert (r.steps, r.inputs, r.events, r.title) == (3, 5, 6, "buy 100, filled in two")
    assert r.digest == sc.run(sc.loads(BASE)).digest


# ------------------------------------------------------------------ behaviour that differs
def test_wrong_field_names_step_event_field_and_both_values(tmp_path):
    msg = failure(tmp_path, changed('avg_px = "10.23"', 'avg_px = "10.24"'))
    assert 'step 3 ("fills")' in msg
    assert 'event 2 (ExecReport) avg_px: expected "10.24", got "10.23"' in msg
    # every event of the step, decoded and written as an expectation could be
    assert '{ type = "ExecReport", order_id = 1' in msg and 'ord_status = "FILLED"' in msg


def test_wrong_enum_is_shown_by_name(tmp_path):
    msg = failure(tmp_path, changed('ord_status = "PARTIAL"', 'ord_status = "NEW"'))
    assert 'event 0 (ExecReport) ord_status: expected "NEW", got "PARTIAL"' in msg


def test_missing_event(tmp_path):
    msg = failure(tmp_path, changed('  { type = "VenueOrder", order_id = 1, price = "10.25", qty = 100 },\n', ""))
    assert 'step 2 ("buy")' in msg and "expected 1 event, got 2" in msg


def test_wrong_event_type(tmp_path):
    msg = failure(tmp_path, changed('{ type = "VenueOrder", order_id = 1,', '{ type = "Trade", order_id = 1,'))
    assert "event 1: expected Trade, got VenueOrder" in msg


def test_wrong_state(tmp_path):
    msg = failure(tmp_path, changed('"position.1.AAPL" = 100', '"position.1.AAPL" = 99'))
    assert "state position.1.AAPL: expected 99, got 100" in msg
    msg = failure(tmp_path, changed('"clients.1.cash" = "998977"', '"clients.1.cash" = "998976.99"'))
    assert 'state clients.1.cash: expected "998976.99", got "998977"' in msg
    msg = failure(tmp_path, changed('"orders.1.status"', '"orders.7.status"'))
    assert "state orders.7.status: no order 7 (1 so far)" in msg


def test_determinism_check_catches_a_bad_restore(tmp_path, monkeypatch):
    # A restore that lost the state (a fresh one instead of the snapshot) must be caught.
    monkeypatch.setattr(sc.State, "from_used_arrays", classmethod(lambda cls, d, n: cls.create(sc.Capacity(**sc.DEFAULT_CAPACITY))))
    msg = failure(tmp_path, BASE)
    assert "determinism: restoring the snapshot" in msg and "different events" in msg


# ------------------------------------------------------------------ malformed files
@pytest.mark.parametrize("old, new, words", [
    ('price = "10.25", qty = 100, cl_ord_id', 'px = "10.25", qty = 100, cl_ord_id',
     ["step 2: input: unknown field 'px' of NewOrder"]),
    ('price = "10.25", qty = 100, cl_ord_id', 'price = "10.123456789", qty = 100, cl_ord_id',
     ["step 2: input (NewOrder): field price", "more than 8 decimals"]),
    ('price = "10.25", qty = 100, cl_ord_id', 'price = "1e3", qty = 100, cl_ord_id',
     ["field price", "not a decimal string"]),
    ('price = "10.25", qty = 100, cl_ord_id', 'price = 10.25, qty = 100, cl_ord_id',
     ["field price", "floats are inexact"]),
    ('price = "10.25", qty = 100, cl_ord_id', 'price = 10, qty = 100, cl_ord_id',
     ["field price", "write money as a decimal string"]),
    ('qty = 40, price = "10.20"', 'qty = "40", price = "10.20"',
     ["step 3: input 1 (VenueFill): field qty", "expected an integer"]),
    ('side = "buy"', 'side = "long"', ["field side", "'long' is not one of BUY, SELL, SELL_SHORT"]),
    ('cl_ord_id = "C1"', 'cl_ord_id = "A_CLORDID_OF_21_CHARS"', ["field cl_ord_id", "longer than 20 bytes"]),
    ('{ type = "NewOrder"', '{ type = "NewOrdr"', ["step 2: input: type \"NewOrdr\" is not a command type"]),
    ('exec_type = "PENDING_NEW", ord_status', 'exec_typ = "PENDING_NEW", ord_status',
     ["step 2: expect[0]: unknown field 'exec_typ' of ExecReport"]),
    ('leaves_qty = 100 }', 'leaves_qty = "100" }', ["step 2: expect[0] (ExecReport): field leaves_qty"]),
    ('ord_status = "FILLED"', 'ord_status = 2', ["field ord_status", "quoted FIX character"]),
    ('"orders.1.status" = "FILLED"', '"orders.1.state" = "FILLED"', ["step 3: state", "no field 'state'"]),
    ('"orders.1.status" = "FILLED"', '"order.1.status" = "FILLED"', ["step 3: state", "no state array 'order'"]),
    ('"orders.1.status" = "FILLED"', '"orders.1.status" = "DONE"', ["step 3: state: orders.1.status", "'DONE'"]),
    ('expect = []\n', '', ["step 1: a step with inputs needs expect"]),
    ('say = "buy"\n', 'say = "buy"\nat = "+1 fortnight"\n', ["step 2: at"]),
    ('say = "buy"\n', 'say = "buy"\nat = 5\n', ["step 2: at: the clock goes backwards"]),
    ('say = "fills"\n', 'sya = "fills"\n', ["step 3: unknown key 'sya'"]),
    ('title = "buy 100, filled in two"', 'titel = "x"', ["unknown key 'titel'"]),
    ('venue_exec_id = 1,', 'seq = 9, venue_exec_id = 1,', ["field 'seq' is stamped by the runner"]),
    ('[[step]]\nsay = "setup"', '[capacity]\nordres = 5\n[[step]]\nsay = "setup"', ["[capacity]: unknown key 'ordres'"]),
    ('[[step]]\nsay = "setup"', '[[step]\nsay = "setup"', ["not valid TOML"]),
])
def test_malformed_scenario_is_refused_clearly(tmp_path, old, new, words):
    msg = failure(tmp_path, changed(old, new), sc.ScenarioFormatError)
    for w in words:
        assert w in msg, msg


# ------------------------------------------------------------------ values and probes
@pytest.mark.parametrize("text, raw", [
    ("10.25", 1_025_000_000), ("0.00000001", 1), ("-1.5", -150_000_000), ("5_000_000", 500_000_000_000_000),
    ("92233720368.54775807", 2**63 - 1),
])
def test_decimals_are_exact(text, raw):
    assert sc.parse_decimal(text) == raw
    assert sc.parse_decimal(sc.format_decimal(raw)) == raw


@pytest.mark.parametrize("text", ["1.000000001", "92233720368.54775808", "1e3", "1.", ".5", "", "0x10", 10])
def test_bad_decimals(text):
    with pytest.raises(ValueError):
        sc.parse_decimal(text)


def test_probes_select_rows_by_field_and_name_scalars(tmp_path):
    text = BASE.replace('state = {', 'state = { "orders.cl_ord_id=C1.cum" = 100, "orders.client_id=1,side=1.leaves" = 0, '
                                     '"scalars.TRADES" = 2, "symbols.AAPL.name" = "AAPL", ')
    sc.run_file(write(tmp_path, text))
    msg = failure(tmp_path, text.replace('"orders.cl_ord_id=C1.cum"', '"orders.cl_ord_id=C9.cum"'))
    assert "state orders.cl_ord_id=C9.cum: no orders row with cl_ord_id=C9" in msg


def test_nested_state_tables_read_like_dotted_keys():
    s = sc.loads(BASE.replace('state = { "orders.1.status" = "FILLED",', 'state = { orders.1.status = "FILLED",'))
    assert [p.key for p in s.steps[2].probes] == ["orders.1.status", "position.1.AAPL", "clients.1.cash"]


def test_new_constants_and_fields_need_no_runner_change(monkeypatch):
    # A field named after a family of records constants takes their names ...
    monkeypatch.setattr(R, "COLOUR_RED", 1, raising=False)
    monkeypatch.setattr(R, "COLOUR_DARK_BLUE", 2, raising=False)
    sc.enum_values.cache_clear()
    try:
        c = sc.codec("AnyRecord", "colour", R.np.dtype("u1"))
        assert c.encode("dark_blue") == 2 and c.show(1) == '"RED"'
    finally:
        sc.enum_values.cache_clear()
    # ... money is recognised by name, everything else is an integer.
    assert sc.codec("AnyRecord", "limit_price", R.np.dtype("<i8")).encode("1.5") == 150_000_000
    assert sc.codec("AnyRecord", "widgets", R.np.dtype("<i8")).encode(7) == 7


def test_main_prints_pass_and_fail(tmp_path, capsys):
    good = write(tmp_path, BASE, "good.toml")
    bad = write(tmp_path, changed('avg_px = "10.23"', 'avg_px = "1"'), "bad.toml")
    assert sc.main([str(good)]) == 0
    assert sc.main([str(tmp_path)]) == 1  # a directory: every *.toml in it
    out = capsys.readouterr().out
    assert f"PASS {good}" in out and f"FAIL {bad}" in out and "avg_px" in out


def test_the_example_in_the_docs_runs():
    doc = (Path(__file__).resolve().parents[2] / "docs" / "scenarios.md").read_text()
    block = doc.split("```toml\n", 1)[1].split("```", 1)[0]
    assert sc.run(sc.loads(block, "docs/scenarios.md")).steps == 3
