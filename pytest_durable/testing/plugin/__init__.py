"""The pytest plugin: options, the ``durable`` marker, fixtures, per-seed runs and failure reports.

Registered by the ``pytest11`` entry point and by ``-p pytest_durable``: both register the package,
whose ``pytest_plugins`` names this module (the package itself imports no pytest, so the runtime can
run without it). It imports the simulator only inside hooks and fixtures: ``sim`` itself imports this
package's lower layers.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import os
import random
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import pytest

# the package registers this too when pytest was imported first; a script that imported the package
# before pytest gets it here, still before the assertions module is imported
pytest.register_assert_rewrite("pytest_durable.testing.assertions")

from ..assertions import repr_compare  # noqa: E402
from ..harness import DurableSim, WorldSettings  # noqa: E402

TRACE_MODES = ("short", "tree", "full", "none")


@attrs.frozen
class Option:
    """One setting: its command-line flag, ini key and environment variable, and its default."""

    name: str
    help: str
    default: Any
    flag: bool = False

    @property
    def cli(self) -> str:
        return "--durable-" + self.name.replace("_", "-")

    @property
    def ini(self) -> str:
        return "durable_" + self.name

    @property
    def env(self) -> str:
        return "PYTEST_DURABLE_" + self.name.upper()


OPTIONS = {
    o.name: o
    for o in (
        Option("seed", "the run's seed: a number, 'last' (the previous run's) or 'random' (default)", "random"),
        Option("seeds", "worlds per durable test (default 20)", "20"),
        Option("seeds_scale", "multiply every durable test's worlds (the marker's seeds too) by this factor, for a "
               "nightly deep run: --durable-seeds-scale=10 (default 1)", "1"),
        Option("faults", "fault kinds for every world, e.g. crash,drop,reject (default crash,drop,reject)",
               "crash,drop,reject"),
        Option("trace", "what a failing world's report shows: short|tree|full|none (default tree)", "tree"),
        Option("traces_dir", "write each failing world as JSON into this folder", ""),
        Option("html", "write each failing world's timeline as a self-contained HTML page into this folder", ""),
        Option("check_determinism", "run every world twice and fail if the traces differ", "false", flag=True),
        Option("check_hash_seed", "re-run each durable test's passing worlds in one subprocess under another "
               "PYTHONHASHSEED and fail if a trace differs (str hash order)", "false", flag=True),
        Option("workers", "worker processes per world (default 2)", "2"),
        Option("quiesce_after", "no new faults after this many virtual seconds (default 120)", "120"),
        Option("budget", "liveness: virtual seconds the root may take to settle after faults stop, plus 0.1 s per "
               "promise the world makes (default 600)", "600"),
        Option("progress", "a durable test still running after this many seconds shows its worlds done and failing "
               "on its terminal line (a terminal only); 0 from the first world, 'off' never (default 1)", "1"),
        Option("store", "the store every world runs over: memory|sqlite|postgres (sqlite: a fresh SQLite file per "
               "world, so checks 1 and 6 judge the real SQL store; postgres: a fresh schema per world in the "
               "database $DURABLE_PG_DSN names) (default memory)", "memory"),
    )
}
MARKER_ARGS = {"seeds": int, "faults": str, "workers": int, "quiesce_after": float, "budget": float, "plan": str,
               "store": str, "outcomes": object}


@attrs.define
class RunState:
    """The session's durable state: the run seed, what ran, and the test running now."""

    seed: int
    worlds: int = 0
    failing_traces: list[str] = attrs.field(factory=list)
    failing_pages: list[str] = attrs.field(factory=list)
    current: TestState | None = None


@attrs.define
class TestState:
    """One test: its seed, the index of the world running now, and its ``DurableSim``."""

    item: pytest.Item
    test_seed: int
    settings: Callable[[int], WorldSettings]
    sim: DurableSim | None = None
    index: int = 0
    runs: list[tuple[Any, Any, int]] = attrs.field(factory=list)  # (WorldSettings, Scenario, world index) of
    # each run, for --durable-check-hash-seed
    differs: tuple[Any, int] | None = None  # (RunResult, world index): the world that check found

    def world_settings(self) -> WorldSettings:
        return self.settings(derive(self.test_seed, str(self.index)))


