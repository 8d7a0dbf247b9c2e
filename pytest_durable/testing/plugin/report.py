"""What a failing durable test's report shows: a ``durable`` section naming the world (an aimed world's
fault point or a swarm world's seed and fault mix, or a seeded world's seed; the faults, the execution tree,
per ``--durable-trace``), the coverage so far, where its trace and timeline were written, a pin for an aimed
world and one line that brings the same world back; what every durable test covered, for the summary; and
the line diff of two execution trees for ``assert_tree``."""

from __future__ import annotations

import itertools
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from sim.reports import render, saved, timeline
from sim.reports.command import python_m

from ..aiming import SWARM, pin_text
from ..assertions import repr_compare
from .loop import pinned_aim
from .options import OPTIONS, overridden, setting
from .state import STATE, TEST, TestState


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> None:
    if call.when != "call":
        return
    test = item.stash.get(TEST, None)
    if test is None or test.sim is None:
        return
    item.user_properties.append(("durable_worlds", len(test.sim.results)))
    item.user_properties.append(("durable_phases", json.dumps(phases(test))))
    if test.sweeps is not None and test.sweeps.positions:
        stopped = " (stopped at its first failing world)" if call.excinfo is not None else ""
        item.user_properties.append(("durable_coverage", test.sweeps.coverage() + stopped))
        capped = test.sweeps.capped()
        if capped:
            item.user_properties.append(("durable_capped", json.dumps([test.sweeps.cap, sum(capped)])))
    if call.excinfo is not None and test.sim.results and not call.excinfo.errisinstance(pytest.skip.Exception):
        item.add_report_section("call", "durable", failure_report(item, test, call.excinfo.value))


def pytest_assertrepr_compare(config: pytest.Config, op: str, left: object, right: object) -> list[str] | None:
    return repr_compare(op, left, right)


def phases(test: TestState) -> dict[str, int]:
    """How many of the test's worlds (``durable_sim.run`` calls) ran in each phase: ``fault-free``,
    ``single`` (one aimed fault), ``swarm``, or ``seeded`` (no sweep placed them)."""
    counts: dict[str, int] = {}
    for result in test.sim.results if test.sim is not None else []:
        planned = test.sweeps.planned_of(result) if test.sweeps is not None else None
        phase = planned.phase if planned is not None else "seeded"
        counts[phase] = counts.get(phase, 0) + 1
    return counts


def failure_report(item: pytest.Item, test: TestState, error: BaseException) -> str:
    """The ``durable`` section of a failing test's report: the world it failed in (or the one
    ``--durable-check-hash-seed`` found), what ran in it, the coverage so far, and how to run it again."""
    assert test.sim is not None and test.sim.last is not None
    result, index = test.differs or (test.sim.last, test.index)  # every world passed; one traced differently
    state = item.config.stash[STATE]
    marker = item.get_closest_marker("durable")
    of = f"world {index + 1}" + (f" of {test.total}" if test.total else "") if marker else "world"
    ignored = overridden(item.config, marker)
    if ignored:
        of += f" ({ignored})"
    pin = _pin_of(test, result, marker)
    headline = render.headline(result)
    what = test.sim.name_of(result)
    if what != result.name:  # the sweep's name for the world says more than "drawn world"
        headline = f"{what}: {headline.removeprefix(result.name + ': ')}"
    lines = [f"{of} (run seed {state.seed}): {headline}"]
    lines += _world_lines(item, result, error)
    if test.sweeps is not None and test.sweeps.positions:
        lines.append(f"coverage so far: {test.sweeps.coverage()}")
        if test.sweeps.capped():
            lines.append(f"the single-fault phase is capped at {test.sweeps.cap} worlds ({sum(test.sweeps.capped())} "
                         "points not run); widen it with --durable-aim-cap=N")
        unfired = test.sweeps.unfired()
        if unfired:
            lines.append(f"{len(unfired)} aimed point(s) did not fire (the world took another path: does the workflow "
                         f"read something outside ctx?): {', '.join(unfired[:3])}")
    directory = setting(item.config, "traces_dir")
    if directory:
        path = Path(directory) / (_file_stem(item, result, index) + ".json")
        path.parent.mkdir(parents=True, exist_ok=True)
        covered = test.sweeps.coverage() if test.sweeps is not None and test.sweeps.positions else ""
        path.write_text(saved.dumps(result, test.sim.scenario_of(result), coverage=covered))
        lines.append(f"trace written to {path}")
        item.user_properties.append(("durable_trace", str(path)))
    if setting(item.config, "html"):
        lines.append(_write_timeline(item, result, "" if result.violations else f"{type(error).__name__}: {error}",
                                     _file_stem(item, result, index)))
    world = test.sim.world_of(result)
    if pin is not None:
        lines.append(f"pin it: {_pin_line(marker, pin)}")
    if world is not None:
        lines.append(f"reproduce: {world.pinned()}")
    else:
        lines.append(f"reproduce: {reproduce_command(item, state.seed)}")
    return "\n".join(lines)


