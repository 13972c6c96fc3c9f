"""Determinism guard: business-logic code must not read clocks, draw unseeded random
numbers, start threads or iterate sets. Add new business-logic modules to MODULES."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MODULES = [
    "sequencer/kernels.py",
    "sequencer/kernel_base.py",
    "sequencer/state.py",
    "sequencer/logic.py",
    "sequencer/book.py",
    "sequencer/matching.py",
    "sequencer/risk.py",
    "sequencer/positions.py",
    "sequencer/router.py",
    "sequencer/orders.py",
    "sequencer/algos.py",
]

# Modules whose mere import in business logic is a mistake.
BANNED_MODULES = {"time", "random", "secrets", "uuid", "threading", "_thread", "multiprocessing",
                  "asyncio", "concurrent", "sched", "signal", "socket", "subprocess"}
# Fully qualified calls (after resolving import aliases).
BANNED_CALLS = {"os.urandom", "os.getrandom", "os.getpid", "os.times", "uuid.uuid1", "uuid.uuid4",
                "datetime.datetime.now", "datetime.datetime.utcnow", "datetime.datetime.today",
                "datetime.date.today", "hash", "id"}
# Attribute names that read a clock whatever object they hang off.
CLOCK_ATTRS = {"now", "utcnow", "today", "time", "time_ns", "perf_counter", "perf_counter_ns",
               "monotonic", "monotonic_ns", "process_time", "process_time_ns", "clock_gettime"}
# numpy.random constructors that are fine when given an explicit seed.
SEEDED_OK = {"default_rng", "Generator", "SeedSequence", "PCG64", "PCG64DXSM", "Philox", "MT19937", "SFC64"}
SET_WRAPPERS = {"list", "tuple", "enumerate", "iter", "zip", "next", "map", "filter"}


class Finder(ast.NodeVisitor):
    def __init__(self, filename: str):
        self.filename = filename
        self.aliases: dict[str, str] = {}   # local name -> qualified name
        self.found: list[str] = []

    def report(self, node, what):
        self.found.append(f"{self.filename}:{node.lineno}: {what}")

    def visit_Import(self, node):
        for a in node.names:
            self.aliases[a.asname or a.name.split(".")[0]] = a.name if a.asname else a.name.split(".")[0]
            if a.name.split(".")[0] in BANNED_MODULES:
                self.report(node, f"import {a.name}")
        self.generic_visit(node)

    def visit_ImportFrom(self, node):
        mod = node.module or ""
        for a in node.names:
            self.aliases[a.asname or a.name] = f"{mod}.{a.name}"
        if mod.split(".")[0] in BANNED_MODULES:
            self.report(node, f"from {mod} import ...")
        self.generic_visit(node)

    def qualified(self, node) -> str | None:
        """'numpy.random.rand' for np.random.rand, via the import aliases."""
        parts = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if not isinstance(node, ast.Name):
            return None
        parts.append(self.aliases.get(node.id, node.id))
        return ".".join(reversed(parts))

    def visit_Call(self, node):
        name = self.qualified(node.func)
        if name:
            head = name.split(".")[0]
            last = name.split(".")[-1]
            if name in BANNED_CALLS:
                self.report(node, f"call {name}()")
            elif head in BANNED_MODULES:
                self.report(node, f"call {name}()")
            elif name.startswith("numpy.random."):
                seeded = last in SEEDED_OK and (node.args or node.keywords) and not (
                    node.args and isinstance(node.args[0], ast.Constant) and node.args[0].value is None)
                if not seeded:
                    self.report(node, f"unseeded randomness {name}()")
            elif last in CLOCK_ATTRS and isinstance(node.func, ast.Attribute):
                self.report(node, f"clock read {name}()")
            elif last in SET_WRAPPERS and node.args and self.is_set(node.args[0]):
                self.report(node, f"{last}() over a set")
        self.generic_visit(node)

    @staticmethod
    def is_set(node) -> bool:
        if isinstance(node, (ast.Set, ast.SetComp)):
            return True
        return (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                and node.func.id in ("set", "frozenset"))

    def visit_For(self, node):
        if self.is_set(node.iter):
            self.report(node, "for loop over a set")
        self.generic_visit(node)

    visit_AsyncFor = visit_For

    def visit_comprehension(self, node):
        if self.is_set(node.iter):
            self.report(node.iter, "comprehension over a set")
        self.generic_visit(node)


def scan(source: str, filename: str = "<source>") -> list[str]:
    f = Finder(filename)
    f.visit(ast.parse(source, filename))
    return f.found


def test_business_logic_is_deterministic():
    found = []
    for rel in MODULES:
        path = ROOT / rel
        assert path.exists(), f"{rel} listed in MODULES but missing"
        found += scan(path.read_text(), rel)
    for line in found:
        print(line)
    assert not found, "non-deterministic constructs in business logic:\n" + "\n".join(found)


BAD = """
import time
import random
import threading
from time import perf_counter as pc
from datetime import datetime
import datetime as dt
import numpy as np
import os, uuid
t0 = time.time()
t1 = pc()
t2 = datetime.now()
t3 = dt.datetime.utcnow()
r = np.random.rand(3)
g = np.random.default_rng()
g2 = np.random.default_rng(None)
b = os.urandom(8)
u = uuid.uuid4()
for x in {1, 2}:
    pass
y = [v for v in set(r)]
z = list(frozenset(r))
h = hash("x")
m = clock.monotonic()
"""


@pytest.mark.parametrize("needle", [
    "import time", "import random", "import threading", "from time import", "call time.time()",
    "call time.perf_counter()", "call datetime.datetime.now()",
    "call datetime.datetime.utcnow()", "unseeded randomness numpy.random.rand()",
    "unseeded randomness numpy.random.default_rng()", "call os.urandom()", "call uuid.uuid4()",
    "for loop over a set", "comprehension over a set", "list() over a set", "call hash()",
    "clock read clock.monotonic()",
])
def test_guard_catches(needle):
    found = scan(BAD)
    assert any(needle in f for f in found), f"{needle!r} not reported in {found}"


def test_guard_lets_clean_code_pass():
    clean = """
import numpy as np
from numba import njit
rng = np.random.default_rng(42)
for x in sorted({3, 1}):
    pass
d = {"a": 1}
for k in d:
    pass
ts = record.ts
"""
    assert scan(clean) == []
