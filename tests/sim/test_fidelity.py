"""What production does after a crash is what a world does (issue 8, items 8, 9 and 12): a restarted
process has fresh module state and another clock reading, and another process another str hash seed."""

from __future__ import annotations

import itertools
import os
import re
import subprocess
import sys
from pathlib import Path

import attrs
import pytest

import tests.helpers.fidelity_scenarios as fs
import tests.helpers.sim_scenarios as ss
from pytest_durable.core import codec
from pytest_durable.core.errors import UsageError
from sim import RunResult, Scenario, run_world
from sim.kernel.isolation import FreshModules
from sim.kernel.wallclock import EPOCH
from sim.reports.command import interpreter
from sim.scenario import isolated_modules

DEFAULTS = "crash,drop,reject"  # the CLI's default fault kinds
ROOT = Path(__file__).resolve().parents[2]


def first_failing(scenario: Scenario, seeds: int = 300, faults: str = DEFAULTS) -> RunResult | None:
    for seed in range(seeds):
        result = run_world(scenario, seed=seed, faults=faults)
        if not result.ok:
            return result
    return None


# -- item 8: process memory ---------------------------------------------------------------------------


def test_a_charge_guarded_by_a_module_level_set_is_found_by_a_default_sweep() -> None:
    found = first_failing(fs.guarded_charge())
    assert found is not None, "300 seeds of crash,drop,reject never charged twice"
    assert found.seed is not None
    lines = [str(v) for v in found.violations if v.check == "user"]
    assert any("'charge:order-7' was recorded 2 times" in line for line in lines), found.violations
    by = {e.process for e in found.ledger.made("charge:order-7")}
    assert len(by) == 2, by  # two incarnations (or processes), each with its own empty set
    # the same worlds with module state shared (as before isolation) never charge twice: the bug hid
    # there (the set outlives even the world, so later worlds skip the charge: exactly_once says so)
    shared = attrs.evolve(fs.guarded_charge(), isolate=False)
    assert not any("recorded 2 times" in str(v) for s in range(found.seed + 1)
                   for v in run_world(shared, seed=s, faults=DEFAULTS).violations)


def test_its_twin_with_an_idempotency_key_passes_1000_seeds_of_all_faults() -> None:
    scenario = fs.keyed_charge()
    failing = [(s, r.violations) for s in range(1000) if not (r := run_world(scenario, seed=s, faults="all")).ok]
    assert failing == []


def test_processes_and_incarnations_do_not_share_module_state() -> None:
    """Each leaf records which copy of its module it ran in: one per incarnation, never one another
    incarnation holds at the same time (a copy an ended one left unchanged may serve a later one:
    sim.kernel.copy_pool; tests/sim/test_copy_pool.py shows a changed one never does)."""
    runs = (run_world(fs.spread_scenario(), seed=s, faults="crash") for s in range(200))
    result = next(r for r in runs if len({e.process for e in r.ledger.entries}) >= 3)  # a restart ran leaves
    tokens: dict[str, set[str]] = {}
    for entry in result.ledger.entries:
        tokens.setdefault(entry.process, set()).add(entry.key)
    assert all(len(t) == 1 for t in tokens.values()), tokens  # one copy per incarnation
    lives = _lifetimes(result)
    for (a, ta), (b, tb) in itertools.combinations(tokens.items(), 2):
        if lives[a][0] < lives[b][1] and lives[b][0] < lives[a][1]:  # alive at the same time
            assert ta != tb, (a, b, tokens)
    assert f"token {fs._TOKEN}" not in {t for ts in tokens.values() for t in ts}  # nor the test's module
    assert {p.split("#")[0] for p in tokens} == {"w1", "w2"}, tokens


def _lifetimes(result: RunResult) -> dict[str, tuple[float, float]]:
    """When each process incarnation (``w1#2``) started and ended (crashed, or the world ended)."""
    lives: dict[str, tuple[float, float]] = {}
    for event in result.trace:
        if event.kind == "start":
            lives[event.who] = (event.time, float("inf"))
        elif event.kind == "crash" and event.who in lives:
            lives[event.who] = (lives[event.who][0], event.time)
    return lives


def test_values_decode_as_the_incarnations_own_classes_inside_it_and_as_sys_modules_outside() -> None:
    text = codec.encode(ss.Item(3), what="item")
    fresh = FreshModules(["tests.helpers.sim_scenarios"])
    token = codec.class_modules.set(fresh.get)
    try:
        inside = codec.decode(text)
    finally:
        codec.class_modules.reset(token)
    outside = codec.decode(text)
    assert type(inside) is fresh.module("tests.helpers.sim_scenarios").Item and type(inside) is not ss.Item
    assert type(outside) is ss.Item and outside == ss.Item(3)
    assert fresh.module("tests.helpers.sim_scenarios")._RUNS is not ss._RUNS