STATE = pytest.StashKey[RunState]()
TEST = pytest.StashKey[TestState]()


def derive(seed: int, *parts: str) -> int:
    """A 32-bit seed from ``seed`` and ``parts``: the same on every machine and process."""
    digest = hashlib.sha256("/".join([str(seed), *parts]).encode()).digest()
    return int.from_bytes(digest[:4], "big")


# -- options --------------------------------------------------------------------------------------------


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    from .. import hookspecs

    pluginmanager.add_hookspecs(hookspecs)


def pytest_addoption(parser: pytest.Parser) -> None:
    from .. import profiles

    profiles.register()  # before Hypothesis's plugin loads --hypothesis-profile
    group = parser.getgroup("durable", "durable workflows in simulated worlds (pytest-durable)")
    for option in OPTIONS.values():
        help = f"{option.help}; ini {option.ini}, env {option.env}"
        if option.flag:
            group.addoption(option.cli, action="store_const", const="true", default=None, dest=option.ini, help=help)
        else:
            group.addoption(option.cli, default=None, dest=option.ini, help=help)
        parser.addini(option.ini, help=option.help, default=None)


def setting(config: pytest.Config, name: str, marker: pytest.Mark | None = None) -> str:
    """A setting resolved marker > command line > environment > ini > default."""
    if marker is not None and name in marker.kwargs:
        return str(marker.kwargs[name])
    option = OPTIONS[name]
    from_cli = config.getoption(option.ini)
    if from_cli is not None:
        return str(from_cli)
    from_env = os.environ.get(option.env)
    if from_env:
        return from_env
    from_ini = config.getini(option.ini)
    if from_ini:
        return str(from_ini)
    return str(option.default)


def _number(config: pytest.Config, name: str, cast: Callable[[str], Any], marker: pytest.Mark | None = None,
            minimum: float = 0) -> Any:
    raw = setting(config, name, marker)
    try:
        value = cast(raw)
    except ValueError:
        value = None
    if value is None or value < minimum or not math.isfinite(value):
        where = "@pytest.mark.durable" if marker is not None and name in marker.kwargs else OPTIONS[name].cli
        finite = "finite " if value is not None and not math.isfinite(value) else ""
        raise pytest.UsageError(f"{where}: {name} must be a {finite}number >= {minimum:g}, got {raw!r}")
    return value


def worlds_of(config: pytest.Config, marker: pytest.Mark | None) -> int:
    """How many worlds a durable test runs: its seeds (marker > option > env > ini > 20) times
    ``--durable-seeds-scale``, rounded up."""
    seeds: int = _number(config, "seeds", int, marker, minimum=1)
    scale: float = _number(config, "seeds_scale", float)
    return max(1, math.ceil(seeds * scale))


def overridden(config: pytest.Config, marker: pytest.Mark | None) -> str:
    """What the marker takes over from options the user gave (command line, environment or ini), in
    words: ``faults from the marker; --durable-faults ignored``; empty when nothing was."""
    if marker is None:
        return ""
    parts = []
    for name in sorted(set(marker.kwargs) & set(OPTIONS)):
        option = OPTIONS[name]
        if config.getoption(option.ini) is not None or os.environ.get(option.env) or config.getini(option.ini):
            parts.append(f"{name} from the marker; {option.cli} ignored")
    return "; ".join(parts)


def _flag(config: pytest.Config, name: str) -> bool:
    raw = setting(config, name).lower()
    if raw not in ("true", "false", "1", "0", "yes", "no"):
        raise pytest.UsageError(f"{OPTIONS[name].cli}: {name} must be true or false, got {raw!r}")
    return raw in ("true", "1", "yes")


def _progress_after(config: pytest.Config) -> float | None:
    """--durable-progress: seconds into a test before its progress shows, or None for 'off'."""
    if setting(config, "progress").lower() in ("off", "no", "false", "never"):
        return None
    after: float = _number(config, "progress", float)
    if math.isnan(after):
        raise pytest.UsageError(f"--durable-progress: progress must be a number >= 0 or 'off', got "
                                f"{setting(config, 'progress')!r}")
    return after


