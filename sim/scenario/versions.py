"""The versions of a scenario's code: version 1 (its own functions) and, with ``Scenario(upgrade=...)``,
version 2 (the same names as module ``upgrade.to`` defines them, and what that module adds).

A process incarnation runs one version, as a real process runs the code it started with; the replay
oracle replays each workflow with the version that would replay it in production. Each version says
which functions a worker registers and which modules an incarnation copies fresh.
"""

from __future__ import annotations

from typing import Any

import attrs

from pytest_durable.sdk import DurableFunction

from ..kernel.isolation import is_user_module
from .isolate import isolated_modules
from .scenario import Scenario


@attrs.frozen
class Version:
    """One version of a scenario's code: its number (1, 2), the module it is named by, the functions a
    worker of it registers and the modules each of its incarnations gets fresh copies of."""

    number: int
    module: str
    functions: tuple[DurableFunction[..., Any], ...]
    isolated: tuple[str, ...]

    @property
    def label(self) -> str:
        """``v2 (examples.deploy.orders_v2_patched)``: how a report names it."""
        return f"v{self.number} ({self.module})"


_CACHE: dict[int, tuple[Scenario, tuple[Version, ...]]] = {}


def versions(scenario: Scenario) -> tuple[Version, ...]:
    """Version 1, and version 2 when ``scenario`` names an upgrade (cached per scenario)."""
    cached = _CACHE.get(id(scenario))
    if cached is not None and cached[0] is scenario:
        return cached[1]
    made = _make(scenario)
    if len(_CACHE) >= 256:
        _CACHE.clear()
    _CACHE[id(scenario)] = (scenario, made)
    return made


def _make(scenario: Scenario) -> tuple[Version, ...]:
    old = tuple(scenario.all_functions())
    first = Version(1, scenario.workflow.__module__, old, isolated_modules(scenario))
    upgrade = scenario.upgrade
    if upgrade is None:
        return (first,)
    defined = upgrade.functions()  # the scenario checked that it redefines some of ``old``
    new = tuple(defined.pop(fn.name, fn) for fn in old) + tuple(defined.values())
    isolated = first.isolated
    if scenario.isolate is not False and upgrade.to not in isolated and is_user_module(upgrade.to):
        isolated = (*isolated, upgrade.to)
    return first, Version(2, upgrade.to, new, isolated)


__all__ = ["Version", "versions"]
