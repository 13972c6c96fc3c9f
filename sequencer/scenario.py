"""Scenarios: a behaviour of the core told as a story of inputs and expected events.

A scenario is a TOML file (docs/scenarios.md): a title, optional capacity, then
``[[step]]`` tables, each with one input (or a batch of ``inputs``), the exact list of
events it must produce (``expect``) and optional probes of the state afterwards
(``state``). Values are written the way a person reads them (prices as decimals, enums
by name, identifiers as text) and are turned into the same records a gateway would send.

Field meanings are derived from ``records.py`` and ``state.py`` rather than listed here,
so record fields, constants, record types and state arrays added later work unchanged:

- a ``u1[n]`` field is ASCII text;
- a money field (by name: ``price``, ``*_px``, ``*notional``, ``*cash``, ``fee``... see
  ``_MONEY_SUFFIXES`` / ``_MONEY_NAMES``) is a decimal string, exact to 8 places;
- a small integer field ``foo`` takes the names of the ``records.FOO_*`` constants
  (``side = "buy"``, ``tif = "ioc"``; ``state.FOO_*`` too for state arrays); the few
  fields named otherwise are in ``_ENUM_BY_FIELD`` / ``_ENUM_BY_RECORD_FIELD``;
- the value slots whose meaning depends on another field (Admin ``v0``..``v4``, Alert
  ``a``/``b``, Timer ``param``) take an integer as is or a decimal string x 1e8;
- any other field is an integer.

State probes read ``<array>.<index>....<field>`` from any ``State`` array by name; an
index is a number (an order id for ``orders``), a symbol name, a ``state.S_*`` name for
``scalars``, or a row selector ``field=value[,field=value]``. ``position.<client>.<symbol>``
is a derived probe (``DERIVED_PROBES``): the signed position, whatever the layout.

After the steps the runner checks determinism: the whole input stream replayed in one
batch on a fresh state, and the second half replayed on a state restored from a
snapshot taken half-way, must give byte-identical events and the same state digest.

Run: ``python -m sequencer.scenario FILE_OR_DIR...`` (PASS/FAIL per file, exit 1 on a failure).
"""

from __future__ import annotations

import functools
import re
import sys
import tomllib
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import numpy as np

from . import records as R
from . import state as S
from .logic import BusinessLogic
from .state import Capacity, State

# Small tables keep a scenario fast; a [capacity] table overrides them (other fields: Capacity's defaults).
DEFAULT_CAPACITY = {"orders": 1024, "clients": 64, "symbols": 64}
DEFAULT_STEP_NS = 1_000  # an input without ``at`` comes 1 us after the previous step

# Header fields an input may set (the runner stamps seq and ts) and an expectation may check.
INPUT_HEADER = ("version", "source_id", "source_seq")
EVENT_HEADER = ("version", "source_id", "source_seq", "seq", "ts")
DEFAULT_SOURCE_ID = 1

# Fields whose constants are not named after the field (else ``records.<FIELD>_*``).
_ENUM_BY_FIELD = {
    "ord_type": "ORD_", "exec_type": "EXEC_",
    "ord_status": "STATUS_", "status": "STATUS_", "prev_status": "STATUS_",
    "reason": "REASON_", "code": "REASON_",
    "pending": "VENUE_ACTION_", "ack_of": "VENUE_ACTION_", "reject_of": "VENUE_ACTION_",
    "action": "VENUE_ACTION_",
}
# (record, field) exceptions to the above: "char" = one ASCII letter (ITCH codes).
_ENUM_BY_RECORD_FIELD = {
    ("Admin", "action"): "ADMIN_",
    ("Timer", "kind"): "TIMER_",
    ("StateDigest", "reason"): "DIGEST_",
    ("MarketData", "action"): "char",
    ("SessionEvent", "event"): "SESSION_",
}
_MONEY_SUFFIXES = ("price", "_px", "notional", "cash", "_fee", "_value", "pnl", "_gross")
_MONEY_NAMES = ("fee", "fees", "gross", "realized", "reserved", "equity", "bid", "ask")
_SLOTS = ("v0", "v1", "v2", "v3", "v4", "a", "b", "param")