def _store_kind(config: pytest.Config, marker: pytest.Mark | None = None) -> str:
    from sim.world.stores import STORE_KINDS, check_store_kind

    from ...core.errors import UsageError

    raw = setting(config, "store", marker)
    where = "@pytest.mark.durable" if marker is not None and "store" in marker.kwargs else OPTIONS["store"].cli
    if raw not in STORE_KINDS:
        raise pytest.UsageError(f"{where}: store must be one of {'|'.join(STORE_KINDS)}, got {raw!r}")
    try:
        return check_store_kind(raw, where=where)
    except UsageError as exc:
        raise pytest.UsageError(str(exc)) from None


def _run_seed(config: pytest.Config) -> int:
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
    config.addinivalue_line(
        "markers",
        "durable(seeds=N, faults='crash,drop', workers=N, quiesce_after=S, budget=S, "
        "plan='crash(w1, after_create, x.1)', store='memory|sqlite|postgres', outcomes=('done', 'refunded')): "
        "run the test once per simulated world (pytest-durable)",
    )
    seed = _run_seed(config)
    if setting(config, "trace") not in TRACE_MODES:
        raise pytest.UsageError(f"--durable-trace: one of {'|'.join(TRACE_MODES)}, got {setting(config, 'trace')!r}")
    _flag(config, "check_determinism")
    _flag(config, "check_hash_seed")
    _store_kind(config)
    for name, cast, minimum in (("seeds", int, 1), ("workers", int, 1), ("quiesce_after", float, 0),
                                ("budget", float, 0), ("seeds_scale", float, 0)):
        _number(config, name, cast, minimum=minimum)  # a bad value stops the run before any test
    _progress_after(config)
    if _number(config, "seeds_scale", float) <= 0:
        raise pytest.UsageError(f"--durable-seeds-scale: must be a number > 0, got {setting(config, 'seeds_scale')!r}")
    _check_start(config)
    state = config.stash[STATE] = RunState(seed=seed)
    config.pluginmanager.register(Reporter(state, config), "durable-reporter")
    cache = getattr(config, "cache", None)  # absent with -p no:cacheprovider
    if cache is not None and getattr(config, "workerinput", None) is None:
        cache.set("durable/seed", seed)


def _check_start(config: pytest.Config) -> None:
    """Options judged at start-up, even when no durable test is selected: fault kinds, and the
    folder failing worlds go to (made now, so a bad one fails before any world, not at the first failure)."""
    from sim import FaultConfig
    from sim.cli.usage import check_writable_dir

    from ...core.errors import UsageError

    try:
        FaultConfig.parse(setting(config, "faults"), where=OPTIONS["faults"].cli)
        directory = setting(config, "traces_dir")
        if directory and getattr(config, "workerinput", None) is None:
            check_writable_dir(directory, where=OPTIONS["traces_dir"].cli)
    except UsageError as exc:
        raise pytest.UsageError(str(exc)) from None


def pytest_report_header(config: pytest.Config) -> str:
    scale = _number(config, "seeds_scale", float)
    scaled = f"; every durable test's worlds x{scale:g} (--durable-seeds-scale)" if scale != 1 else ""
    return f"durable: seed={config.stash[STATE].seed}{scaled}"


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """pytest-xdist: every worker runs with the controller's seed."""
    node.workerinput["durable_seed"] = node.config.stash[STATE].seed


def _check_marker(item: pytest.Item, marker: pytest.Mark) -> None:
    where = f"{item.nodeid}: @pytest.mark.durable"
    if marker.args:
        raise pytest.UsageError(f"{where} takes keyword arguments only ({', '.join(MARKER_ARGS)}), got {marker.args!r}")
    for key, value in marker.kwargs.items():
        cast = MARKER_ARGS.get(key)
        if cast is None:
            raise pytest.UsageError(f"{where}: unknown argument {key!r}; it takes {', '.join(MARKER_ARGS)}")
        if cast is object:  # outcomes: several values or a predicate (sim.outcomes)
            _check_marker_outcomes(value, where)
            continue
        ok = isinstance(value, str) if cast is str else (
            isinstance(value, (int, float)) and not isinstance(value, bool) and value >= (1 if cast is int else 0)
            and (cast is float or isinstance(value, int)) and math.isfinite(value)
        )
        if not ok:
            raise pytest.UsageError(f"{where}: {key}={value!r} is not valid; {key} must be a "
                                    f"{'string' if cast is str else 'positive ' + cast.__name__}")
    from sim import FaultConfig, FaultPlan

    try:
        if "faults" in marker.kwargs:
            FaultConfig.parse(marker.kwargs["faults"])
        if "plan" in marker.kwargs:
            FaultPlan.parse(marker.kwargs["plan"])
    except Exception as exc:
        raise pytest.UsageError(f"{where}: {exc}") from None
    from sim.world.stores import STORE_KINDS

    if "store" in marker.kwargs and marker.kwargs["store"] not in STORE_KINDS:
        raise pytest.UsageError(f"{where}: store must be one of {'|'.join(STORE_KINDS)}, "
                                f"got {marker.kwargs['store']!r}")


