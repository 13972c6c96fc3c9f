"""Agents: the unit of every long-running stage (Aeron/Agrona style).

An agent does a bounded slice of work per ``do_work()`` call and says how much it
did; a runner drives it with an idle strategy. Tests step whole pipelines on one
thread by calling ``do_work()`` on each agent in turn.
"""

from __future__ import annotations

import signal
import time


class Agent:
    role = "agent"

    def on_start(self) -> None:
        pass

    def do_work(self) -> int:
        raise NotImplementedError

    def on_close(self) -> None:
        pass


def idle_strategy(name: str):
    """``busy-spin``, ``yield``, ``backoff`` (default) or ``sleep``."""
    import pyaeron

    if name == "busy-spin":
        return pyaeron.IdleStrategy.busy_spin()
    if name == "yield":
        return pyaeron.IdleStrategy.yielding()
    if name == "sleep":
        return pyaeron.IdleStrategy.sleeping(ns=1_000_000)
    if name == "backoff":
        return pyaeron.IdleStrategy.backoff(max_spins=10, max_yields=20, min_park_ns=1_000, max_park_ns=1_000_000)
    raise ValueError(f"unknown idle strategy {name!r} (busy-spin, yield, backoff, sleep)")


class AgentRunner:
    """Runs agents on the calling thread until ``stop()`` or SIGTERM/SIGINT."""

    def __init__(self, agents, idle="backoff"):
        self.agents = list(agents)
        self.idle = idle_strategy(idle) if isinstance(idle, str) else idle
        self.running = False

    def stop(self, *_):
        self.running = False

    def run(self, until=None, handle_signals=True):
        """Duty cycle; ``until()`` returning True also ends it. Always closes the agents."""
        if handle_signals:
            signal.signal(signal.SIGTERM, self.stop)
            signal.signal(signal.SIGINT, self.stop)
        self.running = True  # before on_start: a SIGTERM during start-up must still stop us
        for a in self.agents:
            a.on_start()
        try:
            while self.running:
                work = 0
                for a in self.agents:
                    work += a.do_work()
                if until is not None and until():
                    break
                self.idle.idle(work)
        finally:
            for a in reversed(self.agents):
                a.on_close()


def step_until(agents, predicate, timeout_s=30.0):
    """Test helper: call do_work() on each agent in turn until ``predicate()``."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("agents did not reach the expected state in time")
        if sum(a.do_work() for a in agents) == 0:
            time.sleep(0.0005)