# State arrays indexed by id - 1 rather than by id (state.py: order_id = row + 1).
ONE_BASED_ARRAYS = {"orders": "order"}

_STEP_KEYS = ("say", "at", "input", "inputs", "expect", "state")
_TOP_KEYS = ("title", "description", "capacity", "digest_every", "step")


class ScenarioError(Exception):
    """A scenario that could not be read or did not pass; ``str()`` is the report."""


class ScenarioFormatError(ScenarioError, ValueError):
    """The scenario file is malformed: bad TOML, unknown field, bad value."""


class ScenarioFailure(ScenarioError, AssertionError):
    """The core did not behave as the scenario says."""


# ------------------------------------------------------------------ values
_DECIMAL = re.compile(r"-?\d+(?:_\d+)*(?:\.(\d+(?:_\d+)*))?")
_INT64 = (-(1 << 63), (1 << 63) - 1)


def parse_decimal(text) -> int:
    """A decimal string as int64 with 8 implied decimals, exactly (``"10.25"`` -> 1025000000)."""
    if not isinstance(text, str) or not _DECIMAL.fullmatch(text):
        raise ValueError(f"{text!r} is not a decimal string like \"10.25\"")
    frac = _DECIMAL.fullmatch(text).group(1) or ""
    if len(frac.replace("_", "")) > 8:
        raise ValueError(f"{text!r} has more than 8 decimals")
    raw = int(Decimal(text.replace("_", "")) * R.PRICE_SCALE)
    if not _INT64[0] <= raw <= _INT64[1]:
        raise ValueError(f"{text!r} is out of int64 fixed-point range")
    return raw


def format_decimal(raw: int) -> str:
    """int64 fixed point back to the shortest decimal string (1025000000 -> "10.25")."""
    sign = "-" if raw < 0 else ""
    whole, frac = divmod(abs(int(raw)), R.PRICE_SCALE)
    frac_s = f"{frac:08d}".rstrip("0")
    return f"{sign}{whole}.{frac_s}" if frac_s else f"{sign}{whole}"


@functools.cache
def enum_values(prefix: str) -> dict[str, int]:
    """NAME -> value of the int constants starting with ``prefix`` in ``records`` (or in
    ``state`` for a prefix written ``state.KIND_``)."""
    module, prefix = (S, prefix[6:]) if prefix.startswith("state.") else (R, prefix)
    return {k[len(prefix):]: v for k, v in vars(module).items()
            if k.startswith(prefix) and type(v) is int}


def _is_char_enum(values: dict[str, int]) -> bool:
    # FIX ExecType/OrdStatus-style codes: every value is a printable character.
    return bool(values) and all(0x21 <= v <= 0x7E for v in values.values())


def _literal(value) -> str:
    """A value as it would be written in the TOML file."""
    return f'"{value}"' if isinstance(value, str) else str(value)


