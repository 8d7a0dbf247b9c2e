"""What a user describes: a ``Scenario`` (the root workflow and its arguments, the functions and worker
processes, the outcomes it may reach, the user's invariants, which modules each process copies fresh,
the dependencies its bodies get, an upgrade to a second version of the code), the simulator's settings
(``SimConfig``), a script of actions from outside, and the ways to load a scenario from a target
(``file.py:NAME``) or rebuild it from data."""

from . import actors
from .actors import Actor
from .factories import FactoryError, make_dependencies
from .isolate import isolated_modules
from .outcomes import Outcomes, checked_outcomes, describe_outcomes, predicate_name
from .scenario import NOT_GIVEN, Invariant, Scenario
from .script import Action
from .settings import SimConfig
from .spec import build, scenario_spec
from .target import load_scenario
from .upgrade import Upgrade
from .versions import Version, versions

__all__ = [
    "NOT_GIVEN", "Action", "Actor", "Invariant", "Outcomes", "Scenario", "SimConfig", "build", "checked_outcomes",
    "FactoryError", "describe_outcomes", "isolated_modules", "load_scenario", "make_dependencies", "predicate_name",
    "scenario_spec", "actors", "Upgrade", "Version", "versions",
]
