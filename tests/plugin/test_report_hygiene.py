"""Report hygiene (issue 10, item 5): a failing durable test's traceback ends at the user's line, not in
the plugin or the harness; its durable report appears once whatever the report options; reproduce lines
name the interpreter that ran them, quoted for the shell, and work where PATH has no ``python`` or
``pytest``; ``sim replay`` says whether the violations match the recorded ones, naming them; a saved
world (from ``python -m sim run`` or the plugin's ``--durable-traces-dir``) replays from any folder, or
says clearly why it cannot; and a saved file's format version is checked.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pytest_durable.testing.harness import hide_ours
from sim import run_world
from sim.reports import render
from sim.reports.command import interpreter, python_m
from sim.scenario import load_scenario

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[2]

WORKFLOWS = '''
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
'''

# Three ways to fail, and one test that passes.
FAILING = '''
import pytest

from pytest_durable.testing.assertions import assert_settled, assert_tree
from workflows import charge_in_body, fan_out


@pytest.mark.durable(seeds=3, faults="none")
def test_broken_check(durable_sim):
    durable_sim.run(fan_out, 2, id="job", expected=[0, 3])  # USER LINE A


@pytest.mark.durable(seeds=200, faults="crash")
def test_ledger(durable_sim, ledger):
    durable_sim.run(charge_in_body, 3, id="job")
    ledger.assert_exactly_once("charge:")  # USER LINE B


@pytest.mark.durable(seeds=3, faults="none")
def test_tree(durable_sim):
    result = durable_sim.run(fan_out, 2, id="job")
    assert_settled(result)
    assert_tree(result, "fan_out resolved")  # USER LINE C


@pytest.mark.durable(seeds=3, faults="none")
def test_passes(durable_sim):
    durable_sim.run(fan_out, 2, id="job")
'''


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(workflows=WORKFLOWS, test_failing=FAILING)
    pytester.syspathinsert()
    return pytester


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_") and k != "PYTHONPATH"}
    return {**env, **extra}


def sim(*args: str, cwd: Path = ROOT, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sim", *args], capture_output=True, text=True, cwd=cwd,
                          env=env or clean_env(PYTHONPATH=str(ROOT)), timeout=600)


# -- tracebacks end at the user's line ------------------------------------------------------------------


@pytest.mark.parametrize("tb", ["long", "short", "auto"])
def test_a_failing_durable_tests_traceback_shows_the_users_frame_and_not_ours(project: pytest.Pytester,
                                                                              tb: str) -> None:
    result = project.runpytest("--durable-seed=1", f"--tb={tb}")
    result.assert_outcomes(failed=3, passed=1)
    out = result.stdout.str()
    for line in ("USER LINE A", "USER LINE B", "USER LINE C"):
        assert line in out
    source = (project.path / "test_failing.py").read_text().splitlines()
    at = {mark: next(i for i, text in enumerate(source, 1) if mark in text) for mark in "ABC"}
    for mark, line in at.items():
        assert f"test_failing.py:{line}" in out, (mark, out)
    for ours in ("pytest_durable/testing/harness.py", "pytest_durable/testing/plugin/",
                 "pytest_durable/testing/assertions.py",
                 "sim/trace/ledger.py", "def run(self", "def __getattr__", "def assert_tree"):
        assert ours not in out, f"{ours} shows in the traceback:\n{out}"
    assert "execution trees differ (- actual, + expected):" in out  # the hidden frame's message stays


def test_an_error_of_ours_keeps_our_frame() -> None:
    """Only a failed world or a misuse hides the harness's frame: a bug of ours must show where it is."""

    class Info:
        def __init__(self, error: BaseException) -> None:
            self.error = error

        def errisinstance(self, kinds: Any) -> bool:
            return isinstance(self.error, kinds)

    from pytest_durable.core.errors import UsageError
    from pytest_durable.testing.harness import WorldFailed

    assert hide_ours(Info(UsageError("durable_sim.run: bad id")))
    assert hide_ours(Info(WorldFailed.__new__(WorldFailed)))
    assert not hide_ours(Info(KeyError("a bug of ours")))
    assert not hide_ours(Info(RuntimeError("a bug of ours")))


# -- the durable report appears once ------------------------------------------------------------------------


#: The first line of a failing world's report: its number (of how many, once known), the run seed, and the world.
HEADER = r"^world \d+( of \d+)? \(run seed 1\): (seed \d+|the fault-free world|one fault: at\(|swarm world, seed \d+)"


@pytest.mark.parametrize("options", [[], ["-rA"], ["-rA", "-v"], ["-rP", "--tb=short"], ["-ra", "-l"],
                                     ["-rA", "--durable-trace=full"]],
                         ids=["plain", "-rA", "-rA-v", "-rP", "-ra-l", "-rA-full"])
