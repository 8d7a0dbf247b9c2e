"""The deterministic simulator (DESIGN §5): durable workflows in one seeded, single-threaded trio
world with a virtual clock and injected faults — crashes, dropped, duplicated and delayed messages,
partitions, server restarts, rejected leaves and refused requests — a trace, and checks.

    from sim import Scenario, run_world
    result = run_world(Scenario(fan_out, (items,), functions=(process_item,)), seed=7, faults="crash,drop")
    assert result.ok, result.violations
"""

from .faults.spec import FAULT_KINDS, CrashAt, DropAt, FaultConfig, FaultPlan, UnfiredPlanWarning
from .kernel.decisions import Decisions, PinnedDecisions, RecordedDecisions, SeededDecisions
from .scenario.scenario import Scenario
from .scenario.settings import SimConfig
from .trace.events import Event, Trace
from .trace.ledger import Ledger, at_most_once, exactly_once, ledger
from .world.result import RunResult, Violation
from .world.world import InjectedFault, run_world

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
    "Violation",
    "at_most_once",
    "exactly_once",
    "ledger",
    "run_world",
]