def _check_marker_outcomes(value: object, where: str) -> None:
    from sim.scenario.outcomes import checked_outcomes

    from ...core.errors import UsageError

    try:
        checked_outcomes(value, where)
    except UsageError as exc:
        raise pytest.UsageError(str(exc)) from None


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """``@durable_example`` worlds: a plain test gets each as its ``world`` argument; a ``@given``
    test (decorated below ``@given``) gets each as an explicit Hypothesis example."""
    from ..regression import pinned_examples

    examples = pinned_examples(metafunc.function)
    if not examples:
        return
    if hasattr(metafunc.function, "hypothesis"):
        import hypothesis

        if not getattr(metafunc.function, "_durable_examples_applied", False):
            for argname, world in examples:
                hypothesis.example(**{argname: world})(metafunc.function)
            metafunc.function._durable_examples_applied = True
        return
    names = {argname for argname, _ in examples}
    if len(names) != 1:
        raise pytest.UsageError(f"{metafunc.definition.nodeid}: @durable_example worlds must all use one argument "
                                f"name, got {sorted(names)}")
    metafunc.parametrize(names.pop(), [w for _, w in examples], ids=[f"pinned{i}" for i in range(len(examples))])


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        marker = item.get_closest_marker("durable")
        if marker is not None:
            _check_marker(item, marker)


# -- running a test's worlds ----------------------------------------------------------------------------


def _settings_for(item: pytest.Item) -> Callable[[int], WorldSettings]:
    config = item.config
    marker = item.get_closest_marker("durable")
    faults = setting(config, "faults", marker)
    workers = _number(config, "workers", int, marker, minimum=1)
    quiesce = _number(config, "quiesce_after", float, marker)
    budget = _number(config, "budget", float, marker)
    plan = str(marker.kwargs.get("plan", "")) if marker is not None else ""
    determinism = _flag(config, "check_determinism")
    store = _store_kind(config, marker)
    outcomes = marker.kwargs.get("outcomes") if marker is not None else None

    def settings(seed: int) -> WorldSettings:
        return WorldSettings(seed=seed, faults=faults, plan=plan, workers=workers, quiesce_after=quiesce, budget=budget,
                             check_determinism=determinism, store=store, outcomes=outcomes)

    return settings


def pytest_runtest_setup(item: pytest.Item) -> None:
    state = item.config.stash[STATE]
    test = TestState(item, derive(state.seed, item.nodeid), _settings_for(item))
    item.stash[TEST] = test
    state.current = test


def _sim_for(test: TestState) -> DurableSim:
    if test.sim is None:
        module = getattr(getattr(test.item, "module", None), "__name__", "")
        test.sim = DurableSim(test.world_settings, test.item.config.hook, test.item, module)
    return test.sim


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """A ``durable`` test runs its body once per world; the first failing world stops it."""
    marker = pyfuncitem.get_closest_marker("durable")
    if marker is None:
        return None
    __tracebackhide__ = True
    seeds = worlds_of(pyfuncitem.config, marker)
    test = pyfuncitem.stash[TEST]
    args = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
    progress = _progress_for(pyfuncitem, seeds)
    from sim.kernel.interrupts import keep_interrupts

    try:
        with keep_interrupts():  # a Ctrl-C that lands in a finalizer between worlds is not lost
            for index in range(seeds):
                test.index = index
                pyfuncitem.obj(**args)
                if progress is not None and progress.due():
                    progress.show(index + 1, sum(not r.ok for r in test.sim.results) if test.sim is not None else 0)
    finally:
        if progress is not None:
            progress.close()
    if _flag(pyfuncitem.config, "check_hash_seed"):
        _check_hash_seed(test)
    return True