def test_the_durable_report_appears_once_per_failing_test(project: pytest.Pytester, options: list[str]) -> None:
    result = project.runpytest("--durable-seed=1", *options)
    result.assert_outcomes(failed=3, passed=1)
    out = result.stdout.str()
    headers = re.findall(HEADER, out, re.M)
    assert len(headers) == 3, out
    for name in ("test_broken_check", "test_ledger", "test_tree"):
        assert len(re.findall(rf"^reproduce: .*::{name} ", out, re.M)) == 1, out


def test_the_durable_report_appears_once_under_xdist(project: pytest.Pytester) -> None:
    result = project.runpytest_subprocess("--durable-seed=1", "-n", "2", "-rA")
    result.assert_outcomes(failed=3, passed=1)
    assert len(re.findall(HEADER, result.stdout.str(), re.M)) == 3


# -- reproduce lines: the interpreter that ran them, quoted for the shell --------------------------------


def test_the_plugins_reproduce_line_names_this_interpreter_and_works_without_python_on_path(
        project: pytest.Pytester) -> None:
    project.makepyfile(test_odd='''
        import pytest
        from workflows import charge_in_body

        @pytest.mark.durable(seeds=200, faults="crash")
        @pytest.mark.parametrize("who", ["ann & bob's card"])
        def test_charge(durable_sim, ledger, who):
            durable_sim.run(charge_in_body, 3, id="job")
            ledger.assert_exactly_once("charge:")
    ''')
    first = project.runpytest("test_odd.py", "--durable-seed=3", "--durable-faults=crash")
    first.assert_outcomes(failed=1)
    line = next(x for x in first.stdout.lines if x.startswith("reproduce: ")).removeprefix("reproduce: ")
    assert line == python_m("pytest", ["test_odd.py::test_charge[ann & bob's card]", "--durable-seed=3",
                                       "--durable-faults=crash"])
    argv = shlex.split(line)
    assert argv[0] == interpreter() and os.path.isabs(argv[0])  # the pytester folder lies outside the venv
    assert argv[3] == "test_odd.py::test_charge[ann & bob's card]"  # one word, quoted
    head = next(x for x in first.stdout.lines if x.startswith("world "))
    # a PATH with neither python nor pytest: the line still runs, and brings back the same world
    again = subprocess.run(["/bin/sh", "-c", line], cwd=project.path, capture_output=True, text=True,
                           env=clean_env(PATH="/nonexistent"), timeout=300)
    assert again.returncode == 1, again.stdout + again.stderr
    assert head in again.stdout.splitlines()


def test_a_failing_durable_test_run_by_pytest_without_arguments_reports_and_reproduces(
        project: pytest.Pytester) -> None:
    """``python -m pytest`` with no argument at all (as the README and CI run it): the report and its
    reproduce line are built from an empty command line, not an INTERNALERROR."""
    project.makepyfile(test_bare='''
        import pytest
        from workflows import charge_in_body

        @pytest.mark.durable(seeds=200, faults="crash")
        def test_charge(durable_sim, ledger):
            durable_sim.run(charge_in_body, 3, id="job")
            ledger.assert_exactly_once("charge:")
    ''')
    done = subprocess.run([interpreter(), "-m", "pytest"], cwd=project.path, capture_output=True, text=True,
                          env=clean_env(), timeout=300)
    assert "INTERNALERROR" not in done.stdout + done.stderr, done.stdout[-3000:]
    assert done.returncode == 1, done.stdout[-3000:]
    line = next(x for x in done.stdout.splitlines() if x.startswith("reproduce: "))
    assert line.endswith("test_bare.py::test_charge --durable-seed=" + line.rsplit("=", 1)[1])


def test_the_reproduce_line_runs_from_the_folder_pytest_was_started_in(project: pytest.Pytester) -> None:
    project.makeini("[pytest]\n")
    sub = project.mkdir("suite")
    (sub / "test_deep.py").write_text(FAILING)
    run = subprocess.run([sys.executable, "-m", "pytest", "test_deep.py::test_broken_check", "--durable-seed=1",
                          "-p", "no:cacheprovider"], cwd=sub, capture_output=True, text=True,
                         env=clean_env(PYTHONPATH=str(project.path)), timeout=300)
    line = next(x for x in run.stdout.splitlines() if x.startswith("reproduce: ")).removeprefix("reproduce: ")
    assert shlex.split(line)[3] == "test_deep.py::test_broken_check"  # not suite/test_deep.py: run from suite/
    again = subprocess.run(["/bin/sh", "-c", line], cwd=sub, capture_output=True, text=True,
                           env=clean_env(PYTHONPATH=str(project.path)), timeout=300)
    assert again.returncode == 1 and "1 failed" in again.stdout, again.stdout + again.stderr


