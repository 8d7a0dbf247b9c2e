"""A world saved as JSON (``python -m sim run --out/--traces-dir``, the plugin's ``--durable-traces-dir``):
what it records so ``python -m sim replay FILE`` rebuilds its scenario from any folder, the format
version it is checked against, and how the re-run's violations compare with the recorded ones.

A world of the CLI records its target (``FILE.py:NAME`` with an absolute path, or ``MODULE:NAME`` with
the folder the module was imported from); a world of a pytest test has no target, so it records its
scenario as a spec (``sim.scenario.scenario_spec``: the workflow and functions by module and name, the
root's call, workers) and the folders their modules came from, or why it cannot be rebuilt.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from typing import Any

import attrs

from pytest_durable.core.codec import decode, encode
from pytest_durable.core.errors import EncodingError, UsageError

from ..checks import Violation
from ..scenario import NOT_GIVEN, Scenario, build, load_scenario, scenario_spec
from ..world import RunResult
from . import render

#: Format versions replay reads: 2 (a target as given on the command line, no scenario spec) and the
#: current one.
READABLE = (2, render.FORMAT_VERSION)


def portable_target(target: str) -> str:
    """``FILE.py:NAME`` with FILE made absolute, so the world loads from any folder; ``MODULE:NAME`` as given."""
    where, sep, name = target.rpartition(":")
    if sep and where and (where.endswith(".py") or "/" in where or os.sep in where):
        return f"{os.path.abspath(where)}:{name}"
    return target


def import_root(module_name: str) -> str | None:
    """The folder ``module_name`` was imported from (the ``sys.path`` entry it lies under), if known."""
    module = sys.modules.get(module_name)
    file = getattr(module, "__file__", None)
    if not isinstance(file, str) or module_name == "__main__":
        return None
    root = os.path.dirname(os.path.abspath(file))
    levels = module_name.count(".") + (1 if os.path.basename(file) == "__init__.py" else 0)
    for _ in range(levels):
        root = os.path.dirname(root)
    return root


def _roots(modules: Sequence[str]) -> list[str]:
    found = [import_root(m) for m in modules]
    return list(dict.fromkeys(r for r in found if r is not None))


def scenario_fields(scenario: Scenario) -> dict[str, Any]:
    """What a saved world of a pytest test records to rebuild ``scenario``: its spec and the folders its
    modules came from, its expected value and how many invariants it had; or why it cannot be rebuilt."""
    try:
        spec = scenario_spec(scenario)
    except UsageError as exc:
        return {"unreplayable": str(exc).removeprefix("hash-seed check: ")}
    fields: dict[str, Any] = {
        "scenario": spec,
        "sys_path": _roots([f.__module__ for f in scenario.all_functions()]),
        "invariants": len(scenario.invariants),
    }
    if scenario.dependencies:
        fields["unreplayable"] = (f"its scenario takes dependencies ({', '.join(sorted(scenario.dependencies))}) "
                                  "as factories the test passed, which a saved file cannot carry")
    if scenario.expected is not NOT_GIVEN:
        try:
            fields["expected"] = encode(scenario.expected, what="the expected value")
        except EncodingError as exc:
            fields["unreplayable"] = f"its expected value cannot be saved: {exc}"
    if isinstance(scenario.outcomes, tuple):
        try:
            fields["outcomes"] = encode(list(scenario.outcomes), what="the acceptable outcomes")
        except EncodingError as exc:
            fields["unreplayable"] = f"its acceptable outcomes cannot be saved: {exc}"
    elif scenario.outcomes is not NOT_GIVEN:
        fields["unreplayable"] = "its acceptable outcomes are a predicate, which a saved file cannot carry"
    return fields


def to_json(result: RunResult, scenario: Scenario | None = None, *, coverage: str = "") -> dict[str, Any]:
    """``render.to_json`` of ``result`` with what replay needs to find its scenario from any folder: an
    absolute target (and the import root of a module target), or, without a target, ``scenario``'s spec;
    and ``coverage``, what the sweep that found it had covered by then (``points: 15 of 23 single faults``)."""
    data = render.to_json(result)
    if coverage:
        data["coverage"] = coverage
    if result.target:
        data["target"] = portable_target(result.target)
        module = result.target.rpartition(":")[0]
        if data["target"] == result.target:
            data["sys_path"] = _roots([module])
    elif scenario is not None:
        data.update(scenario_fields(scenario))
    return data


def dumps(result: RunResult, scenario: Scenario | None = None, *, coverage: str = "") -> str:
    return json.dumps(to_json(result, scenario, coverage=coverage), indent=None, separators=(",", ":"))


def check_format(data: object, where: str) -> dict[str, Any]:
    """``data`` read from ``where`` if it is a saved world of a format this version reads; else one
    ``UsageError`` naming the file and the version."""
    if not isinstance(data, dict) or "events" not in data:
        raise UsageError(f"{where}: not a saved world (a JSON file written by --out or --traces-dir)")
    version = data.get("format")
    if version not in READABLE:
        said = "no format version" if version is None else f"format version {version!r}"
        raise UsageError(f"{where}: {said}, but this version of pytest-durable reads saved worlds of format "
                         f"{' or '.join(map(str, READABLE))}; save the world again with this version")
    return data


@attrs.frozen
class Replayable:
    """A saved world's scenario, rebuilt, with the target to record and what replay cannot check."""

    scenario: Scenario
    target: str = ""
    unchecked: int = 0  # invariants the test had, which the file cannot carry