@dataclass(frozen=True)
class Codec:
    """How one field is written in a scenario and shown in a report."""

    kind: str          # "ascii", "money", "enum", "char", "slot" or "int"
    lo: int = 0        # integer range of the field's dtype
    hi: int = 0
    width: int = 0     # ascii
    prefix: str = ""   # enum

    def encode(self, value):
        """The raw field value for a written one; ValueError says why it cannot be."""
        if isinstance(value, (bool, float, dict, list)) or value is None:
            hint = " (write money as a quoted decimal: floats are inexact)" if isinstance(value, float) else ""
            raise ValueError(f"{value!r} is not a valid value{hint}")
        if self.kind == "ascii":
            if not isinstance(value, str):
                raise ValueError(f"{value!r}: write text as a string")
            return R.ascii_field(value, self.width)
        if self.kind == "money":
            if not isinstance(value, str):
                raise ValueError(f"{value!r}: write money as a decimal string, e.g. \"{value}\"")
            raw = parse_decimal(value)
        elif self.kind == "slot":
            raw = parse_decimal(value) if isinstance(value, str) else value
        elif self.kind == "char":
            if isinstance(value, str):
                if len(value) != 1 or not 0x21 <= ord(value) <= 0x7E:
                    raise ValueError(f"{value!r} is not a single printable character")
                value = ord(value)
            raw = value
        elif self.kind == "enum":
            raw = self._encode_enum(value)
        else:
            if not isinstance(value, int):
                raise ValueError(f"{value!r}: expected an integer")
            raw = value
        if not self.lo <= raw <= self.hi:
            raise ValueError(f"{value!r} does not fit the field ({self.lo}..{self.hi})")
        return raw

    def _encode_enum(self, value):
        values = enum_values(self.prefix)
        chars = _is_char_enum(values)
        if isinstance(value, str):
            if value.upper() in values:
                return values[value.upper()]
            if chars and len(value) == 1:
                return ord(value)  # a FIX character: "6" is PENDING_CANCEL
            names = ", ".join(values)
            raise ValueError(f"{value!r} is not one of {names} ({self.prefix}*)")
        if chars and value != 0:
            # 6 would be byte 6, not FIX "6": refuse the trap.
            raise ValueError(f"{value!r}: write a name ({next(iter(values))}) or a quoted FIX character")
        return value

    def show(self, raw, like=None) -> str:
        """A raw value as a TOML literal (``like``: the written value, for slot fields)."""
        if self.kind == "ascii":
            return _literal(R.ascii_text(np.asarray(raw)))
        raw = int(raw)
        if self.kind == "money" or (self.kind == "slot" and isinstance(like, str)):
            return _literal(format_decimal(raw))
        if self.kind == "enum":
            names = {v: k for k, v in reversed(enum_values(self.prefix).items())}
            if raw in names:
                return _literal(names[raw])
            return str(raw)
        if self.kind == "char" and 0x21 <= raw <= 0x7E:
            return _literal(chr(raw))
        return str(raw)

    def equal(self, actual, expected) -> bool:
        if self.kind == "ascii":
            return bytes(np.asarray(actual)) == bytes(expected)
        return int(actual) == expected


def codec(record: str, name: str, ftype: np.dtype) -> Codec:
    """The codec of field ``name`` (dtype ``ftype``) of a record type or state array."""
    if ftype.subdtype is not None:
        base, shape = ftype.subdtype
        if base == np.uint8 and len(shape) == 1:
            return Codec("ascii", width=shape[0])
        raise ValueError(f"field {name!r} of {record} ({ftype}) cannot be written in a scenario")
    info = np.iinfo(ftype)
    lo, hi = int(info.min), int(info.max)
    prefix = _ENUM_BY_RECORD_FIELD.get((record, name)) or _ENUM_BY_FIELD.get(name)
    if prefix == "char":
        return Codec("char", lo, hi)
    if prefix:
        return Codec("enum", lo, hi, prefix=prefix)
    if name.endswith(_MONEY_SUFFIXES) or name in _MONEY_NAMES:
        return Codec("money", lo, hi)
    if ftype.itemsize <= 2:
        # A state array's field may be named after state.py constants (orders.kind: KIND_*).
        for p in ([] if record in _type_codes(R.COMMAND_DTYPES | R.EVENT_DTYPES) else ["state."]) + [""]:
            if enum_values(p + name.upper() + "_"):
                return Codec("enum", lo, hi, prefix=p + name.upper() + "_")
    if name in _SLOTS:
        return Codec("slot", lo, hi)
    return Codec("int", lo, hi)


def _type_codes(kinds: dict) -> dict[str, int]:
    return {R.TYPE_NAMES[t]: t for t in kinds}


def record_fields(dtype: np.dtype) -> list[str]:
    """The body fields of a record type (header and padding left out)."""
    header = {n for n, _ in R.HEADER_FIELDS}
    return [n for n in dtype.names if n not in header and not n.startswith("_")]


# ------------------------------------------------------------------ the scenario
@dataclass(frozen=True)
class Check:
    """One checked field: its name, how to read it, the raw expected value, as written."""

    name: str
    codec: Codec
    raw: object
    written: object