def _progress_for(item: pytest.Item, seeds: int) -> Any:
    from ..progress import for_item

    after = _progress_after(item.config)
    return None if after is None else for_item(item, seeds, after)


@pytest.hookimpl(trylast=True)
def pytest_durable_configure_world(item: pytest.Item, world: Any) -> None:
    test = item.stash.get(TEST, None)
    if test is not None and _flag(item.config, "check_hash_seed"):
        test.runs.append((world, None, test.index))


@pytest.hookimpl(tryfirst=True)
def pytest_durable_fault_points(item: pytest.Item, scenario: Any) -> Any:
    test = item.stash.get(TEST, None)
    if test is not None and test.runs and test.runs[-1][1] is None:
        world, _, index = test.runs[-1]
        test.runs[-1] = (world, scenario, index)
    return None


def _check_hash_seed(test: TestState) -> None:
    """--durable-check-hash-seed: re-run the test's passing worlds under another hash seed, one
    subprocess per scenario, and fail on the first whose trace differs."""
    __tracebackhide__ = True
    import json

    from sim import SimConfig
    from sim.runner import hashseed

    results = test.sim.results if test.sim is not None else []
    batches: dict[str, tuple[dict[str, Any], SimConfig, list[Any], list[tuple[Any, int]]]] = {}
    for (settings, scenario, index), result in zip(test.runs, results, strict=False):
        if scenario is None or not result.ok:
            continue
        spec = hashseed.scenario_spec(scenario)
        spec["store"] = settings.store
        config = settings.config or SimConfig()
        key = json.dumps([spec, attrs.asdict(config)], sort_keys=True)
        job = hashseed.Job(result.seed, settings.faults, settings.plan, settings.quiesce_after, result.trace_hash,
                           tuple(result.decisions) if result.seed is None else ())
        batch = batches.setdefault(key, (spec, config, [], []))
        batch[2].append(job)
        batch[3].append((result, index))
    for spec, config, jobs, worlds in batches.values():
        found = hashseed.first_difference(spec, config, jobs)
        if found is not None:
            test.differs = worlds[found.index]  # the failure report describes this world, not the last
            raise AssertionError(f"{found} (rerun with PYTHONHASHSEED={found.hash_seed} to see it here)")


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> None:
    if call.when != "call":
        return
    test = item.stash.get(TEST, None)
    if test is None or test.sim is None:
        return
    item.user_properties.append(("durable_worlds", len(test.sim.results)))
    if call.excinfo is not None and test.sim.results and not call.excinfo.errisinstance(pytest.skip.Exception):
        item.add_report_section("call", "durable", _failure_report(item, test, call.excinfo.value))


class UnmarkedDurableSimWarning(UserWarning):
    """A test used ``durable_sim`` without ``@pytest.mark.durable``: it ran one seeded world, not one per seed."""


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Any:
    """After a test that passed: warn if it used ``durable_sim`` without the marker (in the call, so
    ``-W error::...UnmarkedDurableSimWarning`` fails the test)."""
    __tracebackhide__ = True
    result = yield
    test = item.stash.get(TEST, None)
    if test is not None:
        _warn_unmarked(item, test)
    return result


def _warn_unmarked(item: pytest.Item, test: TestState) -> None:
    """Say how many worlds a test without the marker ran, and why only one seed."""
    runs = test.sim.seeded_runs if test.sim is not None else 0
    if not runs or item.get_closest_marker("durable") is not None:
        return
    calls = f" ({runs} durable_sim.run calls, all in it)" if runs > 1 else ""
    item.warn(UnmarkedDurableSimWarning(
        f"{item.name} has no @pytest.mark.durable, so durable_sim ran 1 world (world seed {test.world_settings().seed})"
        f"{calls}; mark it @pytest.mark.durable to run {worlds_of(item.config, None)} worlds (--durable-seeds), "
        "one per seed"))


