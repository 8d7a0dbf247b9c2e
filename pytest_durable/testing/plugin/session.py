"""The test run as a whole: its seed (chosen, kept in pytest's cache for ``last``, handed to xdist
workers), the options checked at start-up so a bad one stops the run before any test, the header line
saying what each durable test covers, and the closing summary: how many worlds ran in each phase, a line
when an aimed phase reached its cap, and (under ``-v``) each durable test's coverage."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from sim import FaultConfig
from sim.cli.usage import check_writable_dir

from ...core.errors import UsageError
from .options import (
    MAX_SEED,
    OPTIONS,
    TRACE_MODES,
    aim_cap,
    aim_on,
    flag,
    hash_seed_mode,
    number,
    progress_after,
    setting,
    store_kind,
)
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
        seed = int(raw)
    except ValueError:
        raise pytest.UsageError(f"--durable-seed: expected a number, 'last' or 'random', got {raw!r}") from None
    if not 0 <= seed <= MAX_SEED:
        shown = raw if len(raw) <= 20 else f"a {len(raw)}-digit number"
        raise pytest.UsageError(f"--durable-seed: a seed is a whole number from 0 to 2**63-1, got {shown}")
    return seed


def pytest_configure(config: pytest.Config) -> None:
    seed = run_seed(config)
    if setting(config, "trace") not in TRACE_MODES:
        raise pytest.UsageError(f"--durable-trace: one of {'|'.join(TRACE_MODES)}, got {setting(config, 'trace')!r}")
    flag(config, "check_determinism")
    flag(config, "check_hash_seed")
    hash_seed_mode(config)
    aim_on(config)
    aim_cap(config)
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
        for name in ("traces_dir", "html"):  # folders failing worlds go to
            directory = setting(config, name)
            if directory and getattr(config, "workerinput", None) is None:
                check_writable_dir(directory, where=OPTIONS[name].cli)
    except UsageError as exc:
        raise pytest.UsageError(str(exc)) from None


def pytest_report_header(config: pytest.Config) -> str:
    """The run seed, and what each durable test covers."""
    scale = number(config, "seeds_scale", float)
    scaled = f"; every durable test's seeds x{scale:g} (--durable-seeds-scale)" if scale != 1 else ""
    seeds: int = number(config, "seeds", int)
    plural = "s" if seeds != 1 else ""
    if aim_on(config):
        covers = (f"the fault-free world, every single-fault point (cap {aim_cap(config)}), then {seeds} swarm "
                  f"world{plural}")
    else:
        covers = f"{seeds} seeded world{plural} (--durable-aim=off)"
    return f"durable: seed={config.stash[STATE].seed}; each durable test: {covers}{scaled}"


def pytest_unconfigure(config: pytest.Config) -> None:
    """End the hash-seed subprocess of this session (or xdist worker), if one was started."""
    state = config.stash.get(STATE, None)
    if state is not None and state.hash_seed is not None:
        state.hash_seed.close()
        state.hash_seed = None


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
        self.phases: dict[str, int] = {}
        self.coverage: list[tuple[str, str]] = []
        self.capped: list[tuple[str, int, int]] = []  # (node id, cap, points left out)
        self.hash_same = 0
        self.hash_seed = ""
        self.hash_skipped: list[str] = []  # why a test's fault-free world could not be re-run

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
        for phase, n in json.loads(str(props.get("durable_phases", "{}"))).items():
            self.phases[phase] = self.phases.get(phase, 0) + int(n)
        if "durable_coverage" in props:
            self.coverage.append((report.nodeid, str(props["durable_coverage"])))
        if "durable_capped" in props:
            cap, left = json.loads(str(props["durable_capped"]))
            self.capped.append((report.nodeid, int(cap), int(left)))
        if "durable_hash_seed" in props:
            same, seed, skipped = json.loads(str(props["durable_hash_seed"]))
            self.hash_same += int(same)
            self.hash_seed = str(seed)
            if skipped:
                self.hash_skipped.append(f"{report.nodeid}: {skipped}")
        if "durable_trace" in props:
            self.state.failing_traces.append(str(props["durable_trace"]))
        if "durable_html" in props:
            self.state.failing_pages.append(str(props["durable_html"]))

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not (self.state.worlds or self.interrupted) or getattr(self.config, "workerinput", None) is not None:
            return
        worlds = f"{self.state.worlds} simulated world{'s' if self.state.worlds != 1 else ''}"
        line = f"durable: {worlds} ran (seed={self.state.seed}){self._by_phase()}{self.interrupted}"
        if self.state.failing_traces:
            line += f"; traces of failing worlds written to {Path(self.state.failing_traces[0]).parent}"
        if self.state.failing_pages:
            line += f"; timelines of failing worlds drawn in {Path(self.state.failing_pages[0]).parent}"
        terminalreporter.write_line(line)
        if self.capped:
            tests = len({nodeid for nodeid, _, _ in self.capped})
            terminalreporter.write_line(
                f"durable: the single-fault phase reached its cap of {self.capped[0][1]} worlds in {tests} "
                f"test{'s' if tests != 1 else ''} ({sum(left for _, _, left in self.capped)} points not run); widen "
                f"it with --durable-aim-cap=N (ini {OPTIONS['aim_cap'].ini}, env {OPTIONS['aim_cap'].env})")
        if self.hash_same or self.hash_skipped:
            text = (f"durable: hash seed: {self.hash_same} fault-free world{'s' if self.hash_same != 1 else ''} traced "
                    f"the same under PYTHONHASHSEED={self.hash_seed}")
            if self.hash_skipped:
                text += f"; {len(self.hash_skipped)} test(s) not re-run ({self.hash_skipped[0]})"
            terminalreporter.write_line(text)
        if self.coverage and self.config.get_verbosity() >= 1:
            terminalreporter.write_sep("-", "durable coverage")
            for nodeid, covered in self.coverage:
                terminalreporter.write_line(f"{nodeid}: {covered}")

    def _by_phase(self) -> str:
        """``: 3 fault-free, 180 single-fault, 60 swarm`` (nothing when every world was a seeded one)."""
        if set(self.phases) <= {"seeded"}:
            return ""
        names = {"fault-free": "fault-free", "single": "single-fault", "swarm": "swarm", "seeded": "seeded"}
        return ": " + ", ".join(f"{self.phases[p]} {name}" for p, name in names.items() if self.phases.get(p))
