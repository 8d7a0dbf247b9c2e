"""The pytest face of pytest-durable, and what a test suite writes, from one place:

    from pytest_durable.testing import assert_exactly_once, assert_settled, durable_example, worlds

Its modules: ``plugin`` (the pytest plugin, loaded by ``-p pytest_durable`` and the ``pytest11`` entry
point), ``harness`` (``DurableSim``, behind the ``durable_sim`` fixture), ``assertions``, ``strategies``
(Hypothesis worlds), ``stateful`` (``DurableMachine``), ``regression`` (``@durable_example``),
``profiles`` (Hypothesis settings profiles), ``histories`` (exported histories replayed against the
code under test), ``progress``, ``hookspecs``, and ``pgserver`` (a throwaway
PostgreSQL server for tests: ``python -m pytest_durable.testing.pgserver``).

A name below is imported from its module when first used, so importing one module of the face
(``pgserver``, say) imports neither Hypothesis nor the simulator.
"""

import sys as _sys
from importlib import import_module as _import_module
from typing import TYPE_CHECKING, Any

if "pytest" in _sys.modules:  # as in pytest_durable/__init__.py: before anything imports the assertions
    _sys.modules["pytest"].register_assert_rewrite("pytest_durable.testing.assertions")

#: What users write -> the module of the face that defines it.
_HOMES = {
    "assert_at_most_once": "assertions",
    "assert_compatible": "histories",
    "assert_exactly_once": "assertions",
    "assert_replay_deterministic": "assertions",
    "assert_settled": "assertions",
    "assert_tree": "assertions",
    "TreeShape": "assertions",
    "DrawnWorld": "strategies",
    "World": "strategies",
    "fault_plans": "strategies",
    "pinned_world": "strategies",
    "worlds": "strategies",
    "durable_example": "regression",
    "durable_histories": "histories",
    "DurableMachine": "stateful",
    "DurableSim": "harness",
    "UnmarkedDurableSimWarning": "harness",
    "WorldFailed": "harness",
    "WorldSettings": "harness",
}

__all__ = sorted(_HOMES)

if TYPE_CHECKING:  # the same names, for type checkers (``x as x``: re-exported)
    from .assertions import TreeShape as TreeShape
    from .assertions import assert_at_most_once as assert_at_most_once
    from .assertions import assert_exactly_once as assert_exactly_once
    from .assertions import assert_replay_deterministic as assert_replay_deterministic
    from .assertions import assert_settled as assert_settled
    from .assertions import assert_tree as assert_tree
    from .harness import DurableSim as DurableSim
    from .harness import UnmarkedDurableSimWarning as UnmarkedDurableSimWarning
    from .harness import WorldFailed as WorldFailed
    from .harness import WorldSettings as WorldSettings
    from .histories import assert_compatible as assert_compatible
    from .histories import durable_histories as durable_histories
    from .regression import durable_example as durable_example
    from .stateful import DurableMachine as DurableMachine
    from .strategies import DrawnWorld as DrawnWorld
    from .strategies import World as World
    from .strategies import fault_plans as fault_plans
    from .strategies import pinned_world as pinned_world
    from .strategies import worlds as worlds


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(_import_module(f"{__name__}.{home}"), name)
    globals()[name] = value  # found once; later uses are plain attribute reads
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_HOMES})