@dataclass(frozen=True)
class ExpectedEvent:
    type: int
    checks: tuple[Check, ...]


@dataclass(frozen=True)
class Probe:
    """``<array>.<index>...[.<field>] = value``: one value of the state after a step."""

    key: str
    array: str
    index: tuple[str, ...]  # as written; resolved against the state when run
    field: str | None
    check: Check


@dataclass
class Step:
    number: int                    # 1-based, as in reports
    say: str
    ts: int
    commands: np.ndarray           # RAW_COMMAND records, stamped (seq, ts, source)
    expect: list[ExpectedEvent] | None  # None: the step has no input
    probes: list[Probe]

    def where(self, path: str) -> str:
        return f"{path}: step {self.number}" + (f' ("{self.say}")' if self.say else "")


@dataclass
class Scenario:
    path: str
    title: str
    description: str
    capacity: Capacity
    digest_every: int
    steps: list[Step] = field(default_factory=list)

    def commands(self) -> np.ndarray:
        """Every input of every step, in sequence order."""
        return np.concatenate([s.commands for s in self.steps] + [R.new_commands(0)])


@dataclass(frozen=True)
class Result:
    path: str
    title: str
    steps: int      # steps run
    inputs: int     # commands applied (seqs 1..inputs)
    events: int     # events seen
    digest: int     # State.digest() after the last step


