"""The pytest plugin, driven through ``pytester``: registration, the report header, the marker and its
validation, every option with its ini and environment twins, reproduce-from-seed, ``last``, xdist,
the hooks for third parties, the determinism check and the assertion helpers' diffs.

Most runs are in-process (fast); where a separate process is the point (reproducing a failure,
plugin autoloading switched off, xdist) they run as subprocesses.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from sim.reports.command import interpreter

pytest_plugins = ["pytester"]

# A module of durable functions every pytester project below imports.
WORKFLOWS = '''
import random

import trio

from pytest_durable import Context, function
from sim import ledger


@function
async def double(x: int) -> int:
    await trio.sleep(0.5)
    return 2 * x


@function
async def fan_out(ctx: Context, n: int) -> list[int]:
    futures = [await ctx.run(double, i).spawn() for i in range(n)]
    return [await f for f in futures]


@function
async def charge_in_body(ctx: Context, n: int) -> int:
    total = await ctx.run(double, 0)
    ledger().record("charge:card")  # BUG: an effect outside ctx.run happens again on replay
    for i in range(1, n):
        total += await ctx.run(double, i)
    return total


@function
async def reads_random(ctx: Context) -> int:
    return await ctx.run(double, int(random.random() * 1_000_000))  # BUG: not ctx.random()


@function
async def waits_random(ctx: Context, n: int) -> list[int]:
    with open("/dev/urandom", "rb") as entropy:  # BUG: randomness the world does not seed (random.random()
        await trio.sleep(entropy.read(1)[0] / 256)  # would be seeded): the same seed no longer gives the same world
    return [await ctx.run(double, i) for i in range(n)]
'''

# Records every world's settings (through the configure-world hook) as one JSON line.
RECORDER = '''
import json

import attrs
import pytest


@pytest.hookimpl(optionalhook=True)  # the recorder also sits in projects run with -p no:pytest_durable
def pytest_durable_configure_world(item, world):
    settings = attrs.asdict(world, filter=lambda a, v: a.name != "config")
    with open("worlds.jsonl", "a") as out:
        out.write(json.dumps({"test": item.nodeid, **settings}) + "\\n")
'''

PROBE = '''
import pytest

from workflows import fan_out


@pytest.mark.durable{marker}
def test_probe(durable_sim):
    assert durable_sim.run(fan_out, 2, id="job").value == [0, 2]
'''

BUGGY = '''
import pytest

from workflows import charge_in_body


@pytest.mark.durable(seeds=200, faults="crash")
def test_charges_once(durable_sim, ledger):
    durable_sim.run(charge_in_body, 3, id="job")
    ledger.assert_exactly_once("charge:")
'''


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    """A pytester project with the workflows module and the settings recorder."""
    pytester.makepyfile(workflows=WORKFLOWS)
    pytester.makeconftest(RECORDER)
    pytester.syspathinsert()
    return pytester


def worlds(pytester: pytest.Pytester) -> list[dict[str, object]]:
    path = pytester.path / "worlds.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def reset_worlds(pytester: pytest.Pytester) -> None:
    (pytester.path / "worlds.jsonl").unlink(missing_ok=True)


def durable_report(output: str) -> dict[str, str]:
    """The failing world's figures from a report: its number, its name (``seed 7`` for a seeded world, ``one
    fault: at(...)`` for an aimed one, ``swarm world, seed 7 (faults ...)``), trace hash and reproduce line."""
    head = re.search(r"world (\d+) of \d+ \(run seed (\d+)\): (.*?): root .*; (\d+) steps; .* trace ([0-9a-f]+)",
                     output)
    reproduce = re.search(r"^reproduce: (.+)$", output, re.M)
    assert head is not None and reproduce is not None, output
    return {"index": head[1], "world": head[3], "run_seed": head[2], "steps": head[4], "trace": head[5],
            "reproduce": reproduce[1]}


def run_subprocess(pytester: pytest.Pytester, *args: str, env: dict[str, str] | None = None
                   ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pytest", *args], cwd=pytester.path, capture_output=True,
                          text=True, env=env, timeout=300)


# -- registration ---------------------------------------------------------------------------------------


def test_the_distribution_declares_the_pytest11_entry_point_and_classifier() -> None:
    dist = metadata.distribution("pytest-durable")
    points = [e for e in dist.entry_points if e.group == "pytest11"]
    assert [(e.name, e.value) for e in points] == [("pytest_durable", "pytest_durable")]
    assert "Framework :: Pytest" in (dist.metadata.get_all("Classifier") or [])


def test_header_shows_the_run_seed(project: pytest.Pytester) -> None:
    project.makepyfile(test_plain="def test_ok(): pass")
    result = project.runpytest("--durable-seed=4711")
    result.stdout.fnmatch_lines(["durable: seed=4711; each durable test: the fault-free world, every single-fault "
                                 "point (cap 2000), then 20 swarm worlds"])
    result.assert_outcomes(passed=1)
    off = project.runpytest("--durable-seed=4711", "--durable-aim=off", "--durable-seeds=5")
    off.stdout.fnmatch_lines(["durable: seed=4711; each durable test: 5 seeded worlds (--durable-aim=off)"])


def test_without_autoload_dash_p_loads_the_plugin(project: pytest.Pytester,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    project.makepyfile(test_probe=PROBE.format(marker="(seeds=2)"))
    env = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    loaded = run_subprocess(project, "-p", "pytest_durable", "--durable-seed=7", "--strict-markers", env=env)
    assert loaded.returncode == 0, loaded.stdout + loaded.stderr
    assert "durable: seed=7;" in loaded.stdout
    assert re.search(r"durable: \d+ simulated worlds ran \(seed=7\): 1 fault-free, \d+ single-fault, 2 swarm\n",
                     loaded.stdout), loaded.stdout

    not_loaded = run_subprocess(project, "--durable-seed=7", env=env)
    assert not_loaded.returncode == pytest.ExitCode.USAGE_ERROR
    assert "unrecognized arguments: --durable-seed=7" in not_loaded.stderr


def test_dash_p_no_disables_the_plugin(project: pytest.Pytester) -> None:
    project.makepyfile(test_probe=PROBE.format(marker=""), test_plain="def test_ok(): pass")
    result = run_subprocess(project, "-p", "no:pytest_durable", "--strict-markers", "test_plain.py")
    assert result.returncode == 0 and "durable:" not in result.stdout
    marked = run_subprocess(project, "-p", "no:pytest_durable", "--strict-markers", "test_probe.py")
    assert "'durable' not found in `markers` configuration option" in marked.stdout


# -- the marker ------------------------------------------------------------------------------------------


def test_marker_is_registered(project: pytest.Pytester) -> None:
    project.makepyfile(test_probe=PROBE.format(marker="(seeds=3, faults='crash', workers=2, quiesce_after=30)"))
    project.runpytest("--markers").stdout.fnmatch_lines(["@pytest.mark.durable(seeds=N, faults=*"])
    result = project.runpytest("--strict-markers")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["durable: * simulated worlds ran (seed=*): 1 fault-free, * single-fault, 3 swarm"])


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ("(seeds=0)", "seeds=0 is not valid; seeds must be a positive int"),
        ("(seeds='ten')", "seeds='ten' is not valid; seeds must be a positive int"),
        ("(workers=1.5)", "workers=1.5 is not valid; workers must be a positive int"),
        ("(quiesce_after=-1)", "quiesce_after=-1 is not valid; quiesce_after must be a positive float"),
        ("(faults=3)", "faults=3 is not valid; faults must be a string"),
        ("(sedes=10)", "unknown argument 'sedes'; it takes seeds, faults, workers, quiesce_after, budget, plan, store, "
                       "outcomes, aim"),
        ("(10)",
         "takes keyword arguments only (seeds, faults, workers, quiesce_after, budget, plan, store, outcomes, aim), "
         "got (10,)"),
        ("(faults='crash,meteor')", "--faults: cannot read 'meteor'"),
        ("(plan='crash(w1)')", "fault plan: cannot read 'crash(w1)'"),
    ],
)
def test_bad_marker_arguments_are_a_usage_error_naming_the_test(project: pytest.Pytester, arguments: str,
                                                                message: str) -> None:
    project.makepyfile(test_probe=PROBE.format(marker=arguments))
    result = project.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*test_probe.py::test_probe: @pytest.mark.durable*{message}*"])
    assert worlds(project) == []


# -- options: each with its ini and environment twins, resolved marker > CLI > environment > ini ----------

# option -> (ini value, environment value, command-line value, marker value, the world setting it becomes)
LEVELS = {
    "seeds": ("2", "3", "4", 5, None),
    "faults": ("crash", "drop", "reject", "duplicate", "faults"),
    "workers": ("1", "2", "3", 4, "workers"),
    "quiesce_after": ("10", "20", "30", 40.0, "quiesce_after"),
}


def observed(pytester: pytest.Pytester, name: str) -> object:
    """What the worlds of the last run got for option ``name``."""
    seen = worlds(pytester)
    field = LEVELS[name][4]
    if field is None:
        return len(seen)
    values = {str(w[field]) for w in seen}
    assert len(values) == 1, values
    return values.pop()


@pytest.mark.parametrize("name", sorted(LEVELS))
def test_each_option_is_resolved_marker_then_cli_then_env_then_ini(project: pytest.Pytester,
                                                                   monkeypatch: pytest.MonkeyPatch,
                                                                   name: str) -> None:
    ini, env, cli, marker, _ = LEVELS[name]
    option = name.replace("_", "-")
    expect = [str(float(v)) if name == "quiesce_after" else str(v) for v in (ini, env, cli, marker)]
    if name == "seeds":
        expect = [str(v) for v in (ini, env, cli, marker)]
    # seeded worlds (--durable-aim=off, in the ini) each run the resolved seeds and faults as they are; the
    # aimed sweep's swarm worlds draw their own fault mix (tests/plugin/test_aimed.py covers the sweep)
    project.makeini(f"[pytest]\ndurable_{name} = {ini}\ndurable_aim = off\n")
    project.makepyfile(test_probe=PROBE.format(marker="(seeds=1)" if name != "seeds" else ""))
    project.runpytest().assert_outcomes(passed=1)
    assert str(observed(project, name)) == expect[0]

    reset_worlds(project)
    monkeypatch.setenv(f"PYTEST_DURABLE_{name.upper()}", env)
    project.runpytest().assert_outcomes(passed=1)
    assert str(observed(project, name)) == expect[1]

    reset_worlds(project)
    project.runpytest(f"--durable-{option}={cli}").assert_outcomes(passed=1)
    assert str(observed(project, name)) == expect[2]

    reset_worlds(project)
    arguments = f"({name}={marker!r}" + (", seeds=1)" if name != "seeds" else ")")
    project.makepyfile(test_probe=PROBE.format(marker=arguments))
    project.runpytest(f"--durable-{option}={cli}").assert_outcomes(passed=1)
    assert str(observed(project, name)) == expect[3]


@pytest.mark.parametrize(
    ("setting", "value"),
    [("seeds", "0"), ("seeds", "many"), ("workers", "0"), ("quiesce_after", "soon")],
)
def test_a_bad_option_value_is_a_usage_error_naming_the_option(project: pytest.Pytester, setting: str,
                                                               value: str) -> None:
    project.makepyfile(test_probe=PROBE.format(marker=""))
    result = project.runpytest(f"--durable-{setting.replace('_', '-')}={value}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*--durable-{setting.replace('_', '-')}: {setting} must be a number*{value!r}*"])


@pytest.mark.parametrize(("option", "value", "message"), [
    ("--durable-seed", "soon", "--durable-seed: expected a number, 'last' or 'random', got 'soon'"),
    ("--durable-trace", "loud", "--durable-trace: one of short|tree|full|none, got 'loud'"),
])
def test_a_bad_run_option_is_a_usage_error_before_any_test(project: pytest.Pytester, option: str, value: str,
                                                          message: str) -> None:
    project.makepyfile(test_probe=PROBE.format(marker=""))
    result = project.runpytest(f"{option}={value}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*{message}*"])
    assert worlds(project) == []


def test_seed_from_ini_env_and_cli(project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    project.makepyfile(test_plain="def test_ok(): pass")
    project.makeini("[pytest]\ndurable_seed = 11\n")
    project.runpytest().stdout.fnmatch_lines(["durable: seed=11; *"])
    monkeypatch.setenv("PYTEST_DURABLE_SEED", "22")
    project.runpytest().stdout.fnmatch_lines(["durable: seed=22; *"])
    project.runpytest("--durable-seed=33").stdout.fnmatch_lines(["durable: seed=33; *"])


def test_random_seed_differs_between_runs_and_shows_in_the_header(project: pytest.Pytester) -> None:
    project.makepyfile(test_plain="def test_ok(): pass")
    seeds = {re.search(r"durable: seed=(\d+)", project.runpytest().stdout.str())[1] for _ in range(3)}  # type: ignore[index]
    assert len(seeds) > 1


def test_each_test_seed_derives_from_the_run_seed_and_node_id(project: pytest.Pytester) -> None:
    project.makepyfile(test_many='''
        import pytest
        from workflows import fan_out

        @pytest.mark.durable(seeds=2)
        @pytest.mark.parametrize("n", [1, 2, 3])
        def test_probe(durable_sim, n, durable_seed):
            assert durable_sim.run(fan_out, n, id="job").seed is not None
            with open("seeds.txt", "a") as out:
                out.write(f"{n} {durable_seed}\\n")
    ''')

    def per_test(*args: str) -> dict[str, list[int]]:
        reset_worlds(project)
        (project.path / "seeds.txt").unlink(missing_ok=True)
        project.runpytest("--durable-seed=5", "--durable-aim=off", *args)  # seeded worlds, each its own seed
        seen: dict[str, list[int]] = {}
        for w in worlds(project):
            seen.setdefault(str(w["test"]), []).append(int(str(w["seed"])))
        return seen

    together = per_test()
    assert len(together) == 3 and all(len(s) == 2 and s[0] != s[1] for s in together.values())
    assert len({s[0] for s in together.values()}) == 3  # each test its own seed
    alone = per_test("-k", "test_probe and 2")
    name = "test_many.py::test_probe[2]"
    assert alone == {name: together[name]}  # the same worlds when the test runs alone
    other = per_test()
    assert other == together
    assert per_test("--durable-seed=6") != together


def test_trace_modes_choose_what_the_report_shows(project: pytest.Pytester,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    project.makepyfile(test_bug=BUGGY)
    shown = {}
    for mode in ("none", "short", "tree", "full"):
        out = project.runpytest(f"--durable-trace={mode}", "--durable-seed=1").stdout.str()
        marks = {"summary": "  the test failed: AssertionError", "tree": "execution tree:", "trace": "\ntrace:",
                 "reproduce": "reproduce: "}
        shown[mode] = tuple(name if text in out else "" for name, text in marks.items())
    assert shown == {
        "none": ("", "", "", "reproduce"),
        "short": ("summary", "", "", "reproduce"),
        "tree": ("summary", "tree", "", "reproduce"),
        "full": ("summary", "tree", "trace", "reproduce"),
    }
    monkeypatch.setenv("PYTEST_DURABLE_TRACE", "none")
    assert "execution tree:" not in project.runpytest("--durable-seed=1").stdout.str()
    monkeypatch.delenv("PYTEST_DURABLE_TRACE")
    project.makeini("[pytest]\ndurable_trace = full\n")
    assert "\ntrace:" in project.runpytest("--durable-seed=1").stdout.str()


@pytest.mark.parametrize("source", ["cli", "env", "ini"])
def test_traces_dir_gets_a_json_trace_of_each_failing_world(project: pytest.Pytester,
                                                            monkeypatch: pytest.MonkeyPatch, source: str) -> None:
    from sim.reports import render

    project.makepyfile(test_bug=BUGGY, test_plain="def test_ok(): pass")
    args = ["--durable-seed=3"]
    if source == "cli":
        args.append("--durable-traces-dir=out")
    elif source == "env":
        monkeypatch.setenv("PYTEST_DURABLE_TRACES_DIR", "out")
    else:
        project.makeini("[pytest]\ndurable_traces_dir = out\n")
    result = project.runpytest(*args)
    result.assert_outcomes(failed=1, passed=1)
    report = durable_report(result.stdout.str())
    written = sorted((project.path / "out").iterdir())
    # an aimed world has no seed: its file is named by its number in the test, and it keeps its plan point
    assert report["world"].startswith("one fault: at(crash, ")
    assert [p.name for p in written] == [f"test_bug.py_test_charges_once-world{report['index']}.json"]
    saved = json.loads(written[0].read_text())
    assert render.load_trace(saved).hash() == saved["trace_hash"] == report["trace"]
    assert saved["seed"] is None and saved["plan"] == report["world"].removeprefix("one fault: ")
    assert re.fullmatch(r"points: \d+ of \d+ single faults", saved["coverage"])  # what the test had covered
    result.stdout.fnmatch_lines(["trace written to out/test_bug.py_test_charges_once-world*.json",
                                 "durable: * simulated world* ran (seed=3)*; traces of failing worlds written to out"])


def test_a_workflow_whose_calls_depend_on_random_fails_its_checks(project: pytest.Pytester) -> None:
    project.makepyfile(test_random='''
        import pytest
        from workflows import reads_random

        @pytest.mark.durable(seeds=3, faults="none")
        def test_reads_random(durable_sim):
            durable_sim.run(reads_random, id="job")
    ''')
    result = project.runpytest("--durable-seed=1")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*nondeterminism: replaying job reads_random() over the store's records calls child "
                                 "job.0 as double(*); the store recorded double(*)"])


@pytest.mark.parametrize("source", ["cli", "env", "ini"])
def test_check_determinism_runs_each_world_twice_and_catches_random(project: pytest.Pytester,
                                                                    monkeypatch: pytest.MonkeyPatch,
                                                                    source: str) -> None:
    project.makepyfile(test_random='''
        import pytest
        from workflows import fan_out, waits_random

        @pytest.mark.durable(seeds=3, faults="none")
        def test_waits_random(durable_sim):
            assert durable_sim.run(waits_random, 2, id="job").value == [0, 2]

        @pytest.mark.durable(seeds=3, faults="crash,drop")
        def test_fan_out(durable_sim):
            durable_sim.run(fan_out, 3, id="job")
    ''')
    project.runpytest("--durable-seed=1").assert_outcomes(passed=2)  # without the check, nothing is seen
    assert {w["check_determinism"] for w in worlds(project)} == {False}
    reset_worlds(project)
    if source == "cli":
        args = ["--durable-check-determinism"]
    else:
        args = []
        if source == "env":
            monkeypatch.setenv("PYTEST_DURABLE_CHECK_DETERMINISM", "true")
        else:
            project.makeini("[pytest]\ndurable_check_determinism = true\n")
    result = project.runpytest("--durable-seed=1", *args)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*(7) determinism: *", "FAILED test_random.py::test_waits_random*"])
    assert {w["check_determinism"] for w in worlds(project)} == {True}


def test_check_determinism_covers_worlds_drawn_by_hypothesis(project: pytest.Pytester) -> None:
    """A drawn world's choices are used up in its run, so the check replays it pinned to the same
    choices; a workflow that reads ``/dev/urandom`` then traces differently."""
    project.makepyfile(test_drawn='''
        from hypothesis import given, settings
        from pytest_durable.testing.strategies import worlds
        from workflows import fan_out, waits_random

        @settings(max_examples=5, deadline=None, derandomize=True, database=None)
        @given(world=worlds("crash"))
        def test_waits_random(durable_sim, world):
            durable_sim.run(waits_random, 2, id="job", world=world)

        @settings(max_examples=5, deadline=None, derandomize=True, database=None)
        @given(world=worlds("crash,drop"))
        def test_fan_out(durable_sim, world):
            durable_sim.run(fan_out, 3, id="job", world=world)

        # a drawn world's plan point may rightly not fire; its replica does not warn about it
        @settings(max_examples=5, deadline=None, derandomize=True, database=None)
        @given(world=worlds("crash", plan="crash(w9, before_create, job.0)"))
        def test_fan_out_with_a_plan_no_request_matches(durable_sim, world):
            durable_sim.run(fan_out, 3, id="job", world=world)
    ''')
    # Each in a process of its own, as a user runs pytest: inside this test's process, after the first
    # run, the inner Hypothesis run goes on to shrink the failing case and explain it (tracing every
    # line) where a fresh process stops at the inconsistent replay: 27 s instead of 3.
    project.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=3)  # without the check, nothing
    result = project.runpytest_subprocess("-p", "no:cacheprovider", "--durable-check-determinism",
                                          "-W", "error::sim.UnfiredPlanWarning")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["*(7) determinism: the same world gave trace * then *; they part at event *",
                                 "FAILED test_drawn.py::test_waits_random*"])


def test_seed_last_reuses_the_previous_runs_seed(project: pytest.Pytester) -> None:
    project.makepyfile(test_plain="def test_ok(): pass")
    first = project.runpytest("--durable-seed=last")
    assert first.ret == pytest.ExitCode.USAGE_ERROR
    first.stderr.fnmatch_lines(["*--durable-seed=last: no earlier run left a seed in pytest's cache; give a number*"])
    ran = project.runpytest()
    seed = re.search(r"durable: seed=(\d+)", ran.stdout.str())[1]  # type: ignore[index]
    project.runpytest("--durable-seed=last").stdout.fnmatch_lines([f"durable: seed={seed}; *"])
    project.runpytest("--durable-seed=last").stdout.fnmatch_lines([f"durable: seed={seed}; *"])


# -- failures: the report and reproduce-from-seed ---------------------------------------------------------


def test_a_failure_reports_the_world_and_its_reproduce_line_fails_identically(project: pytest.Pytester) -> None:
    project.makepyfile(test_bug=BUGGY)
    first = project.runpytest("-p", "no:cacheprovider")  # a random run seed
    first.assert_outcomes(failed=1)
    output = first.stdout.str()
    report = durable_report(output)
    point = report["world"].removeprefix("one fault: ")
    first.stdout.fnmatch_lines([
        "*- Captured durable call -*",
        f"world {report['index']} of * (run seed {report['run_seed']}): one fault: at(crash, *): root job resolved; "
        "faults: crash 1; *",
        "  fault at * s: w* crash *",
        "  the test failed: AssertionError: ledger: effects 'charge:'* not exactly once: charge:card x*",
        "execution tree:",
        "job  charge_in_body(3)*",
        "coverage so far: points: * of * single faults",
        f'pin it: @pytest.mark.durable(faults="crash", aim="{point}")',
        f"reproduce: {interpreter()} -m pytest test_bug.py::test_charges_once --durable-seed={report['run_seed']}",
    ])
    total = int(re.search(r"world \d+ of (\d+)", output)[1])  # type: ignore[index]
    assert total > 200  # the fault-free world, every single-fault point, then the 200 seeds as swarm worlds
    assert len(worlds(project)) == int(report["index"])  # the first failing world stops the test
    argv = shlex.split(report["reproduce"])
    assert argv[1:3] == ["-m", "pytest"]
    again = subprocess.run([*argv, "-p", "no:cacheprovider"], cwd=project.path, capture_output=True, text=True,
                           timeout=300)
    assert again.returncode == pytest.ExitCode.TESTS_FAILED, again.stdout + again.stderr
    assert durable_report(again.stdout) == report


def test_a_broken_check_marks_the_promise_in_the_tree(project: pytest.Pytester) -> None:
    project.makeconftest(RECORDER + '''

def pytest_durable_invariants(item, scenario):
    return [lambda result: [f"job.1 looked at {len(result.promises)} promises"]]
''')
    project.makepyfile(test_probe=PROBE.format(marker="(seeds=2, faults='none')"))
    result = project.runpytest("--durable-seed=9")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "*WorldFailed: world (the fault-free world) broke 1 check(s):",
        "*(8) user: job.1 looked at 3 promises",
        "world 1 (run seed 9): the fault-free world: root job resolved; faults: none; *",
        "  violation (8) user: job.1 looked at 3 promises",
        "execution tree:",
        f"reproduce: {interpreter()} -m pytest test_probe.py::test_probe --durable-seed=9",
    ])


# -- xdist ------------------------------------------------------------------------------------------------


def test_xdist_gives_the_same_seeds_and_verdicts(project: pytest.Pytester) -> None:
    project.makepyfile(test_bug=BUGGY, test_many='''
        import pytest
        from workflows import fan_out

        @pytest.mark.durable(seeds=4, faults="crash,drop,reject")
        @pytest.mark.parametrize("n", range(6))
        def test_fan_out(durable_sim, n):
            assert durable_sim.run(fan_out, n, id="job").value == [2 * i for i in range(n)]
    ''')

    def run(*args: str) -> tuple[list[tuple[str, int]], list[str], dict[str, str]]:
        reset_worlds(project)
        done = run_subprocess(project, "--durable-seed=77", "-rA", "-p", "no:cacheprovider", *args)
        verdicts = sorted(re.findall(r"^(PASSED|FAILED) (\S+)", done.stdout, re.M))
        seen = sorted((str(w["test"]), int(str(w["seed"]))) for w in worlds(project))
        summary = re.search(r"^durable: \d+ simulated worlds ran .*$", done.stdout, re.M)
        assert summary is not None, done.stdout
        return seen, [" ".join(v) for v in verdicts], durable_report(done.stdout), summary[0]

    serial = run("-n", "0")
    parallel = run("-n", "2")
    # each of the 7 tests ran its fault-free world; the 6 that pass ran their 4 seeds as swarm worlds after
    # their single-fault worlds, and the buggy one failed in its single-fault phase
    assert ": 7 fault-free, " in serial[3] and serial[3].endswith(f" single-fault, {6 * 4} swarm")
    assert serial[2]["world"].startswith("one fault: ")
    assert "FAILED test_bug.py::test_charges_once" in serial[1] and len(serial[1]) == 7
    assert parallel == serial


# -- hooks for third-party plugins -------------------------------------------------------------------------


def test_configure_world_hook_changes_the_world(project: pytest.Pytester) -> None:
    project.makeconftest('''
def pytest_durable_configure_world(item, world):
    world.workers = 3
    world.faults = "none"
''')
    project.makepyfile(test_probe='''
        import pytest
        from workflows import fan_out

        @pytest.mark.durable(seeds=3, faults="crash=0.5,drop=0.5", workers=1)
        def test_probe(durable_sim):
            run = durable_sim.run(fan_out, 3, id="job")
            assert run.faults == "none" and sum(run.fault_counts.values()) == 0
            assert durable_sim.scenario_of(run).workers == {"default": 3}
    ''')
    project.runpytest("--durable-aim=off").assert_outcomes(passed=1)
    # the aimed sweep aims within the settings the hook left: no fault kinds, so no single-fault worlds
    result = project.runpytest()
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["durable: 4 simulated worlds ran (seed=*): 1 fault-free, 3 swarm"])


def test_fault_points_hook_adds_a_planned_crash(project: pytest.Pytester) -> None:
    project.makeconftest('''
def pytest_durable_fault_points(item, scenario):
    return "crash(w1, after_create, job.1)" if item.name == "test_planned" else None
''')
    project.makepyfile(test_probe='''
        import pytest
        from workflows import fan_out

        @pytest.mark.durable(seeds=2, faults="none", workers=1)
        def test_planned(durable_sim):
            run = durable_sim.run(fan_out, 3, id="job")
            assert run.plan == "crash(w1, after_create, job.1)"
            assert run.fault_counts.get("crash") == 1 and run.value == [0, 2, 4]

        @pytest.mark.durable(seeds=2, faults="none", workers=1)
        def test_unplanned(durable_sim):
            assert sum(durable_sim.run(fan_out, 3, id="job").fault_counts.values()) == 0
    ''')
    project.runpytest().assert_outcomes(passed=2)


def test_invariants_hook_checks_every_world(project: pytest.Pytester) -> None:
    project.makeconftest('''
def pytest_durable_invariants(item, scenario):
    def at_most_three(result):
        return [f"{len(result.promises)} promises"] if len(result.promises) > 3 else []
    return [at_most_three]
''')
    project.makepyfile(test_probe='''
        import pytest
        from workflows import fan_out

        @pytest.mark.durable(seeds=2, faults="none")
        def test_small(durable_sim):
            durable_sim.run(fan_out, 2, id="job")

        @pytest.mark.durable(seeds=2, faults="none")
        def test_big(durable_sim):
            durable_sim.run(fan_out, 3, id="job")
    ''')
    result = project.runpytest()
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*(8) user: 4 promises*", "FAILED test_probe.py::test_big*"])


def test_on_event_hook_sees_every_trace_event(project: pytest.Pytester) -> None:
    project.makeconftest('''
import pytest

SEEN = []

def pytest_durable_on_event(item, event):
    SEEN.append((item.name, event))

@pytest.fixture
def seen():
    return SEEN
''')
    project.makepyfile(test_probe='''
        import pytest
        from workflows import fan_out

        @pytest.mark.durable(seeds=3, faults="crash,drop")
        def test_probe(durable_sim, seen):
            seen.clear()
            run = durable_sim.run(fan_out, 3, id="job")
            assert [e for name, e in seen] == list(run.trace) and len(seen) > 10
            assert {name for name, e in seen} == {"test_probe"}
    ''')
    project.runpytest().assert_outcomes(passed=1)


def test_format_trace_hook_replaces_the_trace_in_the_report(project: pytest.Pytester) -> None:
    project.makeconftest('''
def pytest_durable_format_trace(item, result):
    return f"CUSTOM {item.name} seed={result.seed} events={len(result.trace)}"
''')
    project.makepyfile(test_bug=BUGGY)
    result = project.runpytest("--durable-seed=2")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["CUSTOM test_charges_once seed=* events=*", f"reproduce: {interpreter()} -m pytest *"])
    assert "execution tree:" not in result.stdout.str()


# -- fixtures and assertions ---------------------------------------------------------------------------------


def test_durable_sim_is_safe_under_hypothesis_given(project: pytest.Pytester) -> None:
    project.makepyfile(test_given='''
        import pytest
        from hypothesis import given, settings, strategies as st
        from workflows import fan_out

        @settings(max_examples=10, deadline=None)
        @given(n=st.integers(0, 4))
        def test_given(durable_sim, n):
            run = durable_sim.run(fan_out, n, id="job", faults="crash")
            assert run.value == [2 * i for i in range(n)]
    ''')
    result = project.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert "HealthCheck" not in result.stdout.str()


def test_assertion_helpers_explain_a_mismatch(project: pytest.Pytester) -> None:
    project.makepyfile(test_asserts='''
        import pytest
        from pytest_durable.testing.assertions import (
            assert_at_most_once, assert_replay_deterministic, assert_settled, assert_tree)
        from workflows import charge_in_body, fan_out, waits_random

        @pytest.mark.durable(seeds=1, faults="none")
        def test_tree(durable_sim):
            run = durable_sim.run(fan_out, 2, id="job")
            assert_tree(run, """
                fan_out resolved
                  double resolved
                  double rejected
            """)

        @pytest.mark.durable(seeds=1, faults="none")
        def test_settled(durable_sim):
            assert_settled(durable_sim.run(fan_out, 1, id="job"), "job.0", "rejected")

        @pytest.mark.durable(seeds=200, faults="crash")
        def test_at_most_once(durable_sim, ledger):
            durable_sim.run(charge_in_body, 2, id="job")
            assert_at_most_once(ledger, "charge:")

        @pytest.mark.durable(seeds=3, faults="crash,drop")
        def test_replays(durable_sim):
            assert_replay_deterministic(durable_sim, durable_sim.run(fan_out, 3, id="job"))

        @pytest.mark.durable(seeds=1, faults="none")
        def test_does_not_replay(durable_sim):
            assert_replay_deterministic(durable_sim, durable_sim.run(waits_random, 1, id="job"))
    ''')
    result = project.runpytest("-p", "no:cacheprovider", "-rA")
    result.assert_outcomes(failed=4, passed=1)
    result.stdout.fnmatch_lines(["PASSED test_asserts.py::test_replays"])
    result.stdout.fnmatch_lines(["*world (the fault-free world) is not deterministic: trace * then *"])
    result.stdout.fnmatch_lines([
        "*execution trees differ (- actual, + expected):",
        "*  fan_out resolved",
        "*    double resolved",
        "*-   double resolved",
        "*+   double rejected",
    ])
    result.stdout.fnmatch_lines(["*promise 'job.0' is resolved, expected rejected*"])
    result.stdout.fnmatch_lines(["*ledger: effects 'charge:'* recorded more than once: charge:card x*"])


def test_readme_quick_start_test_passes(pytester: pytest.Pytester) -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    quick_start = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    code = re.search(r"```python\n(.*?)```", quick_start, re.S)
    assert code is not None
    pytester.makepyfile(test_readme=code[1])
    pytester.makepyfile(fan_out_fan_in=(Path(__file__).resolve().parents[2] / "examples" /
                                        "fan_out_fan_in.py").read_text())
    pytester.syspathinsert()
    result = pytester.runpytest("--durable-seed=1", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["durable: * simulated worlds ran (seed=1): 1 fault-free, * single-fault, 300 swarm"])


# -- a nightly deep run, and options a marker takes over (issue 10, item 6) -----------------------------


def test_seeds_scale_multiplies_every_durable_tests_worlds_and_says_so(project: pytest.Pytester,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    project.makepyfile(test_probe=PROBE.format(marker="(seeds=2)"))
    result = project.runpytest("--durable-seeds-scale=3")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["durable: seed=*; every durable test's seeds x3 (--durable-seeds-scale)",
                                 "durable: * simulated worlds ran (seed=*): 1 fault-free, * single-fault, 6 swarm"])
    reset_worlds(project)  # the marker's seeds too; with --durable-aim=off, every world is one of them
    assert project.runpytest("--durable-seeds-scale=3", "--durable-aim=off").ret == 0
    assert len(worlds(project)) == 6
    reset_worlds(project)
    project.makepyfile(test_probe=PROBE.format(marker=""))
    monkeypatch.setenv("PYTEST_DURABLE_SEEDS_SCALE", "0.5")
    result = project.runpytest("--durable-seeds=5")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["durable: * simulated worlds ran (seed=*): * 3 swarm"])  # 5 x 0.5, rounded up


@pytest.mark.parametrize("value", ["0", "-1", "many"])
def test_a_bad_seeds_scale_is_one_clear_error(project: pytest.Pytester, value: str) -> None:
    project.makepyfile(test_probe=PROBE.format(marker=""))
    result = project.runpytest(f"--durable-seeds-scale={value}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--durable-seeds-scale*"])
    assert worlds(project) == []


def test_a_failing_worlds_report_names_the_options_its_marker_took_over(project: pytest.Pytester) -> None:
    project.makepyfile(test_charges=BUGGY)
    result = project.runpytest("--durable-faults=drop", "--durable-seeds=7")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*world * of * (faults from the marker; --durable-faults ignored; "
                                 "seeds from the marker; --durable-seeds ignored)*"])
