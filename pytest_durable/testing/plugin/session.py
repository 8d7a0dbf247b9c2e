"""The test run as a whole: its seed (chosen, kept in pytest's cache for ``last``, handed to xdist
workers), the options checked at start-up so a bad one stops the run before any test, the header line,
and the closing summary of how many worlds ran."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from sim import FaultConfig
from sim.cli.usage import check_writable_dir

from ...core.errors import UsageError
from .options import OPTIONS, TRACE_MODES, flag, number, progress_after, setting, store_kind
from .state import STATE, RunState


def run_seed(config: pytest.Config) -> int:
    """The run's seed: the controller's (in an xdist worker), else ``--durable-seed`` (a number, ``last``
    or ``random``)."""
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None and "durable_seed" in workerinput:
        return int(workerinput["durable_seed"])
    raw = setting(config, "seed")
    if raw == "random":
        return random.Random().getrandbits(32)
    if raw == "last":
        cache = getattr(config, "cache", None)
        last = cache.get("durable/seed", None) if cache is not None else None
        if last is None:
            raise pytest.UsageError("--durable-seed=last: no earlier run left a seed in pytest's cache; give a number")
        if isinstance(last, bool) or not isinstance(last, int):
            raise pytest.UsageError(f"--durable-seed=last: pytest's cache holds {last!r} as the last seed, not a "
                                    "number (the cache was edited or corrupted); give a number, or run once without "
                                    "--durable-seed=last to store a new one")
        return last
    try:
        return int(raw)
    except ValueError:
        raise pytest.UsageError(f"--durable-seed: expected a number, 'last' or 'random', got {raw!r}") from None


def pytest_configure(config: pytest.Config) -> None:
    seed = run_seed(config)
    if setting(config, "trace") not in TRACE_MODES:
        raise pytest.UsageError(f"--durable-trace: one of {'|'.join(TRACE_MODES)}, got {setting(config, 'trace')!r}")
    flag(config, "check_determinism")
    flag(config, "check_hash_seed")
    store_kind(config)
    for name, cast, minimum in (("seeds", int, 1), ("workers", int, 1), ("quiesce_after", float, 0),
                                ("budget", float, 0), ("seeds_scale", float, 0)):
        number(config, name, cast, minimum=minimum)  # a bad value stops the run before any test
    progress_after(config)
    if number(config, "seeds_scale", float) <= 0:
        raise pytest.UsageError(f"--durable-seeds-scale: must be a number > 0, got {setting(config, 'seeds_scale')!r}")
    check_start(config)
    state = config.stash[STATE] = RunState(seed=seed)
    config.pluginmanager.register(Reporter(state, config), "durable-reporter")
    cache = getattr(config, "cache", None)  # absent with -p no:cacheprovider
    if cache is not None and getattr(config, "workerinput", None) is None:
        cache.set("durable/seed", seed)


def check_start(config: pytest.Config) -> None:
    """Options judged at start-up, even when no durable test is selected: fault kinds, and the
    folder failing worlds go to (made now, so a bad one fails before any world, not at the first failure)."""
    try:
        FaultConfig.parse(setting(config, "faults"), where=OPTIONS["faults"].cli)
        directory = setting(config, "traces_dir")
        if directory and getattr(config, "workerinput", None) is None:
            check_writable_dir(directory, where=OPTIONS["traces_dir"].cli)
    except UsageError as exc:
        raise pytest.UsageError(str(exc)) from None


def pytest_report_header(config: pytest.Config) -> str:
    scale = number(config, "seeds_scale", float)
    scaled = f"; every durable test's worlds x{scale:g} (--durable-seeds-scale)" if scale != 1 else ""
    return f"durable: seed={config.stash[STATE].seed}{scaled}"


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """pytest-xdist: every worker runs with the controller's seed."""
    node.workerinput["durable_seed"] = node.config.stash[STATE].seed


class Reporter:
    """Counts worlds and failing traces, from this process or (under xdist) the workers' reports,
    and writes the terminal summary; one per session's config."""

    def __init__(self, state: RunState, config: pytest.Config) -> None:
        self.state = state
        self.config = config
        self.interrupted = ""

    def pytest_keyboard_interrupt(self) -> None:
        """Ctrl-C stops the run at once (the durable loop lets it through); say where it stopped."""
        test = self.state.current
        if test is not None and test.sim is not None:
            ran = len(test.sim.results)
            self.state.worlds += ran
            self.interrupted = f"; interrupted in {test.item.nodeid} after {ran} world{'s' if ran != 1 else ''}"

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when != "call":
            return
        props = dict(report.user_properties)
        self.state.worlds += int(str(props.get("durable_worlds", 0)))
        if "durable_trace" in props:
            self.state.failing_traces.append(str(props["durable_trace"]))
        if "durable_html" in props:
            self.state.failing_pages.append(str(props["durable_html"]))

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not (self.state.worlds or self.interrupted) or getattr(self.config, "workerinput", None) is not None:
            return
        worlds = f"{self.state.worlds} simulated world{'s' if self.state.worlds != 1 else ''}"
        line = f"durable: {worlds} ran (seed={self.state.seed}){self.interrupted}"
        if self.state.failing_traces:
            line += f"; traces of failing worlds written to {Path(self.state.failing_traces[0]).parent}"
        if self.state.failing_pages:
            line += f"; timelines of failing worlds drawn in {Path(self.state.failing_pages[0]).parent}"
        terminalreporter.write_line(line)