def load(path) -> Scenario:
    """Read and check a scenario file (ScenarioFormatError names file, step and field)."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as e:
        raise ScenarioFormatError(f"{path}: cannot read: {e.strerror}") from None
    return loads(text, str(path))


def loads(text: str, path: str = "<scenario>") -> Scenario:
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ScenarioFormatError(f"{path}: not valid TOML: {e}") from None
    return _Parser(path).scenario(doc)


class _Parser:
    def __init__(self, path: str):
        self.path = path
        self.seq = 0
        self.ts = 0

    def fail(self, where: str, msg: str):
        raise ScenarioFormatError(f"{self.path}: {where}{': ' if where else ''}{msg}")

    def _keys(self, where, table, allowed):
        if not isinstance(table, dict):
            self.fail(where, f"expected a table, got {_literal(table)}")
        for k in table:
            if k not in allowed:
                self.fail(where, f"unknown key {k!r} (known: {', '.join(allowed)})")

    def scenario(self, doc: dict) -> Scenario:
        self._keys("", doc, _TOP_KEYS)
        title = doc.get("title")
        if not isinstance(title, str) or not title.strip():
            self.fail("", "a scenario needs a title = \"...\"")
        self._keys("[capacity]", doc.get("capacity", {}), [f.name for f in Capacity.__dataclass_fields__.values()])
        try:
            capacity = Capacity(**{**DEFAULT_CAPACITY, **doc.get("capacity", {})})
        except (TypeError, ValueError) as e:
            self.fail("[capacity]", str(e))
        if not isinstance(doc.get("description", ""), str):
            self.fail("description", "expected a string")
        digest_every = doc.get("digest_every", 0)
        if type(digest_every) is not int or digest_every < 0:
            self.fail("digest_every", f"expected an integer >= 0, got {_literal(digest_every)}")
        steps = doc.get("step")
        if not isinstance(steps, list) or not steps:
            self.fail("", "a scenario needs at least one [[step]]")
        sc = Scenario(self.path, title, doc.get("description", ""), capacity, digest_every)
        sc.steps = [self.step(i + 1, s) for i, s in enumerate(steps)]
        return sc

    def step(self, number: int, t: dict) -> Step:
        where = f"step {number}"
        self._keys(where, t, _STEP_KEYS)
        say = t.get("say", "")
        if not isinstance(say, str):
            self.fail(where, "say must be a string")
        if "input" in t and "inputs" in t:
            self.fail(where, "give either input or inputs, not both")
        inputs = [t["input"]] if "input" in t else t.get("inputs", [])
        if not isinstance(inputs, list):
            self.fail(where, "inputs must be a list of inline tables")
        if inputs and "expect" not in t:
            self.fail(where, "a step with inputs needs expect = [...] (expect = [] for no events)")
        if not inputs and "expect" in t:
            self.fail(where, "expect without an input")
        if not inputs and "state" not in t:
            self.fail(where, "a step needs an input, inputs or state")
        if "at" in t or inputs:
            self.ts = self.at(where, t.get("at"))
        cmds = [self.command(f"{where}: input {i + 1}" if len(inputs) > 1 else f"{where}: input", c)
                for i, c in enumerate(inputs)]
        expect = None
        if inputs:
            ex = t["expect"]
            if not isinstance(ex, list):
                self.fail(where, "expect must be a list of events: [ { type = \"...\", ... }, ... ]")
            expect = [self.event(f"{where}: expect[{i}]", e) for i, e in enumerate(ex)]
        state = t.get("state", {})
        if not isinstance(state, dict):
            self.fail(where, "state must be a table of probes: { \"orders.1.status\" = \"FILLED\" }")
        probes = [self.probe(f"{where}: state", k, v) for k, v in _flatten(state)]
        return Step(number, say, self.ts, np.concatenate(cmds + [R.new_commands(0)]), expect, probes)

    def at(self, where, at) -> int:
        if at is None:
            return self.ts + DEFAULT_STEP_NS
        if type(at) is int:
            ts = at
        else:
            m = re.fullmatch(r"(\+?)(\d+(?:\.\d+)?)\s*(ns|us|ms|s)", at) if isinstance(at, str) else None
            if m is None:
                self.fail(f"{where}: at", f"{_literal(at)} is not \"+1ms\"-style (ns, us, ms, s) or an int of ns")
            n = Decimal(m.group(2)) * {"ns": 1, "us": 10**3, "ms": 10**6, "s": 10**9}[m.group(3)]
            if n != int(n):
                self.fail(f"{where}: at", f"{at!r} is not a whole number of ns")
            ts = int(n) + (self.ts if m.group(1) else 0)
        if ts < self.ts:
            self.fail(f"{where}: at", f"the clock goes backwards ({ts} ns after {self.ts} ns)")
        if ts > _INT64[1]:
            self.fail(f"{where}: at", f"{ts} ns does not fit int64")
        return ts

    def command(self, where: str, t) -> np.ndarray:
        codes = _type_codes(R.COMMAND_DTYPES)
        name = t.get("type") if isinstance(t, dict) else None
        if name not in codes:
            self.fail(where, f"type {_literal(name)} is not a command type ({', '.join(codes)})")
        code = codes[name]
        dtype = R.COMMAND_DTYPES[code]
        self.seq += 1
        raw = R.new_commands(1)
        rec = raw.view(dtype)
        rec["type"], rec["version"] = code, R.RECORD_VERSIONS[code]
        rec["source_id"], rec["source_seq"] = DEFAULT_SOURCE_ID, self.seq
        rec["seq"], rec["ts"] = self.seq, self.ts
        allowed = record_fields(dtype) + list(INPUT_HEADER)
        for k, v in t.items():
            if k == "type":
                continue
            if k in ("seq", "ts"):
                self.fail(where, f"field {k!r} is stamped by the runner (use the step's at for time)")
            if k not in allowed:
                self.fail(where, f"unknown field {k!r} of {name} (fields: {', '.join(allowed)})")
            c = codec(name, k, dtype.fields[k][0])
            try:
                rec[k][0] = c.encode(v)
            except ValueError as e:
                self.fail(f"{where} ({name}): field {k}", str(e))
        return raw

    def event(self, where: str, t) -> ExpectedEvent:
        codes = _type_codes(R.EVENT_DTYPES)
        name = t.get("type") if isinstance(t, dict) else None
        if name not in codes:
            self.fail(where, f"type {_literal(name)} is not an event type ({', '.join(codes)})")
        dtype = R.EVENT_DTYPES[codes[name]]
        allowed = record_fields(dtype) + list(EVENT_HEADER)
        checks = []
        for k, v in t.items():
            if k == "type":
                continue
            if k not in allowed:
                self.fail(where, f"unknown field {k!r} of {name} (fields: {', '.join(allowed)})")
            checks.append(self.check(f"{where} ({name}): field {k}", name, k, dtype.fields[k][0], v))
        return ExpectedEvent(codes[name], tuple(checks))

    def check(self, where, record, name, ftype, value) -> Check:
        try:
            c = codec(record, name, ftype)
            return Check(name, c, c.encode(value), value)
        except ValueError as e:
            self.fail(where, str(e))

    def probe(self, where: str, key: str, value) -> Probe:
        parts = key.split(".")
        arrays = _template_arrays()
        name = parts[0]
        if name in DERIVED_PROBES:
            if len(parts) != 3:
                self.fail(where, f"{key!r}: write {name}.<client id>.<symbol id or name>")
            return Probe(key, name, tuple(parts[1:]), None, self.check(f"{where}: {key}", name, name, np.dtype("<i8"), value))
        arr = arrays.get(name)
        if arr is None:
            self.fail(where, f"{key!r}: no state array {name!r} (arrays: {', '.join(arrays)})")
        fields = [n for n in arr.dtype.names or () if not n.startswith("_")]
        fname = parts.pop() if fields and len(parts) > 1 else None
        if fields and fname not in fields:
            self.fail(where, f"{key!r}: {name} rows have no field {fname!r} (fields: {', '.join(fields)})")
        index = tuple(parts[1:])
        if len(index) != arr.ndim:
            shape = ".".join(["<index>"] * arr.ndim) + (".<field>" if fields else "")
            self.fail(where, f"{key!r}: write {name}.{shape}")
        for part in index:
            if "=" in part:  # a row selector: positions.client_id=1,symbol_id=AAPL.qty
                for cond in part.split(","):
                    f, _, v = cond.partition("=")
                    if f not in fields or not v:
                        self.fail(where, f"{key!r}: {cond!r} is not <field>=<value> with a field of {name}")
            elif name == "scalars" and not part.isdigit() and not hasattr(S, "S_" + part.upper()):
                self.fail(where, f"{key!r}: no scalar S_{part.upper()} in state.py")
        ftype = arr.dtype.fields[fname][0] if fname else arr.dtype
        check = self.check(f"{where}: {key}", name, fname or name, ftype, value)
        return Probe(key, name, index, fname, check)


def _flatten(table: dict, prefix: str = ""):
    """``{orders = {1 = {status = ..}}}`` and ``{"orders.1.status" = ..}`` both as dotted keys."""
    for k, v in table.items():
        if isinstance(v, dict):
            yield from _flatten(v, f"{prefix}{k}.")
        else:
            yield f"{prefix}{k}", v


@functools.cache
def _template_arrays() -> dict[str, np.ndarray]:
    """A tiny state, to check probe names and dtypes before running."""
    return State.create(Capacity(orders=2, clients=2, symbols=2)).arrays()


# ------------------------------------------------------------------ running
def run_file(path) -> Result:
    """``run(load(path))``."""
    return run(load(path))


def run(sc: Scenario) -> Result:
    """Run every step, checking events and state probes, then check determinism.

    Raises ScenarioFailure with a report naming the step, event, field, expected and
    actual values (and every event the step produced, written as expectations)."""
    bl = BusinessLogic(State.create(sc.capacity), sc.digest_every)
    outputs = []
    half = len(sc.steps) // 2
    snapshot, snap_inputs, snap_events = None, 0, 0
    for i, step in enumerate(sc.steps):
        if i == half:  # the state a restore half-way starts from
            snapshot = State.from_used_arrays(bl.state.used_arrays(), len(bl.state.orders))
            snap_inputs = sum(len(s.commands) for s in sc.steps[:i])
            snap_events = sum(len(e) for e in outputs)
        problems = []
        events = R.new_events(0)
        if len(step.commands):
            events = bl.apply(step.commands)
            outputs.append(events)
            problems += _event_problems(step.expect, events)
        problems += _probe_problems(bl.state, step.probes)
        if problems:
            report = [f"{step.where(sc.path)}:"] + [f"  {p}" for p in problems]
            if len(events):
                report += ["  events of this step:"] + [f"    {describe(events[j:j + 1])}," for j in range(len(events))]
            elif len(step.commands):
                report += ["  this step wrote no events"]
            raise ScenarioFailure("\n".join(report))
    everything = np.concatenate(outputs + [R.new_events(0)])
    digest = bl.state.digest()
    _check_determinism(sc, everything, digest, snapshot, snap_inputs, snap_events)
    return Result(sc.path, sc.title, len(sc.steps), len(sc.commands()), len(everything), digest)


def _event_problems(expect: list[ExpectedEvent], events: np.ndarray) -> list[str]:
    out = []
    if len(events) != len(expect):
        out.append(f"expected {_count(len(expect))}, got {len(events)}")
    types = R.header(events)["type"]
    for j, (want, got_type) in enumerate(zip(expect, types)):
        got_name = R.TYPE_NAMES.get(int(got_type), str(int(got_type)))
        if got_type != want.type:
            out.append(f"event {j}: expected {R.TYPE_NAMES[want.type]}, got {got_name}")
            continue
        rec = events[j:j + 1].view(R.EVENT_DTYPES[want.type])[0]
        for c in want.checks:
            if not c.codec.equal(rec[c.name], c.raw):
                out.append(f"event {j} ({got_name}) {c.name}: expected {_literal(c.written)}, "
                           f"got {c.codec.show(rec[c.name], c.written)}")
    return out


def _count(n: int) -> str:
    return f"{n} event" + ("" if n == 1 else "s")


def _probe_problems(state: State, probes: list[Probe]) -> list[str]:
    out = []
    for p in probes:
        try:
            value = _read_probe(state, p)
        except (LookupError, ValueError) as e:
            out.append(f"state {p.key}: {e.args[0]}")
            continue
        c = p.check
        if not c.codec.equal(value, c.raw):
            out.append(f"state {p.key}: expected {_literal(c.written)}, got {c.codec.show(value, c.written)}")
    return out


def _symbol_id(state: State, name: str) -> int:
    hits = np.flatnonzero((state.symbols["active"] != 0)
                          & (state.symbols["name"] == R.ascii_field(name, R.SYMBOL_LEN)).all(axis=1))
    if not len(hits):
        raise LookupError(f"no symbol named {name!r}")
    return int(hits[0])


def _index_value(state: State, array: str, text: str) -> int:
    """An index or selector value: a number, a scalar's name (scalars) or a symbol's name."""
    if text.isdigit():
        return int(text)
    if array == "scalars":
        return getattr(S, "S_" + text.upper())
    return _symbol_id(state, text)


def _matches(state: State, array: str, arr: np.ndarray, field: str, text: str) -> np.ndarray:
    """Rows of ``arr`` whose ``field`` is ``text`` (ASCII fields by text, others by number / symbol)."""
    col = arr[field]
    if col.ndim == 2:
        return (col == R.ascii_field(text, col.shape[1])).all(axis=1)
    return col == _index_value(state, array, text)


def _position(state: State, client_id: int, symbol_id: int) -> int:
    """A client's signed position in a symbol, whichever way ``positions`` is laid out."""
    pos = state.positions
    if pos.dtype.names is None:  # a client x symbol matrix
        return int(pos[client_id, symbol_id])
    rows = np.flatnonzero((pos["client_id"] == client_id) & (pos["symbol_id"] == symbol_id))
    return int(pos["qty"][rows[0]]) if len(rows) else 0


