"""Bad input, second pass (issue 23, items 8 and 9): what a user's workflow, scenario file or command
line can do wrong ends in one clear line with the right exit code, never a traceback, a hang, an
INTERNALERROR or a silent pass.

``python -m sim`` runs as a subprocess (what a user types); the plugin runs in ``pytester``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sim import SimConfig, run_world
from tests.e2e.test_bad_input import EXAMPLE, ROOT, one_clear_line, sim, usage_error

pytest_plugins = ["pytester"]

HEADER = '''
import io
import trio
from pytest_durable import Context, function
from sim import Scenario
'''


def scenario_file(tmp_path: Path, source: str, name: str = "bad.py") -> str:
    path = tmp_path / name
    path.write_text(HEADER + source)
    return str(path)


def no_traceback(out: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in out.stdout + out.stderr, out.stdout[-3000:] + out.stderr[-3000:]


def violation_lines(out: subprocess.CompletedProcess[str], check: str) -> list[str]:
    return [line for line in out.stdout.splitlines() if f") {check}: " in line]


# -- a workflow that calls itself without end (item 9.1) --------------------------------------------------

RECURSION = '''
@function
async def forever(ctx: Context, n: int) -> int:
    return await ctx.rpc(forever, n + 1)

scenario = Scenario(forever, args=(0,))
'''


def test_a_workflow_calling_itself_without_end_stops_at_the_promise_cap(tmp_path: Path) -> None:
    target = scenario_file(tmp_path, RECURSION) + ":scenario"
    out = sim("run", target, "--seed", "0", "--max-promises", "300")
    no_traceback(out)
    assert out.returncode == 1, out.stdout[-2000:]
    [line] = violation_lines(out, "promise-cap")
    assert "the world made more than 300 promises and was stopped there" in line
    assert "--max-promises N" in line and "SimConfig(max_promises=N)" in line
    assert "(300 levels deep)" in line  # the deepest promise of the endless chain
    assert "reproduce: " in out.stdout and "--max-promises 300" in out.stdout


def test_by_default_the_endless_chain_stops_at_2000_levels(tmp_path: Path) -> None:
    out = sim("run", scenario_file(tmp_path, RECURSION) + ":scenario", "--seed", "0")
    no_traceback(out)
    assert out.returncode == 1
    [line] = violation_lines(out, "promise-cap")
    assert "the world made a chain of calls more than 2,000 deep and was stopped there" in line
    assert "--max-depth N" in line and "SimConfig(max_depth=N)" in line


def test_the_depth_cap_leaves_a_wide_fan_out_alone() -> None:
    from examples.fan_out_fan_in import scenario

    result = run_world(scenario(), seed=0, config=SimConfig(max_depth=1), faults="crash,drop")
    assert result.ok, result.violations
    too_deep = run_world(scenario(), seed=0, config=SimConfig(max_depth=0), faults="none")
    assert [v.check for v in too_deep.violations] == ["promise-cap"]


def test_a_world_stopped_at_the_cap_replays_under_the_same_cap(tmp_path: Path) -> None:
    path = tmp_path / "capped.json"
    out = sim("run", scenario_file(tmp_path, RECURSION) + ":scenario", "--seed", "0", "--max-promises", "80",
              "--out", str(path))
    assert out.returncode == 1 and json.loads(path.read_text())["max_promises"] == 80, out.stdout[-1000:]
    again = sim("replay", str(path))
    assert again.returncode == 0 and again.stdout.startswith("match: "), again.stdout


def test_the_promise_cap_stops_the_world_the_same_way_every_time(tmp_path: Path) -> None:
    sys.path.insert(0, str(tmp_path))
    try:
        scenario_file(tmp_path, RECURSION, "recursion_cap.py")
        import recursion_cap  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(tmp_path))
    config = SimConfig(max_promises=120)
    first, again = (run_world(recursion_cap.scenario, seed=3, faults="crash,drop", config=config) for _ in range(2))
    assert first.trace_hash == again.trace_hash
    assert [v.check for v in first.violations] == ["promise-cap"]  # stopped part-way: no liveness symptom
    assert len(first.promises) == 121


def test_a_world_under_the_cap_is_not_touched_by_it() -> None:
    from examples.fan_out_fan_in import scenario

    result = run_world(scenario(), seed=0, config=SimConfig(max_promises=len(run_world(scenario(), seed=0).promises)))
    assert result.ok, result.violations


@pytest.mark.parametrize("option", ["--max-promises", "--max-depth"])
def test_the_caps_must_be_positive(option: str) -> None:
    one_clear_line(sim("run", EXAMPLE, "--seed", "1", option, "0"), "run", f"{option} must be >= 1")


# -- a chain 1,200 deep (item 9.2) ----------------------------------------------------------------------

CHAIN = '''
@function
async def chain(ctx: Context, n: int) -> int:
    if n == 0:
        return 0
    return 1 + await ctx.rpc(chain, n - 1)

scenario = Scenario(chain, args=(1200,))
'''


def test_a_chain_1200_deep_is_drawn_with_the_deeper_promises_counted(tmp_path: Path) -> None:
    out = sim("run", scenario_file(tmp_path, CHAIN) + ":scenario", "--seed", "0", "--faults", "none",
              "--html", str(tmp_path / "chain.html"))
    no_traceback(out)
    assert out.returncode == 0, out.stderr[-2000:]
    [deeper] = [line for line in out.stdout.splitlines() if "deeper promise(s)" in line]
    assert "… 1140 deeper promise(s) under root" in deeper and "not shown (below 60 levels)" in deeper
    assert (tmp_path / "chain.html").exists()


def test_the_plugin_reports_a_failing_chain_1200_deep_without_internalerror(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_chain='''
        import pytest
        from pytest_durable import Context, function

        @function
        async def chain(ctx: Context, n: int) -> int:
            if n == 0:
                return 0
            return 1 + await ctx.rpc(chain, n - 1)

        @pytest.mark.durable(aim="fault-free")
        def test_chain(durable_sim):
            durable_sim.run(chain, 1200, expected=7)
    ''')
    result = pytester.runpytest("-p", "no:cacheprovider", "-p", "no:randomly", "--durable-hash-seed=off")
    everything = result.stdout.str() + result.stderr.str()
    assert "INTERNALERROR" not in everything and "RecursionError" not in everything, everything[-3000:]
    assert result.ret == pytest.ExitCode.TESTS_FAILED, everything[-3000:]
    assert "deeper promise(s)" in everything


# -- a scenario file that does not load (item 9.3) ------------------------------------------------------


@pytest.mark.parametrize(("source", "said"), [
    ("def x(:\n    pass\n", "bad.py, line 1: SyntaxError: invalid syntax; fix the file and run again"),
    ("import no_such_module_anywhere\n", "bad.py, line 6: ModuleNotFoundError: No module named "
     "'no_such_module_anywhere'; fix the file and run again"),
    ("def scenario():\n    raise ValueError('no database')\n", "scenario() raised at "),
], ids=["syntax error", "failing import", "factory raises"])
def test_a_scenario_file_that_does_not_load(tmp_path: Path, source: str, said: str) -> None:
    path = tmp_path / "bad.py"
    path.write_text("\n\n\n\n\n" + source if "import" in source else source)
    line = one_clear_line(sim("run", f"{path}:scenario", "--seed", "0"), "run", said)
    if "factory" in said or "raised at" in said:
        assert f"{path}, line 2: ValueError: no database" in line


# -- numbers out of range, options that cannot go together (items 9.4, 9.8) ------------------------------


@pytest.mark.parametrize(("args", "said"), [
    (["--seeds", str(10**20)], "--seeds must be at most 10,000,000 (swarm worlds after the aimed ones), got a "
                               "21-digit number"),
    (["--seed", str(10**20)], "--seed must be a whole number from 0 to 2**63-1, got a 21-digit number"),
    (["--seed", "-1"], "--seed must be a whole number from 0 to 2**63-1, got -1"),
    (["--first-seed", str(2**63)], "--first-seed must be a whole number from 0 to 2**63-1"),
    (["--faults", ""], "--faults is empty: give fault kinds (e.g. crash,drop), or --faults none"),
    (["--seeds", "10", "--seed", "3"], "--seed N runs and shows the one world N, so --seeds does not apply"),
    (["--seed", "1", "--html", "/proc/no-such-place/w.html"], "--html /proc/no-such-place/w.html: its folder"),
])
def test_a_bad_number_or_combination(args: list[str], said: str) -> None:
    one_clear_line(sim("run", EXAMPLE, *args), "run", said)


def test_an_empty_faults_for_points() -> None:
    one_clear_line(sim("points", EXAMPLE, "--faults", " "), "points", "--faults is empty")


def test_an_unwritable_html_for_replay_is_said_before_the_world_runs(tmp_path: Path) -> None:
    saved = tmp_path / "w.json"
    assert sim("run", EXAMPLE, "--seed", "1", "--out", str(saved)).returncode in (0, 1)
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    one_clear_line(sim("replay", str(saved), "--html", str(blocker / "t.html")), "replay",
                   f"--html {blocker / 't.html'}: its folder {blocker} cannot be made")


@pytest.mark.parametrize(("option", "said"), [
    (f"--durable-seeds={10**20}", "--durable-seeds: seeds must be at most 10,000,000 worlds per test"),
    (f"--durable-seed={10**20}", "--durable-seed: a seed is a whole number from 0 to 2**63-1, got a 21-digit number"),
    ("--durable-seed=-3", "--durable-seed: a seed is a whole number from 0 to 2**63-1, got -3"),
    ("--durable-html=a-file/pages", "--durable-html a-file/pages: this folder cannot be made"),
])
def test_a_plugin_option_out_of_range_is_a_usage_error(pytester: pytest.Pytester, option: str, said: str) -> None:
    (pytester.path / "a-file").write_text("")
    pytester.makepyfile(test_plain="def test_ok(): pass")
    usage_error(pytester.runpytest("-p", "no:cacheprovider", option), said)


# -- KeyboardInterrupt raised by a body (item 9.5) ------------------------------------------------------

RAISES_INTERRUPT = '''
@function
async def leaf() -> int:
    raise KeyboardInterrupt

@function
async def wf(ctx: Context) -> int:
    return await ctx.run(leaf)

scenario = Scenario(wf, functions=(leaf,))
'''


def test_a_body_raising_keyboard_interrupt_fails_its_worlds_and_the_sweep_goes_on(tmp_path: Path) -> None:
    out = sim("run", scenario_file(tmp_path, RAISES_INTERRUPT) + ":scenario", "--seeds", "3", "--faults", "crash")
    no_traceback(out)
    assert out.returncode == 1 and "interrupted" not in out.stdout + out.stderr, out.stdout[-2000:]
    assert "the body of root.0 raised KeyboardInterrupt" in out.stdout
    assert "failing: " in out.stdout and "user-base-exception" in out.stdout


def test_a_body_raising_keyboard_interrupt_fails_its_test_not_the_session(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_ki='''
        import pytest
        from pytest_durable import Context, function

        @function
        async def leaf() -> int:
            raise KeyboardInterrupt

        @function
        async def wf(ctx: Context) -> int:
            return await ctx.run(leaf)

        @pytest.mark.durable(seeds=2)
        def test_raises(durable_sim):
            durable_sim.run(wf)

        def test_after():
            pass
    ''')
    result = pytester.runpytest("-p", "no:cacheprovider", "-p", "no:randomly", "--durable-hash-seed=off")
    everything = result.stdout.str() + result.stderr.str()
    assert "INTERNALERROR" not in everything and "!!! KeyboardInterrupt" not in everything, everything[-3000:]
    result.assert_outcomes(failed=1, passed=1)
    assert "user-base-exception" in everything


# -- a reader that leaves early (item 9.6) ---------------------------------------------------------------


@pytest.mark.parametrize("args", [["run", EXAMPLE, "--seeds", "30"],
                                  ["run", EXAMPLE, "--seed", "1", "--trace", "text"]], ids=["sweep", "one world"])
def test_a_closed_pipe_ends_quietly_with_141(args: list[str]) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen([sys.executable, "-m", "sim", *args], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # the reader left before the first line (`| head -0`); a later one races the writes
    err = process.stderr.read()
    assert process.wait(timeout=120) == 141, err
    assert "Traceback" not in err and "BrokenPipeError" not in err and "Exception ignored" not in err, err


# -- misuse of the SDK inside a world (item 9.7) --------------------------------------------------------

MISUSE = '''
saved = []

@function
async def leaf(x: object = None) -> int:
    return 1

@function
async def twice(ctx: Context) -> int:
    builder = ctx.run(leaf)
    await builder
    return await builder

@function
async def a_lambda(ctx: Context) -> int:
    return await ctx.run(leaf, lambda: 1)

@function
async def a_file(ctx: Context) -> int:
    return await ctx.run(leaf, io.StringIO("x"))

@function
async def a_context(ctx: Context) -> int:
    return await ctx.run(leaf, ctx)

@function
async def cyclic(ctx: Context) -> int:
    value = []
    value.append(value)
    return await ctx.run(leaf, value)

@function
async def too_deep(ctx: Context) -> int:
    value = []
    for _ in range(5000):
        value = [value]
    return await ctx.run(leaf, value)

@function
async def recursion(ctx: Context, n: int) -> int:
    return 0 if n == 0 else await ctx.run(recursion, n - 1)

@function
async def child_uses_parent(ctx: Context) -> int:
    return await saved[-1].run(leaf)

@function
async def parent_ctx(ctx: Context) -> int:
    saved.append(ctx)
    return await ctx.run(child_uses_parent)

@function
async def rpc_twice(ctx: Context) -> int:
    builder = ctx.rpc(leaf)
    await builder.spawn()
    return await builder.spawn()

def make(workflow, *args):
    return lambda: Scenario(workflow, args=args, functions=(leaf, child_uses_parent))

twice_s, lambda_s, file_s, context_s = make(twice), make(a_lambda), make(a_file), make(a_context)
cyclic_s, deep_s, recursion_s = make(cyclic), make(too_deep), make(recursion, 150)
parent_s, rpc_twice_s = make(parent_ctx), make(rpc_twice)
'''


@pytest.mark.parametrize(("name", "said"), [
    ("twice_s", "root twice() misused the SDK: UsageError: ctx.run(leaf) was already started"),
    ("rpc_twice_s", "root rpc_twice() misused the SDK: UsageError: ctx.rpc(leaf) was already started"),
    ("lambda_s", "root a_lambda() misused the SDK: EncodingError: leaf: cannot encode argument 'x'"),
    ("file_s", "type _io.StringIO is not supported"),
    ("context_s", "type pytest_durable.sdk.context.Context is not supported"),
    ("cyclic_s", "root cyclic() misused the SDK: EncodingError: leaf: cannot encode argument 'x': it is cyclic"),
    ("deep_s", "it is cyclic or nested deeper than 100 levels"),
    ("recursion_s", "make the recursion shallower"),
    ("parent_s", "root.0 child_uses_parent() misused the SDK: UsageError: ctx.run on the Context of root was "
                 "called outside that workflow's body"),
])
def test_misuse_of_the_sdk_fails_the_world_with_one_short_line(tmp_path: Path, name: str, said: str) -> None:
    out = sim("run", f"{scenario_file(tmp_path, MISUSE)}:{name}", "--seed", "0", "--faults", "none")
    no_traceback(out)
    assert out.returncode == 1, out.stdout[-2000:]
    [line] = violation_lines(out, "misuse")
    assert said in line, line
    assert len(line) < 700, len(line)


def test_misuse_in_a_sweep_is_counted_and_the_not_judged_note_is_short(tmp_path: Path) -> None:
    out = sim("run", f"{scenario_file(tmp_path, MISUSE)}:deep_s", "--seeds", "2")
    no_traceback(out)
    assert out.returncode == 1
    assert "violations: misuse " in out.stdout
    assert max(len(line) for line in out.stdout.splitlines()) < 1000


# -- the hash-seed check's summary (item 9.9) -----------------------------------------------------------

HASH_ORDER = '''
@function
async def leaf(name: str) -> str:
    return name

@function
async def wf(ctx: Context) -> list[str]:
    return sorted([await ctx.run(leaf, name) for name in {"alpha", "beta", "gamma", "delta", "epsilon"}])

scenario = Scenario(wf, functions=(leaf,))
'''


def test_check_hash_seed_names_what_failed_in_the_summary(tmp_path: Path) -> None:
    out = sim("run", scenario_file(tmp_path, HASH_ORDER) + ":scenario", "--no-aim", "--seeds", "2", "--faults",
              "none", "--check-hash-seed")
    no_traceback(out)
    assert out.returncode == 1, out.stdout
    assert "worlds run: 2; failing: 1 (1 by the hash-seed check)" in out.stdout
    assert "violations: hash-seed 1" in out.stdout and "violations: none" not in out.stdout


# -- an edited saved world (item 9.10) ------------------------------------------------------------------


def test_an_edited_decision_that_traces_the_same_is_still_said_to_differ(tmp_path: Path) -> None:
    path = tmp_path / "world.json"
    assert sim("run", EXAMPLE, "--seed", "1", "--out", str(path)).returncode in (0, 1)
    data = json.loads(path.read_text())
    last = len(data["decisions"]) - 1
    data["decisions"][last][1] = 1 - data["decisions"][last][1]  # a last choice that changes nothing traced
    path.write_text(json.dumps(data))
    out = sim("replay", str(path))
    no_traceback(out)
    assert out.returncode == 1, out.stdout
    assert out.stdout.startswith("differs: the file's decisions were edited (they hash to "), out.stdout
    assert "but it is not the saved world" in out.stdout


def test_an_old_file_with_an_extra_decision_is_said_to_differ(tmp_path: Path) -> None:
    path = tmp_path / "world.json"
    assert sim("run", EXAMPLE, "--seed", "1", "--out", str(path)).returncode in (0, 1)
    data = json.loads(path.read_text())
    del data["decisions_hash"]  # as files of earlier releases
    data["decisions"].append(["schedule", 0])
    path.write_text(json.dumps(data))
    out = sim("replay", str(path))
    assert out.returncode == 1 and "the file lists" in out.stdout and "the re-run drew" in out.stdout, out.stdout


def test_an_unedited_saved_world_still_matches(tmp_path: Path) -> None:
    path = tmp_path / "world.json"
    assert sim("run", EXAMPLE, "--seed", "1", "--out", str(path)).returncode in (0, 1)
    out = sim("replay", str(path))
    assert out.stdout.startswith("match: "), out.stdout


# -- an invariant that raises (item 8) ------------------------------------------------------------------

RAISING_INVARIANT = '''
@function
async def wf(ctx: Context) -> int:
    raise ValueError("declined")

def total_is_one(result):
    return [] if result.root.value["total"] == 1 else ["total is not 1"]

scenario = Scenario(wf, invariants=(total_is_one,))
'''


def test_an_invariant_that_raises_fails_each_world_naming_it_and_the_sweep_goes_on(tmp_path: Path) -> None:
    out = sim("run", scenario_file(tmp_path, RAISING_INVARIANT, "inv.py") + ":scenario", "--seeds", "2",
              "--faults", "crash")
    no_traceback(out)
    assert out.returncode == 1
    assert "FAILED (8) user: invariant inv.total_is_one raised TypeError: string indices must be integers" \
        in out.stdout
    ran = int(out.stdout.split("worlds run: ")[1].split(";")[0])
    assert ran > 2 and f"failing: {ran}" in out.stdout  # every world ran and failed


def test_an_invariant_that_raises_in_the_plugin_is_a_failing_world(pytester: pytest.Pytester) -> None:
    pytester.makeconftest('''
        def reads_total(result):
            return [] if result.root.value["total"] == 1 else ["total is not 1"]

        def pytest_durable_invariants(item, scenario):
            return [reads_total]
    ''')
    pytester.makepyfile(test_inv='''
        import pytest
        from pytest_durable import Context, function

        @function
        async def wf(ctx: Context) -> int:
            raise ValueError("declined")

        @pytest.mark.durable(seeds=2)
        def test_inv(durable_sim):
            durable_sim.run(wf)
    ''')
    result = pytester.runpytest("-p", "no:cacheprovider", "-p", "no:randomly", "--durable-hash-seed=off")
    everything = result.stdout.str() + result.stderr.str()
    assert "INTERNALERROR" not in everything, everything[-3000:]
    result.assert_outcomes(failed=1)
    assert "invariant conftest.reads_total raised TypeError" in everything


def test_user_invariants_turn_an_exception_into_a_violation_naming_the_invariant() -> None:
    from sim.checks import user_invariants

    def broken(result: object) -> list[str]:
        raise KeyError("total")

    def fine(result: object) -> list[str]:
        return ["a broken rule"]

    found = user_invariants(None, (broken, fine))
    assert [v.check for v in found] == ["user", "user"]
    assert found[0].message.startswith(f"invariant {__name__}.test_user_invariants_turn_an_exception_into_a_"
                                       "violation_naming_the_invariant.<locals>.broken raised KeyError: 'total'")
    assert found[1].message == "a broken rule"