def test_isolate_widens_narrows_or_turns_off_the_set_of_fresh_modules() -> None:
    base = fs.guarded_charge()
    assert isolated_modules(base) == ("tests.helpers.fidelity_scenarios",)
    assert isolated_modules(attrs.evolve(base, isolate=("tests.helpers.sim_scenarios",))) == (
        "tests.helpers.fidelity_scenarios", "tests.helpers.sim_scenarios")
    assert isolated_modules(attrs.evolve(base, isolate=("-tests.helpers.fidelity_scenarios",))) == ()
    assert isolated_modules(attrs.evolve(base, isolate=False)) == ()
    with pytest.raises(UsageError, match=r"'no\.such\.module' is not an imported module"):
        isolated_modules(attrs.evolve(base, isolate=("no.such.module",)))
    with pytest.raises(UsageError, match="isolate must be True, False or a tuple of module names"):
        attrs.evolve(base, isolate="tests.helpers.sim_scenarios")  # type: ignore[arg-type]


def test_a_widened_module_is_fresh_too() -> None:
    """A module named in isolate= that the workflow's module imports is the incarnation's copy."""
    fresh = FreshModules(["tests.helpers.fidelity_scenarios", "sim.bench.scale"])
    scope = {"__builtins__": vars(fresh.module("tests.helpers.fidelity_scenarios"))["__builtins__"], "__name__": "user"}
    exec("from sim.bench import scale\nfrom sim.bench.scale import Job\nimport time", scope)
    assert scope["scale"] is fresh.module("sim.bench.scale") and scope["Job"] is fresh.module("sim.bench.scale").Job
    assert scope["time"] is not __import__("time")  # the virtual clock
    import sim.bench.scale

    assert scope["Job"] is not sim.bench.scale.Job


# -- item 12: wall-clock reads ------------------------------------------------------------------------


def test_clocks_in_user_code_read_virtual_time() -> None:
    result = run_world(fs.clocks_scenario(), seed=0)
    assert result.ok, result.violations
    wall, dt, day, mono = codec.decode(result.root.value)  # type: ignore[union-attr, arg-type, misc]
    assert 30 <= wall - EPOCH < 40 and 30 <= mono < 40, (wall, mono)  # after the 30 s durable sleep
    assert dt == wall and day == "2023-11-14"


def test_a_branch_on_wall_clock_elapsed_time_is_found_within_300_seeds() -> None:
    found = first_failing(fs.wallclock_quote())
    assert found is not None, "300 seeds never replayed the quote check late"
    assert found.seed is not None
    assert any(v.id.startswith("pay") for v in found.violations), found.violations
    # read from the real clock (isolation off) the same worlds all pass: the bug hid there
    real = attrs.evolve(fs.wallclock_quote(), isolate=False)
    assert all(run_world(real, seed=s, faults=DEFAULTS).ok for s in range(found.seed + 1))


def test_its_twin_reading_ctx_now_passes_300_seeds() -> None:
    assert first_failing(fs.recorded_quote()) is None


# -- item 9: str hash order ---------------------------------------------------------------------------