# Probes named for what they mean rather than where it is stored, so scenarios outlive
# a change of layout: name -> function of (state, *resolved indexes).
DERIVED_PROBES = {"position": _position}


def _read_probe(state: State, p: Probe):
    if p.array in DERIVED_PROBES:
        return DERIVED_PROBES[p.array](state, *(_index_value(state, p.array, i) for i in p.index))
    arr = state.arrays()[p.array]
    if p.array == "orders":  # rows past the counter were never handed out
        arr = arr[: int(state.scalars[S.S_ORDERS])]
    idx = []
    for axis, part in enumerate(p.index):
        if "=" in part:
            hits = np.flatnonzero(np.logical_and.reduce(
                [_matches(state, p.array, arr, *c.split("=", 1)) for c in part.split(",")]))
            if not len(hits):
                raise LookupError(f"no {p.array} row with {part}")
            idx.append(int(hits[0]))
            continue
        i = _index_value(state, p.array, part)
        if p.array in ONE_BASED_ARRAYS and axis == 0:
            if not 0 < i <= len(arr):
                raise LookupError(f"no {ONE_BASED_ARRAYS[p.array]} {i} ({len(arr)} so far)")
            i -= 1
        if not 0 <= i < arr.shape[axis]:
            raise LookupError(f"index {part} is outside 0..{arr.shape[axis] - 1}")
        idx.append(i)
    row = arr[tuple(idx)]
    return row[p.field] if p.field else row


