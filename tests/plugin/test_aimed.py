"""The plugin's default run is the aimed sweep (issue 22, items 3 and 4), driven through ``pytester``: a
durable test runs the fault-free world, one world per single-fault point of its workflow, then its seeds as
swarm worlds. A bug one fault at one point shows is found in that phase whatever the run seed; its report
names the world, prints an ``aim=`` pin that brings it back, and says what was covered so far; the header,
the summary and ``-v`` say what a run covers; ``--durable-aim=off`` runs the seeds alone.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

# Three bugs of examples/ a single fault at one point shows, each beside its correct twin; every marker is
# the default run (no seeds, no faults: 20 swarm worlds, crash,drop,reject).
BUGS = '''
import pytest
from side_effect_bug import ORDER, checkout, checkout_buggy
from retry_bug import checkout_without_key
from transfer_bug import TRANSFER, pay, pay_buggy


@pytest.mark.durable
def test_transfer_buggy(durable_sim, ledger):
    durable_sim.run(pay_buggy, TRANSFER, id="pay", check=False)
    assert ledger.count(f"debit:{TRANSFER.id}") == ledger.count(f"credit:{TRANSFER.id}")


@pytest.mark.durable
def test_transfer_fixed(durable_sim, ledger):
    assert durable_sim.run(pay, TRANSFER, id="pay").value == f"moved {TRANSFER.amount}"
    ledger.assert_exactly_once("debit:", expected=1)
    ledger.assert_exactly_once("credit:", expected=1)


@pytest.mark.durable
def test_retry_buggy(durable_sim, ledger):
    durable_sim.run(checkout_without_key, ORDER, id="checkout", check=False)
    ledger.assert_exactly_once("charge:", expected=1)


@pytest.mark.durable
def test_side_effect_buggy(durable_sim, ledger):
    durable_sim.run(checkout_buggy, ORDER, id="checkout", check=False)
    ledger.assert_exactly_once("charge:", expected=1)


@pytest.mark.durable
def test_checkout_fixed(durable_sim, ledger):
    durable_sim.run(checkout, ORDER, id="checkout")
    ledger.assert_exactly_once("charge:", expected=1)
'''

WORKFLOWS = '''
import trio

from pytest_durable import Context, function


@function
async def double(x: int) -> int:
    await trio.sleep(0.5)
    return 2 * x


@function
async def fan_out(ctx: Context, n: int) -> list[int]:
    futures = [await ctx.run(double, i).spawn() for i in range(n)]
    return [await f for f in futures]
'''

# Notes the test of each world that begins (its first event).
COUNTER = '''
import json, pathlib

def pytest_durable_on_event(item, event):
    if event.seq == 0:
        with pathlib.Path("worlds.jsonl").open("a") as f:
            f.write(json.dumps(item.name) + "\\n")
'''


def worlds_of(pytester: pytest.Pytester) -> list[str]:
    path = pytester.path / "worlds.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


@pytest.fixture
def examples(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.syspathinsert(EXAMPLES)
    pytester.makepyfile(test_bugs=BUGS)
    return pytester


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(workflows=WORKFLOWS)
    pytester.makeconftest(COUNTER)
    pytester.syspathinsert()
    return pytester


def reports(output: str) -> dict[str, tuple[int, int, str, str]]:
    """Each failing test's world number, how many worlds it had, the world's name, and its pin."""
    found = {}
    for name, body in re.findall(r"^_+ (test_\w+) _+$(.*?)(?=^_+ test_|^=+ short test summary)", output, re.M | re.S):
        head = re.search(r"^world (\d+) of (\d+) \(run seed \d+\): (.*?): root ", body, re.M)
        pin = re.search(r"^pin it: (.*)$", body, re.M)
        assert head is not None and pin is not None, body
        found[name] = (int(head[1]), int(head[2]), head[3], pin[1])
    return found


# -- the bugs of examples/, found in the aimed phase under every run seed ----------------------------------


def test_the_default_run_finds_three_example_bugs_at_one_fault_under_three_run_seeds(
        examples: pytest.Pytester) -> None:
    seen = []
    for seed in (1, 4711, 2026):
        result = examples.runpytest(f"--durable-seed={seed}", "-p", "no:cacheprovider", "-p", "no:randomly")
        result.assert_outcomes(failed=3, passed=2)  # the correct twins pass the whole sweep and 20 swarm worlds
        found = reports(result.stdout.str())
        assert sorted(found) == ["test_retry_buggy", "test_side_effect_buggy", "test_transfer_buggy"]
        for name, (world, total, what, pin) in found.items():
            assert what.startswith("one fault: at("), (name, what)  # one aimed fault, not a lucky seed
            assert world <= total - 20, (name, world, total)  # before the swarm worlds
            assert pin == f'@pytest.mark.durable(aim="{what.removeprefix("one fault: ")}")'
        seen.append(found)
    assert seen[0] == seen[1] == seen[2]  # the aimed phase does not depend on the run seed
    assert seen[0]["test_transfer_buggy"][2] == "one fault: at(crash, await pay.0)"


def test_an_aim_pin_brings_the_failing_world_back(examples: pytest.Pytester) -> None:
    first = examples.runpytest("--durable-seed=3", "-k", "test_transfer_buggy", "-p", "no:cacheprovider")
    first.assert_outcomes(failed=1)
    _, _, what, pin = reports(first.stdout.str())["test_transfer_buggy"]
    trace = re.search(r"trace ([0-9a-f]+)\n", first.stdout.str())
    assert trace is not None
    examples.makepyfile(test_pinned=BUGS.replace("@pytest.mark.durable\ndef test_transfer_buggy",
                                                 f"{pin}\ndef test_transfer_buggy"))
    again = examples.runpytest("test_pinned.py", "--durable-seed=99", "-k", "test_transfer_buggy",
                               "-p", "no:cacheprovider")
    again.assert_outcomes(failed=1)
    again.stdout.fnmatch_lines([f"world 1 of 1 (run seed 99): {what}: root pay resolved; faults: crash 1; * "
                                f"trace {trace[1]}", f"pin it: {pin}"])


def test_the_aimed_world_is_the_simulators_pinned_world() -> None:
    """An aimed world of the plugin is ``pinned_world(plan=point, faults=...)`` of the simulator: the same trace."""
    import sys

    sys.path.insert(0, str(EXAMPLES))
    try:
        from sim.scenario import load_scenario
        from sim.search import pinned_world

        scenario = load_scenario(f"{EXAMPLES / 'transfer_bug.py'}:buggy")
        result = pinned_world(plan="at(crash, await pay.0)", faults="crash,drop,reject").run(scenario)
    finally:
        sys.path.remove(str(EXAMPLES))
    assert not result.ok and result.fault_counts == {"crash": 1}


# -- how many worlds, and what was covered --------------------------------------------------------------


def test_the_default_run_is_the_fault_free_world_every_point_then_the_seeds(project: pytest.Pytester) -> None:
    project.makepyfile(test_probe='''
        import pytest
        from workflows import fan_out

        @pytest.mark.durable(seeds=3)
        def test_probe(durable_sim):
            assert durable_sim.run(fan_out, 2, id="job").value == [0, 2]
    ''')
    result = project.runpytest("-v", "--durable-seed=5")
    result.assert_outcomes(passed=1)
    line = re.search(r"^test_probe.py::test_probe: points: (\d+) of (\d+) single faults, 3 swarm worlds$",
                     result.stdout.str(), re.M)
    assert line is not None and line[1] == line[2], result.stdout.str()
    points = int(line[1])
    assert len(worlds_of(project)) == 1 + points + 3
    result.stdout.fnmatch_lines([
        "durable: seed=5; each durable test: the fault-free world, every single-fault point (cap 2000), then 20 "
        "swarm worlds",
        f"durable: {1 + points + 3} simulated worlds ran (seed=5): 1 fault-free, {points} single-fault, 3 swarm",
        "*- durable coverage -*",
    ])
    quiet = project.runpytest("--durable-seed=5")
    assert "durable coverage" not in quiet.stdout.str()  # the list is for -v


def test_aim_off_runs_exactly_the_seeds(project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    project.makepyfile(test_probe='''
        import pytest
        from workflows import fan_out

        @pytest.mark.durable(seeds=4)
        def test_probe(durable_sim):
            assert durable_sim.run(fan_out, 2, id="job").seed is not None  # every world a seeded one
    ''')
    for how in ("cli", "env", "ini"):
        (project.path / "worlds.jsonl").unlink(missing_ok=True)
        args = ["--durable-seed=5"]
        if how == "cli":
            args.append("--durable-aim=off")
        elif how == "env":
            monkeypatch.setenv("PYTEST_DURABLE_AIM", "off")
        else:
            monkeypatch.delenv("PYTEST_DURABLE_AIM")
            project.makeini("[pytest]\ndurable_aim = off\n")
        result = project.runpytest(*args)
        result.assert_outcomes(passed=1)
        assert worlds_of(project) == ["test_probe"] * 4, how
        result.stdout.fnmatch_lines(["durable: seed=5; each durable test: 20 seeded worlds (--durable-aim=off)",
                                     "durable: 4 simulated worlds ran (seed=5)"])


def test_the_cap_stops_the_aimed_phase_and_says_how_to_widen_it(project: pytest.Pytester) -> None:
    project.makepyfile(test_probe='''
        import pytest
        from workflows import fan_out

        @pytest.mark.durable(seeds=2)
        def test_probe(durable_sim):
            durable_sim.run(fan_out, 2, id="job")
    ''')
    result = project.runpytest("--durable-aim-cap=3", "-v")
    result.assert_outcomes(passed=1)
    assert len(worlds_of(project)) == 1 + 3 + 2
    out = result.stdout.str()
    points = int(re.search(r"points: 3 of (\d+) single faults, 2 swarm worlds", out)[1])  # type: ignore[index]
    result.stdout.fnmatch_lines([
        "durable: seed=*; each durable test: the fault-free world, every single-fault point (cap 3), then 20 swarm "
        "worlds",
        f"durable: the single-fault phase reached its cap of 3 worlds in 1 test ({points - 3} points not run); "
        "widen it with --durable-aim-cap=N (ini durable_aim_cap, env PYTEST_DURABLE_AIM_CAP)",
    ])
    assert "reached its cap" not in project.runpytest().stdout.str()  # under the default cap, no line


def test_each_call_position_gets_its_own_sweep(project: pytest.Pytester) -> None:
    """Two calls per world: each is aimed at its own points; the one with fewer runs swarm worlds once its
    points are done. A call whose workflow or arguments change from world to world runs swarm worlds."""
    project.makepyfile(test_probe='''
        import pytest
        from workflows import fan_out

        CALLS = []

        @pytest.mark.durable(seeds=2)
        def test_two_calls(durable_sim):
            durable_sim.run(fan_out, 1, id="job")
            durable_sim.run(fan_out, 3, id="job")

        @pytest.mark.durable(seeds=2)
        def test_changing_arguments(durable_sim):
            CALLS.append(1)
            durable_sim.run(fan_out, 1 if len(CALLS) == 1 else 2, id="job")
    ''')
    result = project.runpytest("-v")
    result.assert_outcomes(passed=2)
    out = result.stdout.str()
    two = re.search(r"test_two_calls: call 1: points: (\d+) of \1 single faults, (\d+) swarm worlds; "
                    r"call 2: points: (\d+) of \3 single faults, 2 swarm worlds$", out, re.M)
    assert two is not None, out
    few, swarm, many = int(two[1]), int(two[2]), int(two[3])
    assert few < many and swarm == many - few + 2
    assert worlds_of(project).count("test_two_calls") == 2 * (1 + many + 2)
    changing = re.search(r"test_changing_arguments: points: 0 of (\d+) single faults; (\d+) calls unlike its sweep's "
                         r"\(another workflow or arguments\) ran as swarm worlds$", out, re.M)
    assert changing is not None, out  # its later worlds were not its sweep's: none of its points ran
    assert worlds_of(project).count("test_changing_arguments") == 1 + int(changing[1]) + 2 == 1 + int(changing[2])


def test_a_failing_swarm_world_says_its_seed_and_faults(project: pytest.Pytester) -> None:
    project.makepyfile(test_probe='''
        import pytest
        from workflows import fan_out

        RAN = []

        @pytest.mark.durable(seeds=3, faults="none")
        def test_probe(durable_sim):
            RAN.append(1)
            durable_sim.run(fan_out, 2, id="job")
            assert len(RAN) < 3, "the second swarm world"
    ''')
    result = project.runpytest("--durable-seed=5")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["world 3 of 4 (run seed 5): swarm world, seed * (faults none): root job resolved; *",
                                 "coverage so far: points: 0 of 0 single faults, 2 swarm worlds",
                                 "reproduce: * --durable-seed=5"])
    assert "pin it:" not in result.stdout.str()  # a swarm world comes back from its seed


# -- aim=: one aimed world, checked at collection -------------------------------------------------------


def test_aim_fault_free_runs_just_the_fault_free_world(project: pytest.Pytester) -> None:
    project.makepyfile(test_probe='''
        import pytest
        from workflows import fan_out

        @pytest.mark.durable(aim="fault-free")
        def test_probe(durable_sim):
            run = durable_sim.run(fan_out, 2, id="job")
            assert run.seed is None and run.fault_counts == {}
    ''')
    project.runpytest().assert_outcomes(passed=1)
    assert worlds_of(project) == ["test_probe"]


@pytest.mark.parametrize(("aim", "message"), [
    ("'at(crash)'", "aim='at(crash)' is not one aimed point"),
    ("'crash(w1, after_create, job.1)'", "aim='crash(w1, after_create, job.1)' is not one aimed point"),
    ("'at(crash, await job.0); at(drop, response create job.0)'", "is not one aimed point"),
    ("3", "aim=3 is not valid; aim must be a string"),
    ("'at(crash, await job.0)', plan='crash(w1, after_create, job.1)'", "give aim= (one aimed world) or plan="),
])
def test_a_bad_aim_is_one_clear_error_naming_the_test(project: pytest.Pytester, aim: str, message: str) -> None:
    project.makepyfile(test_probe=f'''
        import pytest
        from workflows import fan_out

        @pytest.mark.durable(aim={aim})
        def test_probe(durable_sim):
            durable_sim.run(fan_out, 2, id="job")
    ''')
    result = project.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    errors = [line for line in result.stderr.lines if line.startswith("ERROR:")]
    assert len(errors) == 1 and "Traceback" not in result.stderr.str() + result.stdout.str()
    assert errors[0].startswith("ERROR: test_probe.py::test_probe: @pytest.mark.durable") and message in errors[0]
    assert worlds_of(project) == []


@pytest.mark.parametrize(("option", "message"), [
    ("--durable-aim=maybe", "--durable-aim: aim must be on or off, got 'maybe'"),
    ("--durable-aim-cap=-1", "--durable-aim-cap: aim_cap must be a number >= 0, got '-1'"),
    ("--durable-aim-cap=lots", "--durable-aim-cap: aim_cap must be a number >= 0, got 'lots'"),
])
def test_a_bad_aim_option_is_one_clear_error(project: pytest.Pytester, option: str, message: str) -> None:
    project.makepyfile(test_plain="def test_ok(): pass")
    result = project.runpytest(option)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: {message}"])


# -- swarm worlds stay within the test's fault bounds ------------------------------------------------------


def test_a_swarm_world_draws_no_more_faults_of_a_kind_than_the_test_allows() -> None:
    """A swarm mix bounds each kind at most at the test's own bound (``sim.aim.swarm_faults``), so a correct
    workflow (a leaf retried four times, against three rejections) raises no alarm in a swarm world."""
    from sim import FaultConfig
    from sim.aim import swarm_faults

    asked = FaultConfig.parse("crash,drop,reject:2")
    for seed in range(100):
        assert all(bound <= asked.bound(kind) for kind, bound in swarm_faults(seed, asked).bounds.items())