def _pin_of(test: TestState, result: Any, marker: pytest.Mark | None) -> str | None:
    """What ``aim=`` runs this world again, if an aimed world (a sweep's, or the marker's pin) it is."""
    planned = test.sweeps.planned_of(result) if test.sweeps is not None else None
    if planned is not None:
        return None if planned.phase == SWARM else pin_text(planned)
    return pinned_aim(marker) if result.seed is None else None


def _pin_line(marker: pytest.Mark | None, pin: str) -> str:
    """``@pytest.mark.durable(faults="crash", aim="at(crash, await pay.0)")``: the test's marker with the pin
    in place of its seeds (arguments that are not plain values, such as a predicate, left as they are)."""
    kept = {k: v for k, v in (marker.kwargs.items() if marker is not None else ()) if k not in ("seeds", "aim")}
    words = [f"{k}={json.dumps(v) if isinstance(v, str) else repr(v)}" for k, v in kept.items()
             if isinstance(v, (str, int, float, tuple, list))]
    words.append(f"aim={json.dumps(pin)}")
    return f"@pytest.mark.durable({', '.join(words)})"


def _world_lines(item: pytest.Item, result: Any, error: BaseException) -> list[str]:
    """The world as ``--durable-trace`` asks (or as a ``pytest_durable_format_trace`` hook writes it)."""
    custom = item.config.hook.pytest_durable_format_trace(item=item, result=result)
    if custom is not None:
        return [str(custom)]
    mode = setting(item.config, "trace")
    if mode == "none":
        return []
    lines = render.summary(result).splitlines()[1:]
    if not result.violations:
        first_line = str(error).splitlines()[0] if str(error) else ""
        lines.append(f"  the test failed: {type(error).__name__}: {first_line}")
    if mode in ("tree", "full"):
        lines.append("execution tree:")
        lines += render.world_tree(result).splitlines()
    if mode == "full":
        lines.append("trace:")
        lines += render.text(result.trace).splitlines()
    return lines


def _file_stem(item: pytest.Item, result: Any, index: int) -> str:
    """The name a failing world's files get: the test's node id, then its seed (or, for an aimed world,
    which has none, its number in the test)."""
    which = f"seed{result.seed}" if result.seed is not None else f"world{index + 1}"
    return re.sub(r"[^\w.-]+", "_", item.nodeid) + f"-{which}"


def _write_timeline(item: pytest.Item, result: Any, failure: str, stem: str) -> str:
    """``--durable-html=DIR``: the failing world's page (sim.reports.timeline), with the test's ``failure`` when no
    check of the world failed, and the report line naming it."""
    path = Path(setting(item.config, "html")) / (stem + ".html")
    try:
        timeline.write(result, path, failure=failure)
    except OSError as exc:
        return f"timeline not written: {path}: {exc.strerror or exc}"
    item.user_properties.append(("durable_html", str(path)))
    return f"timeline written to {path}"


def reproduce_command(item: pytest.Item, seed: int) -> str:
    """``python -m pytest NODEID --durable-seed=N`` for the interpreter that runs this session
    (``sim.reports.command``), from the folder pytest was started in, with the durable options and ``-p
    pytest_durable…`` given on its command line (the environment and ini file apply again by themselves)."""
    config = item.config
    where, sep, rest = item.nodeid.partition("::")
    if where:
        where = os.path.relpath(config.rootpath / where, config.invocation_params.dir)
    words = [where + sep + rest, f"--durable-seed={seed}"]
    for option in OPTIONS.values():
        value = config.getoption(option.ini)
        if option.name not in ("seed", "progress") and value is not None:
            words.append(option.cli if option.flag else f"{option.cli}={value}")
    given = list(config.invocation_params.args)
    for flag, value in itertools.pairwise([*given, ""]):  # each word and the one after it ("" after the last)
        plugin = value if flag == "-p" else flag[2:] if flag.startswith("-p") else ""
        if plugin.startswith("pytest_durable"):
            words += ["-p", plugin]
    return python_m("pytest", words)