def _check_determinism(sc, events, digest, snapshot, snap_inputs, snap_events):
    cmds = sc.commands()
    replay = BusinessLogic(State.create(sc.capacity), sc.digest_every)
    again = replay.apply(cmds)
    _same_events(sc, f"replaying all {len(cmds)} inputs in one batch", events, again, 0)
    if replay.state.digest() != digest:
        raise ScenarioFailure(f"{sc.path}: determinism: replaying all inputs in one batch gives state digest "
                              f"{replay.state.digest():016x}, step by step gave {digest:016x}")
    restored = BusinessLogic(snapshot, sc.digest_every)
    tail = restored.apply(cmds[snap_inputs:])
    what = f"restoring the snapshot after seq {snap_inputs} and replaying the rest"
    _same_events(sc, what, events[snap_events:], tail, snap_events)
    if restored.state.digest() != digest:
        raise ScenarioFailure(f"{sc.path}: determinism: {what} gives state digest "
                              f"{restored.state.digest():016x}, step by step gave {digest:016x}")


def _same_events(sc, what, want, got, offset):
    if want.tobytes() == got.tobytes():
        return
    n = min(len(want), len(got))
    diff = [j for j in range(n) if want[j].tobytes() != got[j].tobytes()]
    at = diff[0] if diff else n
    lines = [f"{sc.path}: determinism: {what} gives different events "
             f"({len(got)} events, step by step {len(want)}); first difference at event {offset + at}:"]
    if at < len(want):
        lines.append(f"  step by step: {describe(want[at:at + 1])}")
    if at < len(got):
        lines.append(f"  replayed:     {describe(got[at:at + 1])}")
    raise ScenarioFailure("\n".join(lines))