def test_the_clis_reproduce_line_names_this_interpreter_and_quotes_the_plan(tmp_path: Path) -> None:
    plan = "crash(w2, after_create, checkout.1)"
    out = sim("run", "examples/side_effect_bug.py:buggy", "--seeds", "1", "--faults", "none", "--plan", plan)
    assert out.returncode == 1, out.stdout + out.stderr
    line = next(x.strip() for x in out.stdout.splitlines() if x.strip().startswith("reproduce: "))
    command = line.removeprefix("reproduce: ")
    assert command == (f"{shlex.quote(interpreter(cwd=str(ROOT)))} -m sim run examples/side_effect_bug.py:buggy "
                       f"--seed 0 --faults none --plan '{plan}'")
    again = subprocess.run(["/bin/sh", "-c", command], cwd=ROOT, capture_output=True, text=True,
                           env=clean_env(PATH="/nonexistent", PYTHONPATH=str(ROOT)), timeout=300)
    assert again.returncode == 1, again.stdout + again.stderr
    assert "violation (8) user: ledger: 'charge:order-42' was recorded 2 times" in again.stdout


def test_python_is_named_only_when_it_is_the_python_path_finds(tmp_path: Path) -> None:
    real = Path(sys.executable).resolve()
    env_a, env_b = tmp_path / "a" / "bin", tmp_path / "b" / "bin"
    for folder in (env_a, env_b):
        folder.mkdir(parents=True)
        (folder / "python").symlink_to(real)  # two virtualenvs over one base interpreter
        (folder / "python3").symlink_to(real)
    assert interpreter(str(env_a / "python"), path=str(env_a)) == "python"
    assert interpreter(str(env_a / "python3"), path=str(env_a)) == "python"  # the same file, the same folder
    assert interpreter(str(env_a / "python"), path=str(env_b), cwd=str(env_b)) == str(env_a / "python")  # another env
    assert interpreter(str(env_a / "python"), path="/nonexistent", cwd=str(tmp_path)) == "a/bin/python"
    assert interpreter(str(env_a / "python"), path="/nonexistent", cwd=str(env_a)) == "./python"
    assert python_m("sim", ["run", "x y.py:s", "--plan", "crash(w1, after_create, a)"], env=["PYTHONHASHSEED=1"]
                    ).endswith(" -m sim run 'x y.py:s' --plan 'crash(w1, after_create, a)'")


# -- replay: violations compared, from any folder, format checked ----------------------------------------


def saved_world(tmp_path: Path, *args: str, target: str = "examples/side_effect_bug.py:buggy") -> Path:
    path = tmp_path / "world.json"
    out = sim("run", target, "--seed", "0", "--faults", "none", "--plan", "crash(w2, after_create, checkout.1)",
              "--out", str(path), *args)
    assert out.returncode == 1 and path.exists(), out.stdout + out.stderr
    return path


def test_replay_from_another_folder_says_the_violations_match_and_names_them(tmp_path: Path) -> None:
    path = saved_world(tmp_path)
    assert json.loads(path.read_text())["target"] == f"{ROOT / 'examples' / 'side_effect_bug.py'}:buggy"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = sim("replay", str(path), cwd=elsewhere, env=clean_env())
    assert out.returncode == 0, out.stdout + out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("match: trace ")
    assert lines[1] == "violations: the same 1 as recorded"
    assert lines[2].startswith("  (8) user: ledger: 'charge:order-42' was recorded 2 times, expected exactly once")


def test_replay_names_the_violations_that_differ(tmp_path: Path) -> None:
    path = saved_world(tmp_path)
    data = json.loads(path.read_text())
    real = data["violations"][0]
    data["violations"] = ["(5) liveness: root checkout never settled"]  # a recording that says otherwise
    path.write_text(json.dumps(data))
    out = sim("replay", str(path))
    assert out.returncode == 1, out.stdout + out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("match: trace ")  # the same events, other verdicts
    assert lines[1:] == ["violations differ: recorded 1, re-run 1",
                         "  only recorded: (5) liveness: root checkout never settled",
                         f"  only in the re-run: {real}"]


def test_a_module_target_replays_from_another_folder(tmp_path: Path) -> None:
    path = tmp_path / "module.json"
    out = sim("run", "tests.helpers.sim_scenarios:fan_out_scenario", "--seed", "3", "--out", str(path))
    assert out.returncode == 0, out.stdout + out.stderr
    assert json.loads(path.read_text())["sys_path"] == [str(ROOT)]
    replay = sim("replay", str(path), cwd=tmp_path, env=clean_env())  # no PYTHONPATH: the file says where
    assert replay.returncode == 0, replay.stdout + replay.stderr
    assert replay.stdout.splitlines()[1] == "violations: none, as recorded"