def sim_run(target: str, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONHASHSEED": "0"}  # the sweep's seed; the check re-runs under 1
    return subprocess.run([sys.executable, "-m", "sim", "run", target, "--seeds", "5", *extra], cwd=ROOT,
                          env=env, capture_output=True, text=True, check=False)


def test_check_hash_seed_catches_a_set_of_strings_iterated_to_decide_children() -> None:
    plain = sim_run("tests.helpers.fidelity_scenarios:set_order")
    assert plain.returncode == 0, plain.stdout + plain.stderr  # one interpreter, one order: it hides
    checked = sim_run("tests.helpers.fidelity_scenarios:set_order", "--check-hash-seed")
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert "seed 0: FAILED hash-seed: seed 0 traced" in checked.stdout
    assert "under PYTHONHASHSEED=1: it depends on the hash order of strings" in checked.stdout
    python = interpreter(cwd=str(ROOT))  # the interpreter that ran the sweep (sim.reports.command)
    assert f"reproduce: PYTHONHASHSEED=1 {python} -m sim run tests.helpers.fidelity_scenarios:set_order --seed 0" in (
        checked.stdout)


def test_check_hash_seed_passes_the_sorted_twin() -> None:
    checked = sim_run("tests.helpers.fidelity_scenarios:sorted_order", "--check-hash-seed")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "hash-seed check: 5 passing world(s) traced the same under PYTHONHASHSEED=1" in checked.stdout


PLUGIN_TEST = '''
import pytest
import trio

from pytest_durable import Context, function

NAMES = ("ann", "bob", "cyd", "dee", "eve", "fay", "gus", "hal")


@function
async def tell(name: str) -> str:
    await trio.sleep(0.1)
    return name


@function
async def tell_set(ctx: Context) -> int:
    for name in set(NAMES):
        await ctx.run(tell, name)
    return len(NAMES)


@function
async def tell_sorted(ctx: Context) -> int:
    for name in sorted(set(NAMES)):
        await ctx.run(tell, name)
    return len(NAMES)


@pytest.mark.durable(seeds=3)
def test_set(durable_sim):
    durable_sim.run(tell_set, id="tell")


@pytest.mark.durable(seeds=3)
def test_sorted(durable_sim):
    durable_sim.run(tell_sorted, id="tell")
'''


def test_the_plugin_switch_catches_set_iteration_and_passes_sorted(tmp_path: Path) -> None:
    (tmp_path / "test_tell.py").write_text(PLUGIN_TEST)
    env = {**os.environ, "PYTHONHASHSEED": "0"}

    def pytest_run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--durable-seed=5",
                               "-q", *args], cwd=tmp_path, capture_output=True, text=True, env=env, check=False)

    hidden = pytest_run("--durable-hash-seed=off")
    assert hidden.returncode == 0, hidden.stdout  # one interpreter, one order: it hides
    # the default run re-runs each test's fault-free world under another hash seed and finds it there
    plain = pytest_run()
    assert plain.returncode == 1 and "1 failed, 1 passed" in plain.stdout, plain.stdout
    assert "AssertionError: hash-seed: the fault-free world traced" in plain.stdout, plain.stdout
    assert re.search(r"^world 1 of \d+ \(run seed 5\): the fault-free world: root tell", plain.stdout, re.M)
    assert "durable: hash seed: 1 fault-free world traced the same under PYTHONHASHSEED=1" in plain.stdout
    bad = pytest_run("--durable-hash-seed=sometimes")
    assert bad.returncode == 4 and "--durable-hash-seed: one of fault-free|off, got 'sometimes'" in bad.stderr
    checked = pytest_run("--durable-check-hash-seed")
    assert checked.returncode == 1, checked.stdout
    assert "1 failed, 1 passed" in checked.stdout, checked.stdout
    assert "FAILED test_tell.py::test_set - AssertionError: hash-seed: " in checked.stdout, checked.stdout
    assert "it depends on the hash order of strings" in checked.stdout
    # the report describes the world that traced differently (named as the aimed sweep names it: the
    # fault-free world, one fault at a point, a swarm world's seed), not the test's last world
    differs = re.search(r"AssertionError: hash-seed: (.+?) traced ([0-9a-f]+) here", checked.stdout)
    header = re.search(r"^world \d+ of \d+ \(run seed 5\): (.+?): root .* trace ([0-9a-f]+)$", checked.stdout, re.M)
    assert differs is not None and header is not None, checked.stdout
    assert (header[1], header[2]) == (differs[1], differs[2]), checked.stdout
    assert "plugin.py" not in checked.stdout  # no frame of ours: the check's verdict is its one line
    by_ini = pytest_run("-o", "durable_check_hash_seed=true")  # the ini twin
    assert by_ini.returncode == 1 and "1 failed, 1 passed" in by_ini.stdout, by_ini.stdout


DEPENDENCY_TEST = '''
import pytest
from pytest_durable import dependency, function


class Counter:
    def __init__(self) -> None:
        self.n = 0


@function
async def bump(n: int) -> int:
    counter = dependency("counter")
    counter.n += n
    return counter.n


@function
async def bumps(ctx) -> list[int]:
    return [await ctx.run(bump, i) for i in range(3)]


@pytest.mark.durable(seeds=2, faults="crash")
def test_importable(durable_sim):
    durable_sim.run(bumps, id="b", dependencies={"counter": Counter})


@pytest.mark.durable(seeds=1, faults="none")
def test_lambda(durable_sim):
    durable_sim.run(bumps, id="b", dependencies={"counter": lambda: Counter()})
'''


def test_the_hash_seed_check_gives_the_subprocess_the_test_s_dependencies(tmp_path: Path) -> None:
    """The re-run world reads the same dependencies (a class by module and name), so it is the same world:
    no false alarm; a factory another process cannot import is one clear error saying what to do."""
    (tmp_path / "test_deps.py").write_text(DEPENDENCY_TEST)
    out = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--durable-seed=5", "-q",
                          "--durable-check-hash-seed", "test_deps.py"], cwd=tmp_path, capture_output=True, text=True,
                         check=False)
    assert "1 failed, 1 passed" in out.stdout, out.stdout
    assert "FAILED test_deps.py::test_lambda - pytest_durable.core.errors.UsageError" in out.stdout, out.stdout
    assert "hash-seed check: dependency 'counter' comes from <function test_lambda.<locals>.<lambda>" in out.stdout
    assert "make its factory a class or a function defined at module level" in out.stdout
