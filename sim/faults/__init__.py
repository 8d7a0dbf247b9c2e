"""What may go wrong in a world, and when: the fault kinds with their rates and bounds
(``FaultConfig``), explicit fault points (``FaultPlan``), the ``Injector`` that decides at each
opportunity whether a fault fires (every decision drawn from the world's ``Decisions``), and crashes
at the awaits of a body (``AwaitCrashes``)."""

from .await_crashes import AwaitCrashes, Crashable, in_request
from .config import FaultConfig
from .injector import InjectedFault, Injector
from .kinds import AT_AWAIT, CRASH_OPS, CRASH_WHEN, DEFAULT_BOUND, DEFAULT_RATES, FAULT_KINDS
from .plan import AIM_HOWS, REPEATEDLY, AimAt, CrashAt, DropAt, FaultPlan, FaultPoint, UnfiredPlanWarning

__all__ = [
    "AIM_HOWS", "AT_AWAIT", "CRASH_OPS", "CRASH_WHEN", "DEFAULT_BOUND", "DEFAULT_RATES", "FAULT_KINDS", "REPEATEDLY",
    "AimAt", "AwaitCrashes",
    "Crashable", "CrashAt", "DropAt", "FaultConfig", "FaultPlan", "FaultPoint", "InjectedFault", "Injector",
    "UnfiredPlanWarning", "in_request",
]