def test_a_world_the_plugin_saved_replays_from_another_folder(project: pytest.Pytester, tmp_path: Path) -> None:
    result = project.runpytest("test_failing.py::test_broken_check", "--durable-seed=1", "--durable-traces-dir=out")
    result.assert_outcomes(failed=1)
    [path] = (project.path / "out").iterdir()
    data = json.loads(path.read_text())
    assert data["format"] == render.FORMAT_VERSION and data["target"] == ""
    assert data["scenario"]["workflow"] == "workflows:fan_out"
    out = sim("replay", str(path), cwd=tmp_path, env=clean_env())
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.splitlines()[1:] == ["violations: the same 1 as recorded",
                                           "  (4) expected-value: root job returned [0, 2], expected [0, 3]"]


@pytest.mark.parametrize(("test", "why"), [
    ('''
        import pytest
        from pytest_durable import function

        @pytest.mark.durable(seeds=1, faults="none")
        def test_local(durable_sim):
            @function
            async def local(x: int) -> int:
                return x

            durable_sim.run(local, 1, id="job", expected=2)
    ''', "durable function test_local.<locals>.local (local) is not importable as test_case.test_local.<locals>."
         "local; define it at module level so another process can import it"),
    ('''
        import pytest
        from workflows import fan_out

        @pytest.mark.durable(seeds=1, faults="none")
        def test_deps(durable_sim):
            durable_sim.run(fan_out, 2, id="job", expected=[9], dependencies={"bank": dict})
    ''', "its scenario takes dependencies (bank) as factories the test passed, which a saved file cannot carry"),
], ids=["local-function", "dependencies"])
def test_a_world_the_plugin_cannot_save_whole_says_why_on_replay(project: pytest.Pytester, tmp_path: Path,
                                                                 test: str, why: str) -> None:
    project.makepyfile(test_case=test)
    project.runpytest("test_case.py", "--durable-traces-dir=out").assert_outcomes(failed=1)
    [path] = (project.path / "out").iterdir()
    out = sim("replay", str(path), cwd=tmp_path, env=clean_env())
    assert out.returncode == 2, out.stdout + out.stderr
    assert out.stderr.splitlines() == [
        f"python -m sim replay: {path} cannot be replayed on its own: {why}; pass --target FILE.py:NAME naming a "
        "scenario (or a function returning one) that runs the same workflow"]


@pytest.mark.parametrize(("version", "said"), [(None, "no format version"), (99, "format version 99"),
                                               ("3", "format version '3'")])
def test_a_saved_world_of_a_wrong_or_missing_format_version_is_one_clear_error(tmp_path: Path, version: Any,
                                                                               said: str) -> None:
    path = saved_world(tmp_path)
    data = json.loads(path.read_text())
    if version is None:
        del data["format"]
    else:
        data["format"] = version
    path.write_text(json.dumps(data))
    out = sim("replay", str(path))
    assert out.returncode == 2, out.stdout + out.stderr
    assert out.stderr.splitlines() == [
        f"python -m sim replay: {path}: {said}, but this version of pytest-durable reads saved worlds of format 2 "
        f"or {render.FORMAT_VERSION}; save the world again with this version"]
    assert out.stdout == ""


def test_a_format_2_world_still_replays(tmp_path: Path) -> None:
    path = saved_world(tmp_path)
    data = json.loads(path.read_text())
    data["format"], data["target"] = 2, "examples/side_effect_bug.py:buggy"  # as version 2 wrote it
    path.write_text(json.dumps(data))
    out = sim("replay", str(path))
    assert out.returncode == 0 and out.stdout.startswith("match: trace "), out.stdout + out.stderr


def test_a_json_file_that_is_not_a_world_is_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "list.json"
    path.write_text("[1, 2, 3]")
    out = sim("replay", str(path))
    assert out.returncode == 2
    assert out.stderr.splitlines() == [f"python -m sim replay: {path} holds a JSON list, not a world saved by "
                                       "python -m sim (an object with seed, faults, plan, trace_hash, decisions, "
                                       "events); save the world again with python -m sim run TARGET --seed N --out "
                                       "FILE"]


def test_a_fault_line_names_the_client_as_the_trace_does() -> None:
    """The client has no incarnations: its faults read ``client drop …``, as its trace lines do, not
    ``client#0``; a worker's read ``w1#2``."""
    example = Path(__file__).resolve().parents[2] / "examples" / "fan_out_fan_in.py"
    result = run_world(load_scenario(f"{example}:scenario"), seed=2, faults="drop=0.2,partition")
    faults = [line for line in render.summary(result, limit=1000).splitlines() if "fault at" in line]
    assert any(": client drop " in line for line in faults), faults
    assert all(re.search(r" s: (client|w\d+#\d+) ", line) for line in faults), faults