def describe(event: np.ndarray) -> str:
    """One event as a TOML inline table of its non-zero body fields (pasteable into expect)."""
    t = int(R.header(event)["type"][0])
    if t not in R.EVENT_DTYPES:
        return f"{{ type = {t} }}"
    name = R.TYPE_NAMES[t]
    rec = event.view(R.EVENT_DTYPES[t])[0]
    parts = [f'type = "{name}"']
    for f in record_fields(rec.dtype):
        value = rec[f]
        if not np.any(value):
            continue
        parts.append(f"{f} = {codec(name, f, rec.dtype.fields[f][0]).show(value)}")
    return "{ " + ", ".join(parts) + " }"


# ------------------------------------------------------------------ command line
def _paths(args: list[str]) -> list[Path]:
    out = []
    for a in args:
        p = Path(a)
        out += sorted(p.glob("*.toml")) if p.is_dir() else [p]
    return out


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in ("-h", "--help"):
        print("usage: python -m sequencer.scenario FILE_OR_DIR...  (runs every *.toml of a directory)")
        return 2
    failed = 0
    for path in _paths(args):
        try:
            r = run_file(path)
        except ScenarioError as e:
            failed += 1
            print(f"FAIL {path}\n{e}\n")
            continue
        print(f"PASS {path}: {r.title} ({r.steps} steps, {r.inputs} inputs, {r.events} events, "
              f"digest {r.digest:016x})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
