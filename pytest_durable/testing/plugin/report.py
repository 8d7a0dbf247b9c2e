"""What a failing durable test's report shows: a ``durable`` section naming the world (its seed, the
faults, the execution tree, per ``--durable-trace``), where its trace and timeline were written, and one
line that brings the same world back; and the line diff of two execution trees for ``assert_tree``."""

from __future__ import annotations

import itertools
import os
import re
from pathlib import Path
from typing import Any

import pytest

from sim.reports import render, saved, timeline
from sim.reports.command import python_m

from ..assertions import repr_compare
from .options import OPTIONS, overridden, setting, worlds_of
from .state import STATE, TEST, TestState


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> None:
    if call.when != "call":
        return
    test = item.stash.get(TEST, None)
    if test is None or test.sim is None:
        return
    item.user_properties.append(("durable_worlds", len(test.sim.results)))
    if call.excinfo is not None and test.sim.results and not call.excinfo.errisinstance(pytest.skip.Exception):
        item.add_report_section("call", "durable", failure_report(item, test, call.excinfo.value))


def pytest_assertrepr_compare(config: pytest.Config, op: str, left: object, right: object) -> list[str] | None:
    return repr_compare(op, left, right)


def failure_report(item: pytest.Item, test: TestState, error: BaseException) -> str:
    """The ``durable`` section of a failing test's report: the world it failed in (or the one
    ``--durable-check-hash-seed`` found), what ran in it, and how to run it again."""
    assert test.sim is not None and test.sim.last is not None
    result, index = test.differs or (test.sim.last, test.index)  # every world passed; one traced differently
    state = item.config.stash[STATE]
    marker = item.get_closest_marker("durable")
    of = f"world {index + 1} of {worlds_of(item.config, marker)}" if marker else "world"
    ignored = overridden(item.config, marker)
    if ignored:
        of += f" ({ignored})"
    lines = [f"{of} (run seed {state.seed}): {render.headline(result)}"]
    lines += _world_lines(item, result, error)
    directory = setting(item.config, "traces_dir")
    if directory:
        path = Path(directory) / (re.sub(r"[^\w.-]+", "_", item.nodeid) + f"-seed{result.seed}.json")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(saved.dumps(result, test.sim.scenario_of(result)))
        lines.append(f"trace written to {path}")
        item.user_properties.append(("durable_trace", str(path)))
    if setting(item.config, "html"):
        lines.append(_write_timeline(item, result, "" if result.violations else f"{type(error).__name__}: {error}"))
    world = test.sim.world_of(result)
    if world is not None:
        lines.append(f"reproduce: {world.pinned()}")
    else:
        lines.append(f"reproduce: {reproduce_command(item, state.seed)}")
    return "\n".join(lines)


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


def _write_timeline(item: pytest.Item, result: Any, failure: str) -> str:
    """``--durable-html=DIR``: the failing world's page (sim.reports.timeline), with the test's ``failure`` when no
    check of the world failed, and the report line naming it."""
    path = Path(setting(item.config, "html")) / (re.sub(r"[^\w.-]+", "_", item.nodeid) + f"-seed{result.seed}.html")
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
