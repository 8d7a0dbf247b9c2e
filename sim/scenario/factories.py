"""The dependencies of one simulated process incarnation, made from ``Scenario(dependencies=...)``.

A real process builds its clients when it starts, so a restarted one has new ones; each incarnation
therefore calls every factory once, taking it from its fresh copies of the user's modules
(``sim.kernel.isolation``) so that a fake's module-level state does not survive a crash either.
"""

from __future__ import annotations

from pytest_durable.core.errors import UsageError

from ..kernel.isolation import FreshModules
from .scenario import Scenario


class FactoryError(UsageError):
    """A dependency factory of the scenario raised: the world cannot start, whichever process made it
    first; ``run_world`` raises it as itself, never as a failing world."""


def make_dependencies(scenario: Scenario, fresh: FreshModules) -> dict[str, object]:
    """The dependencies of one process incarnation: each factory of ``scenario`` called once, taken
    from the incarnation's fresh module copies (so a fake's module state does not survive a crash)."""
    made: dict[str, object] = {}
    for name, factory in scenario.dependencies.items():
        try:
            made[name] = fresh.same(factory)()
        except Exception as exc:
            raise FactoryError(f"Scenario(dependencies=...): the factory for {name!r} raised "
                             f"{type(exc).__name__}: {exc}; it is called with no arguments once per process "
                             "incarnation") from exc
    return made
