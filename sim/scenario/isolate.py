"""Which modules a scenario's process incarnations get fresh copies of (``Scenario(isolate=...)``).

By default those that define the scenario's durable functions (the workflow and ``functions``), except
this project's packages (``pytest_durable``, ``sim``), ``__main__``, the standard library and installed
packages (site-packages); ``isolate`` widens or narrows the set, or turns it off. The copies themselves
are the kernel's (``sim.kernel.isolation``).
"""

from __future__ import annotations

from pytest_durable.core.errors import UsageError

from ..kernel.isolation import is_user_module, source_file
from .scenario import Scenario

_NAMES: dict[int, tuple[Scenario, tuple[str, ...]]] = {}  # id(scenario) -> the modules it isolates


def isolated_modules(scenario: Scenario) -> tuple[str, ...]:
    """The modules every process incarnation of ``scenario`` gets fresh copies of (cached per scenario)."""
    cached = _NAMES.get(id(scenario))
    if cached is not None and cached[0] is scenario:
        return cached[1]
    names = _resolve(scenario)
    if len(_NAMES) >= 256:  # many scenario objects (e.g. drawn by Hypothesis): keep the cache small
        _NAMES.clear()
    _NAMES[id(scenario)] = (scenario, names)
    return names


def _resolve(scenario: Scenario) -> tuple[str, ...]:
    setting = scenario.isolate
    if setting is False:
        return ()
    names: list[str] = []
    for fn in scenario.all_functions():
        if fn.__module__ not in names and is_user_module(fn.__module__):
            names.append(fn.__module__)
    if setting is True:
        return tuple(names)
    for entry in setting:
        name = entry[1:] if entry.startswith("-") else entry
        if entry.startswith("-"):
            if name in names:
                names.remove(name)
            continue
        if source_file(name) is None:
            raise UsageError(f"Scenario(isolate=...): {name!r} is not an imported module with Python source; "
                             "import it first, or name the module by its full dotted name")
        if name not in names:
            names.append(name)
    return tuple(names)