def scenario_of(data: dict[str, Any], where: str, override: str | None = None) -> Replayable:
    """The scenario a saved world ran: ``override`` (``--target``), else its recorded target, else its
    recorded spec; one ``UsageError`` saying why when none can be had."""
    if override:
        return Replayable(load_scenario(override), override)
    for folder in data.get("sys_path", []):
        if folder not in sys.path:
            sys.path.insert(0, folder)
    if data.get("target"):
        return Replayable(load_scenario(data["target"]), data["target"])
    hint = "pass --target FILE.py:NAME naming a scenario (or a function returning one) that runs the same workflow"
    if data.get("unreplayable"):
        raise UsageError(f"{where} cannot be replayed on its own: {data['unreplayable']}; {hint}")
    spec = data.get("scenario")
    if not spec:
        raise UsageError(f"{where} names no target and no scenario; {hint}")
    try:
        scenario = build(spec)
    except (ImportError, AttributeError, AssertionError) as exc:
        raise UsageError(f"{where}: cannot rebuild its scenario ({spec.get('workflow')}): {type(exc).__name__}: "
                         f"{exc}; {hint}") from None
    if "expected" in data:
        scenario = attrs.evolve(scenario, expected=decode(data["expected"]))
    if "outcomes" in data:
        values = decode(data["outcomes"])
        if not isinstance(values, list) or not values:
            raise UsageError(f"{where}: its acceptable outcomes are not a list of values; save the world again")
        scenario = attrs.evolve(scenario, outcomes=tuple(values))
    return Replayable(scenario, unchecked=int(data.get("invariants", 0)))


def compare_violations(recorded: Sequence[str], rerun: Sequence[Violation]) -> tuple[bool, list[str]]:
    """Whether the re-run broke the same checks as the recorded world, and lines saying so, naming those
    that differ."""
    now = [str(v) for v in rerun]
    if list(recorded) == now:
        if not now:
            return True, ["violations: none, as recorded"]
        return True, [f"violations: the same {len(now)} as recorded", *(f"  {v}" for v in now)]
    lines = [f"violations differ: recorded {len(recorded)}, re-run {len(now)}"]
    lines += [f"  only recorded: {v}" for v in recorded if v not in now]
    lines += [f"  only in the re-run: {v}" for v in now if v not in recorded]
    if len(lines) == 1:  # the same ones in another order
        lines += [f"  recorded order: {'; '.join(recorded)}", f"  re-run order:   {'; '.join(now)}"]
    return False, lines