def _failure_report(item: pytest.Item, test: TestState, error: BaseException) -> str:
    from sim.reports import render, saved

    assert test.sim is not None and test.sim.last is not None
    result, index = test.differs or (test.sim.last, test.index)  # every world passed; one traced differently
    state = item.config.stash[STATE]
    mode = setting(item.config, "trace")
    marker = item.get_closest_marker("durable")
    of = f"world {index + 1} of {worlds_of(item.config, marker)}" if marker else "world"
    ignored = overridden(item.config, marker)
    if ignored:
        of += f" ({ignored})"
    lines = [f"{of} (run seed {state.seed}): {render.headline(result)}"]
    custom = item.config.hook.pytest_durable_format_trace(item=item, result=result)
    if custom is not None:
        lines.append(str(custom))
    elif mode != "none":
        lines += render.summary(result).splitlines()[1:]
        if not result.violations:
            first_line = str(error).splitlines()[0] if str(error) else ""
            lines.append(f"  the test failed: {type(error).__name__}: {first_line}")
        if mode in ("tree", "full"):
            lines.append("execution tree:")
            lines += render.world_tree(result).splitlines()
        if mode == "full":
            lines.append("trace:")
            lines += render.text(result.trace).splitlines()
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


def _write_timeline(item: pytest.Item, result: Any, failure: str) -> str:
    """``--durable-html=DIR``: the failing world's page (sim.timeline), with the test's ``failure`` when no
    check of the world failed, and the report line naming it."""
    from sim.reports import timeline

    path = Path(setting(item.config, "html")) / (re.sub(r"[^\w.-]+", "_", item.nodeid) + f"-seed{result.seed}.html")
    try:
        timeline.write(result, path, failure=failure)
    except OSError as exc:
        return f"timeline not written: {path}: {exc.strerror or exc}"
    item.user_properties.append(("durable_html", str(path)))
    return f"timeline written to {path}"


def reproduce_command(item: pytest.Item, seed: int) -> str:
    """``python -m pytest NODEID --durable-seed=N`` for the interpreter that runs this session
    (``sim.command``), from the folder pytest was started in, with the durable options and ``-p
    pytest_durable…`` given on its command line (the environment and ini file apply again by themselves)."""
    from sim.reports.command import python_m

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


def pytest_assertrepr_compare(config: pytest.Config, op: str, left: object, right: object) -> list[str] | None:
    return repr_compare(op, left, right)


# -- fixtures -----------------------------------------------------------------------------------------


class _CurrentSim:
    """The ``durable_sim`` fixture: session-scoped, so it is safe under Hypothesis ``@given``; every
    call goes to the ``DurableSim`` of the test running now."""

    def __init__(self, state: RunState) -> None:
        self._state = state

    def _sim(self) -> DurableSim:
        __tracebackhide__ = True
        if self._state.current is None:
            raise RuntimeError("durable_sim is used outside a running test")
        return _sim_for(self._state.current)

    def __getattr__(self, name: str) -> Any:
        __tracebackhide__ = True
        return getattr(self._sim(), name)


class _CurrentLedger:
    """The ``ledger`` fixture: the ledger of the world the current test ran last."""

    def __init__(self, state: RunState) -> None:
        self._state = state

    def __getattr__(self, name: str) -> Any:
        __tracebackhide__ = True
        test = self._state.current
        last = test.sim.last if test is not None and test.sim is not None else None
        if last is None:
            raise RuntimeError("ledger: no world has run in this test yet; call durable_sim.run(...) first")
        return getattr(last.ledger, name)


@pytest.fixture(scope="session")
def durable_sim(pytestconfig: pytest.Config) -> Any:
    """Runs durable workflows in simulated worlds: ``durable_sim.run(workflow, *args, id="job")``."""
    return _CurrentSim(pytestconfig.stash[STATE])


@pytest.fixture(scope="session")
def ledger(pytestconfig: pytest.Config) -> Any:
    """The crash-proof record of outside effects of the last world: ``ledger.assert_exactly_once("charge")``."""
    return _CurrentLedger(pytestconfig.stash[STATE])


@pytest.fixture
def durable_seed(request: pytest.FixtureRequest) -> int:
    """This test's seed (derived from the run seed and the test's node id)."""
    test: TestState = request.node.stash[TEST]
    return test.test_seed
