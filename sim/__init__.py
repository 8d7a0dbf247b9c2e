"""The deterministic simulator (docs/architecture.md, "The simulator"): durable workflows in one
seeded, single-threaded trio world with a virtual clock and injected faults — crashes, dropped,
duplicated and delayed messages, partitions, server restarts, rejected leaves and refused requests —
a trace, and checks.

    from sim import Scenario, run_world
    result = run_world(Scenario(fan_out, (items,), functions=(process_item,)), seed=7, faults="crash,drop")
    assert result.ok, result.violations

Outside parties (an approver, a payment webhook) take part through ``Scenario(actors=...)``, made with
``sim.actors.resolve``, ``reject`` and ``start``; a deploy of a second version of the code while
executions are in flight through ``Scenario(upgrade=sim.Upgrade(to="module.of.version2", ...))``.
"""

from .checks import Violation
from .faults import FAULT_KINDS, CrashAt, DropAt, FaultConfig, FaultPlan, InjectedFault, UnfiredPlanWarning
from .kernel.decisions import Decisions, PinnedDecisions, RecordedDecisions, SeededDecisions
from .runner import run_world
from .scenario import Scenario, SimConfig, Upgrade, actors
from .trace import Event, Ledger, Trace, at_most_once, exactly_once, ledger
from .world import RunResult

__all__ = [
    "FAULT_KINDS",
    "CrashAt",
    "Decisions",
    "DropAt",
    "Event",
    "FaultConfig",
    "FaultPlan",
    "InjectedFault",
    "Ledger",
    "PinnedDecisions",
    "RecordedDecisions",
    "RunResult",
    "Scenario",
    "SeededDecisions",
    "SimConfig",
    "Trace",
    "UnfiredPlanWarning",
    "Upgrade",
    "Violation",
    "actors",
    "at_most_once",
    "exactly_once",
    "ledger",
    "run_world",
]
