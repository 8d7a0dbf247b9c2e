"""Bad input and silent traps (issue 10, items 6 and 7): each gets one clear line naming what is at
fault, never a traceback or INTERNALERROR, with the right exit code, and before any world runs.

``python -m sim`` runs as a subprocess (what a user types); the plugin runs in ``pytester``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = "examples/side_effect_bug.py:buggy"


def sim(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "sim", *args], capture_output=True, text=True, cwd=ROOT, env=env,
                          timeout=120)


def one_clear_line(out: subprocess.CompletedProcess[str], command: str, *parts: str) -> str:
    """The run stopped with exit 2 and one line on stderr naming ``parts``, and ran no world."""
    assert "Traceback" not in out.stdout + out.stderr, out.stderr
    assert out.returncode == 2, out.stdout + out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith(f"python -m sim {command}: "), lines[0]
    for part in parts:
        assert part in lines[0], lines[0]
    assert "seeds run:" not in out.stdout and "match:" not in out.stdout
    return lines[0]


# -- sim replay: a bad file -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def saved_world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    path = tmp_path_factory.mktemp("saved") / "world.json"
    out = sim("run", EXAMPLE, "--seed", "1", "--out", str(path))
    assert out.returncode == 0, out.stderr
    data: dict[str, object] = json.loads(path.read_text())
    return data


def edited(data: dict[str, object], change: str) -> object:
    """``data`` with one edit a user might make (or a disk might)."""
    copy = json.loads(json.dumps(data))
    events, decisions = copy["events"], copy["decisions"]
    if change == "field removed":
        del copy["decisions"]
    elif change == "event edited":
        events[3][4] = "renamed"
    elif change == "event cut":
        events[3] = [3]
    elif change == "seed not a number":
        copy["seed"] = "one"
    elif change == "decision not a number":
        decisions[0][1] = "x"
    elif change == "faults unreadable":
        copy["faults"] = "bogus"
    elif change == "plan unreadable":
        copy["plan"] = "crash(w1"
    elif change == "quiesce_after infinite":
        copy["quiesce_after"] = float("inf")
    return copy


@pytest.mark.parametrize(("change", "said"), [
    ("field removed", "lacks 'decisions': it was edited or cut"),
    ("event edited", "but it records trace_hash"),
    ("event cut", "event 3 cannot be read"),
    ("seed not a number", "'seed' must be a whole number or null"),
    ("decision not a number", "'decisions' must be a list of [kind, number] pairs"),
    ("faults unreadable", "faults: cannot read 'bogus'"),
    ("plan unreadable", "fault plan: cannot read 'crash(w1'"),
    ("quiesce_after infinite", "'quiesce_after' must be a number of seconds >= 0, got inf"),
])
def test_replay_of_an_edited_file(saved_world: dict[str, object], tmp_path: Path, change: str, said: str) -> None:
    path = tmp_path / "world.json"
    path.write_text(json.dumps(edited(saved_world, change)))
    one_clear_line(sim("replay", str(path)), "replay", str(path), said)


@pytest.mark.parametrize(("content", "said"), [
    (None, "no file"),
    ("hello", "not JSON (Expecting value: line 1, column 1)"),
    ("[1, 2, 3]", "holds a JSON list, not a world saved by python -m sim"),
    ('{"name": "left-pad", "version": "1.0"}', "is JSON but not a world saved by python -m sim"),
    (b"\xff\xfe\x00", "is not a text file"),
])
def test_replay_of_a_missing_or_foreign_file(tmp_path: Path, content: str | bytes | None, said: str) -> None:
    path = tmp_path / "world.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    one_clear_line(sim("replay", str(path)), "replay", str(path), said)


def test_replay_of_a_truncated_file(saved_world: dict[str, object], tmp_path: Path) -> None:
    path = tmp_path / "world.json"
    path.write_text(json.dumps(saved_world)[:500])
    one_clear_line(sim("replay", str(path)), "replay", "it ends too early: the file was cut short")


def test_replay_of_a_folder(tmp_path: Path) -> None:
    one_clear_line(sim("replay", str(tmp_path)), "replay", "is a folder; pass one of the JSON files in it")


def test_replay_of_a_changed_decision_says_the_choices_differ(saved_world: dict[str, object], tmp_path: Path) -> None:
    """A decision edited to another valid value cannot be told from a changed workflow: the replay
    runs, says it differs and where the choices parted (exit 1), without a traceback."""
    data = json.loads(json.dumps(saved_world))
    data["decisions"][0][1] = 5  # type: ignore[index]
    path = tmp_path / "world.json"
    path.write_text(json.dumps(data))
    out = sim("replay", str(path))
    assert out.returncode == 1 and "Traceback" not in out.stdout + out.stderr, out.stderr
    assert out.stdout.startswith("differs: recorded ")
    assert "the re-run asked for other choices than the recorded ones from draw 0" in out.stdout


# -- sim run: the target --------------------------------------------------------------------------------


TARGETS = '''
import sim
from pytest_durable import function

class Klass:
    pass

async def coro():
    return 1

@function
async def workflow(ctx):
    return 1

def needs(a, b):
    return sim.Scenario(workflow)

NOTHING = None
'''


@pytest.mark.parametrize(("name", "said"), [
    ("Klass", "Klass is a class; name a sim.Scenario, or a function without arguments that returns one"),
    ("coro", "coro is an async function"),
    ("workflow", "workflow is an async function (a durable workflow?)"),
    ("needs", "needs() needs argument(s) a, b"),
    ("NOTHING", "NOTHING is None"),
])
def test_a_target_that_is_no_scenario(tmp_path: Path, name: str, said: str) -> None:
    (tmp_path / "targets.py").write_text(TARGETS)
    out = sim("run", f"{tmp_path / 'targets.py'}:{name}", "--seeds", "2")
    one_clear_line(out, "run", f"targets.py:{name}'", said)
    assert "never awaited" not in out.stderr  # the coroutine function was not called


# -- sim run: options -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("args", "said"), [
    (["--quiesce-after", "nan"], "--quiesce-after must be a finite number of seconds, got nan"),
    (["--quiesce-after", "inf"], "--quiesce-after must be a finite number of seconds, got inf; a world whose faults "
                                 "never stop may never end"),
    (["--quiesce-after", "-1"], "--quiesce-after must be a number of seconds >= 0"),
    (["--budget", "inf"], "--budget must be a finite number of seconds, got inf"),
    (["--out", "w.json"], "--out shows one world: add --seed N"),
    (["--trace", "text"], "--trace shows one world: add --seed N"),
    (["--plan", "crash(w9, before_create, checkout.1)"],
     "--plan: crash(w9, before_create, checkout.1) names process 'w9', but this scenario's processes are w1, w2"),
    (["--faults", "crash=1.2.3"], "--faults: cannot read 'crash=1.2.3'"),
])
def test_a_bad_run_option(args: list[str], said: str) -> None:
    one_clear_line(sim("run", EXAMPLE, "--seeds", "3", *args), "run", said)


def test_an_unwritable_traces_dir_or_out_is_said_before_the_first_world(tmp_path: Path) -> None:
    """A path through a file can be written by nobody (root included); the sweep would find every
    world failing before it tried to write one."""
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    out = sim("run", EXAMPLE, "--seeds", "50", "--faults", "crash=1", "--traces-dir", str(blocker / "traces"))
    one_clear_line(out, "run", f"--traces-dir {blocker / 'traces'}: this folder cannot be made")
    out = sim("run", EXAMPLE, "--seed", "1", "--out", str(blocker / "sub" / "w.json"))
    one_clear_line(out, "run", f"--out {blocker / 'sub' / 'w.json'}: its folder {blocker / 'sub'} cannot be made")
    out = sim("run", EXAMPLE, "--seed", "1", "--out", str(tmp_path))
    one_clear_line(out, "run", f"--out {tmp_path} is a folder")


def test_out_makes_its_folder(tmp_path: Path) -> None:
    path = tmp_path / "new" / "w.json"
    out = sim("run", EXAMPLE, "--seed", "1", "--out", str(path))
    assert out.returncode == 0, out.stderr
    assert json.loads(path.read_text())["seed"] == 1


# -- sim bench ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("args", "said"), [
    (["--sizes", "abc"], "--sizes: write fan-out sizes >= 1 separated by commas, e.g. 100,1000; got 'abc'"),
    (["--sizes", "0"], "--sizes: write fan-out sizes >= 1"),
    (["--sizes", "10,-1"], "--sizes: write fan-out sizes >= 1"),
    (["--repeat", "0"], "--repeat must be >= 1"),
    (["search", "--limit", "0"], "--limit must be >= 1"),
    (["search", "--runs", "0"], "--runs must be >= 1"),
    (["live", "--runs", "0"], "--runs must be >= 1"),
    (["throughput", "--shape-seeds", "0"], "--shape-seeds must be >= 1, got 0"),
    (["throughput", "--seeds", "0"], "--seeds must be >= 1, got 0"),
])
def test_a_bad_bench_option(args: list[str], said: str) -> None:
    one_clear_line(sim("bench", *args), "bench", said)


# -- the plugin -----------------------------------------------------------------------------------------


WORKFLOW = '''
from pytest_durable import Context, function

@function
async def leaf(x: int) -> int:
    return x

@function
async def job(ctx: Context, n: int) -> int:
    return await ctx.run(leaf, n)

def plain(n):
    return n
'''

RAN = '''
import json, pathlib

def pytest_durable_on_event(item, event):
    if event.seq == 0:  # a world began
        with pathlib.Path("ran.jsonl").open("a") as f:
            f.write(json.dumps(item.name) + "\\n")
'''


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(wf=WORKFLOW)
    pytester.makeconftest(RAN)
    pytester.makepyfile(test_marked='''
        import pytest
        from wf import job

        @pytest.mark.durable(seeds=2)
        def test_marked(durable_sim):
            durable_sim.run(job, 2, id="job")
    ''')
    pytester.makepyfile(test_plain="def test_ok(): pass")
    return pytester


def ran(project: pytest.Pytester) -> list[str]:
    path = project.path / "ran.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def usage_error(result: pytest.RunResult, *parts: str) -> str:
    """pytest stopped at start-up with exit 4 and one ERROR line naming ``parts``."""
    everything = result.stdout.str() + result.stderr.str()
    assert "INTERNALERROR" not in everything and "Traceback" not in everything, everything
    assert result.ret == pytest.ExitCode.USAGE_ERROR, everything
    errors = [line for line in result.stderr.lines if line.startswith("ERROR:")]
    assert len(errors) == 1, everything
    for part in parts:
        assert part in errors[0], errors[0]
    return errors[0]


@pytest.mark.parametrize("selected", ["test_plain.py", "test_marked.py"])
def test_bogus_durable_faults_fails_at_start_up_naming_the_option(project: pytest.Pytester, selected: str) -> None:
    result = project.runpytest("-p", "no:cacheprovider", "--durable-faults=bogus", selected)
    usage_error(result, "--durable-faults: cannot read 'bogus'")
    assert ran(project) == []


@pytest.mark.parametrize(("option", "said"), [
    ("--durable-quiesce-after=nan", "--durable-quiesce-after: quiesce_after must be a finite number >= 0, got 'nan'"),
    ("--durable-quiesce-after=inf", "--durable-quiesce-after: quiesce_after must be a finite number >= 0, got 'inf'"),
    ("--durable-budget=inf", "--durable-budget: budget must be a finite number >= 0, got 'inf'"),
    ("--durable-seeds-scale=inf", "--durable-seeds-scale: seeds_scale must be a finite number >= 0, got 'inf'"),
    ("--durable-seeds-scale=nan", "--durable-seeds-scale: seeds_scale must be a finite number >= 0, got 'nan'"),
])
def test_a_non_finite_durable_number(project: pytest.Pytester, option: str, said: str) -> None:
    usage_error(project.runpytest("-p", "no:cacheprovider", option), said)
    assert ran(project) == []


def test_a_marker_quiesce_after_of_inf_is_refused(project: pytest.Pytester) -> None:
    project.makepyfile(test_inf='''
        import pytest
        from wf import job

        @pytest.mark.durable(quiesce_after=float("inf"))
        def test_inf(durable_sim):
            durable_sim.run(job, 2, id="job")
    ''')
    result = project.runpytest("-p", "no:cacheprovider", "test_inf.py")
    usage_error(result, "@pytest.mark.durable: quiesce_after=inf is not valid")
    assert ran(project) == []


def test_an_unwritable_durable_traces_dir_fails_at_start_up(project: pytest.Pytester) -> None:
    (project.path / "a-file").write_text("")
    result = project.runpytest("-p", "no:cacheprovider", "--durable-traces-dir=a-file/traces")
    usage_error(result, "--durable-traces-dir a-file/traces: this folder cannot be made")
    assert ran(project) == []


@pytest.mark.parametrize("cached", ['"abc"', "1.5", "[1]", "true"])
def test_a_corrupt_cached_seed_for_last(project: pytest.Pytester, cached: str) -> None:
    assert project.runpytest("test_plain.py").ret == 0  # leaves a seed in the cache
    path = project.path / ".pytest_cache" / "v" / "durable" / "seed"
    assert path.exists()
    path.write_text(cached)
    result = project.runpytest("--durable-seed=last", "test_marked.py")
    usage_error(result, f"--durable-seed=last: pytest's cache holds {json.loads(cached)!r} as the last seed, "
                        "not a number")
    assert ran(project) == []


def test_a_marker_plan_naming_a_process_the_scenario_lacks(project: pytest.Pytester) -> None:
    project.makepyfile(test_plan='''
        import pytest
        from wf import job

        @pytest.mark.durable(seeds=3, plan="crash(w9, before_create, job.0)")
        def test_plan(durable_sim):
            durable_sim.run(job, 2, id="job")
    ''')
    result = project.runpytest("-p", "no:cacheprovider", "test_plan.py")
    result.assert_outcomes(failed=1)
    assert "INTERNALERROR" not in result.stdout.str()
    result.stdout.fnmatch_lines(["*UsageError: @pytest.mark.durable(plan=...): crash(w9, before_create, job.0) names "
                                 "process 'w9', but this scenario's processes are w1, w2; name one of them"])
    assert ran(project) == []  # the check comes before the world


@pytest.mark.parametrize(("call", "said"), [
    ('job, 2, id="a b"', "durable_sim.run: id must be a non-empty string without white space, got 'a b'"),
    ("job, 2, id=3", "durable_sim.run: id must be a non-empty string without white space, got 3"),
    ('plain, 2, id="job"', "durable_sim.run: 'plain' is not a durable function; decorate it with "
                           "@pytest_durable.function"),
    ('job, id="job"', "durable_sim.run: job(n: int): missing a required argument: 'n'"),
    ('job, 1, 2, id="job"', "durable_sim.run: job(n: int): too many positional arguments"),
    ('job, 1, id="job", m=3', "durable_sim.run: job(n: int): got an unexpected keyword argument 'm'"),
    ('job, threading.Lock(), id="job"', "EncodingError: job: cannot encode argument 'n'"),
    ('job, 1, id="job", workers=0', "durable_sim.run: workers= must be a whole number >= 1, got 0"),
    ('job, 1, id="job", functions=[plain]', "durable_sim.run: functions= must be a list of durable functions"),
    ('job, 1, id="job", faults="bogus"', "durable_sim.run(faults=...): cannot read 'bogus'"),
    ('job, 1, id="job", plan="crash(w1"', "durable_sim.run(plan=...): fault plan: cannot read 'crash(w1'"),
    ('job, 1, id="job", plan="crash(w3, before_create, job.0)"',
     "durable_sim.run(plan=...): crash(w3, before_create, job.0) names process 'w3'"),
    ('job, 1, id="job", world="crash"',
     "durable_sim.run: world= must be a World from pytest_durable.testing.strategies"),
])
def test_durable_sim_run_checks_its_call_before_the_world_runs(project: pytest.Pytester, call: str, said: str) -> None:
    project.makepyfile(test_call=f'''
        import threading
        import pytest
        from wf import job, plain

        @pytest.mark.durable(seeds=2)
        def test_call(durable_sim):
            durable_sim.run({call})
    ''')
    result = project.runpytest("-p", "no:cacheprovider", "test_call.py")
    result.assert_outcomes(failed=1)
    assert "INTERNALERROR" not in result.stdout.str()
    result.stdout.fnmatch_lines([f"E *{said}*"])
    assert ran(project) == []  # no world began


UNMARKED = '''
from wf import job

def test_unmarked(durable_sim):
    durable_sim.run(job, 2, id="job")
    durable_sim.run(job, 3, id="job")
'''


def test_durable_sim_without_the_marker_warns_how_many_worlds_ran_and_why(project: pytest.Pytester) -> None:
    project.makepyfile(test_unmarked=UNMARKED)
    result = project.runpytest("-p", "no:cacheprovider", "test_unmarked.py", "test_marked.py")
    result.assert_outcomes(passed=2, warnings=1)
    seen = ran(project)  # how ran() sees worlds: the marked test runs its aimed sweep, then its 2 seeds
    assert seen[:2] == ["test_unmarked", "test_unmarked"] and set(seen[2:]) == {"test_marked"} and len(seen) > 5
    result.stdout.fnmatch_lines(["*UnmarkedDurableSimWarning: test_unmarked has no @pytest.mark.durable, so "
                                 "durable_sim ran 1 world (world seed *) (2 durable_sim.run calls, all in it); mark "
                                 "it @pytest.mark.durable to run the fault-free world, one world per single-fault "
                                 "point of its workflow, then 20 swarm worlds (--durable-seeds)"])
    off = project.runpytest("-p", "no:cacheprovider", "test_unmarked.py", "--durable-aim=off")
    off.stdout.fnmatch_lines(["*mark it @pytest.mark.durable to run 20 worlds (--durable-seeds), one per seed"])
    # as an error, it fails the test (not the session)
    strict = project.runpytest("-p", "no:cacheprovider", "test_unmarked.py",
                               "-W", "error::pytest_durable.testing.UnmarkedDurableSimWarning")
    strict.assert_outcomes(failed=1)
    assert "INTERNALERROR" not in strict.stdout.str()


def test_a_drawn_world_that_never_runs_fails_the_test(project: pytest.Pytester) -> None:
    project.makepyfile(test_drawn='''
        from hypothesis import assume, given, settings
        from pytest_durable.testing.strategies import worlds
        from wf import job

        @settings(max_examples=3, database=None, deadline=None)
        @given(world=worlds("crash"))
        def test_forgot_the_world(durable_sim, world):
            durable_sim.run(job, 2, id="job")  # world= left out: a world without the drawn faults

        @settings(max_examples=3, database=None, deadline=None)
        @given(world=worlds("crash"))
        def test_runs_it(durable_sim, world):
            durable_sim.run(job, 2, id="job", world=world)

        @settings(max_examples=3, database=None, deadline=None)
        @given(world=worlds("crash"))
        def test_fails_on_its_own(world):
            assert False, "its own failure"

        def test_example_at_a_prompt():
            assert worlds("crash").example().result is None
    ''')
    result = project.runpytest("-p", "no:cacheprovider", "test_drawn.py", "-W", "ignore")
    result.assert_outcomes(passed=2, failed=2)
    result.stdout.fnmatch_lines(["E *UsageError: worlds(): test_forgot_the_world drew a world and never ran it, so "
                                 "it tested nothing of the faults Hypothesis drew; pass it to world.run(scenario) or "
                                 "durable_sim.run(workflow, ..., world=world)*"])
    result.stdout.fnmatch_lines(["E *AssertionError: its own failure"])
    assert "test_fails_on_its_own drew a world" not in result.stdout.str()
