"""``python -m sim``: the sweep and its summary, one world shown three ways, replay, and bad input."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = "examples/fan_out_fan_in.py:scenario"


def sim(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "sim", *args], capture_output=True, text=True, cwd=ROOT, env=env)


def test_the_issue_sweep_passes_with_every_fault_kind_injected() -> None:
    """The fault-free world, one world per single fault of it, then 2,000 swarm worlds: all pass, every kind
    is injected, and the summary says what was covered."""
    kinds = ["crash", "drop", "duplicate", "reject", "server_restart"]
    out = sim("run", EXAMPLE, "--seeds", "2000", "--faults", ",".join(kinds))
    assert out.returncode == 0, out.stdout + out.stderr
    lines = out.stdout.splitlines()
    coverage = re.fullmatch(r"points: (\d+) of (\d+) single faults, 2000 swarm worlds \(server_restart: swarm worlds "
                            r"only\)", lines[0])
    assert coverage is not None and coverage.group(1) == coverage.group(2) and int(coverage.group(1)) > 50, lines[0]
    worlds = 1 + int(coverage.group(1)) + 2000
    assert f"worlds run: {worlds}; failing: 0" in lines
    assert "violations: none" in lines
    injected = dict(re.findall(r"(\w+) (\d+)", next(line for line in lines if line.startswith("faults injected:"))))
    assert sorted(injected) == sorted(kinds)
    assert all(int(injected[k]) > 0 for k in kinds)
    assert any(line.startswith("throughput: ") for line in lines)
    assert f"root outcomes: resolved {worlds}" in lines
    assert f"{worlds}/{worlds} worlds" in out.stderr  # the progress bar


def test_no_aim_samples_seeds_of_the_fixed_mix_as_before() -> None:
    out = sim("run", EXAMPLE, "--seeds", "30", "--no-aim")
    assert out.returncode == 0, out.stdout + out.stderr
    lines = out.stdout.splitlines()
    assert lines[:2] == ["points: not aimed (--no-aim); seeds run: 30 (0..29)", "worlds run: 30; failing: 0"]


MISUSED = """
import sim
from pytest_durable import Context, function

@function
async def approve(ctx: Context, order: str) -> str:
    approval = await ctx.promise()  # forgot the timeout: a TypeError in every world
    return await approval

scenario = sim.Scenario(approve, ("o-1",))
judged = sim.Scenario(approve, ("o-1",), outcomes=(TypeError,))
"""


def test_a_sweep_says_how_its_roots_ended_and_that_nothing_judged_a_rejection(tmp_path: Path) -> None:
    """Without expected= or outcomes= any outcome its own record agrees with passes, so a workflow that
    raises in every world passes every check: the summary counts the outcomes and shows that error."""
    (tmp_path / "misused.py").write_text(MISUSED)
    out = sim("run", f"{tmp_path}/misused.py:scenario", "--seeds", "4", "--faults", "crash,drop")
    assert out.returncode == 0, out.stdout + out.stderr
    lines = out.stdout.splitlines()
    worlds = int(next(line for line in lines if line.startswith("worlds run: ")).split()[2].rstrip(";"))
    assert f"root outcomes: rejected with TypeError {worlds}" in lines
    assert ("  not judged: the scenario gives neither expected= nor outcomes=, and the fault-free world's root was "
            "rejected (TypeError: Context.promise() missing 1 required keyword-only argument: 'timeout')") in lines
    judged = sim("run", f"{tmp_path}/misused.py:judged", "--seeds", "4", "--faults", "crash,drop")
    assert judged.returncode == 0, judged.stdout + judged.stderr
    assert f"root outcomes: rejected with TypeError {worlds}" in judged.stdout.splitlines()
    assert "not judged" not in judged.stdout


def test_one_world_as_a_tree_text_and_json() -> None:
    tree = sim("run", EXAMPLE, "--seed", "4711", "--faults", "crash,drop", "--trace", "tree")
    assert tree.returncode == 0
    assert tree.stdout.startswith("fan-out-fan-in  fan_out_fan_in_n(")
    assert re.search(r"├── fan-out-fan-in\.0  process_item\(WorkItem\(id=0, data='item-0'\)\)  resolved", tree.stdout)
    assert "seed 4711: root fan-out-fan-in resolved" in tree.stdout
    text = sim("run", EXAMPLE, "--seed", "4711", "--faults", "crash,drop", "--trace", "text")
    assert re.search(r"^\s+0\s+0\.000\s+client\s+send\s+fan-out-fan-in\s+create$", text.stdout, re.M)
    as_json = json.loads(sim("run", EXAMPLE, "--seed", "4711", "--faults", "crash,drop", "--trace", "json").stdout)
    assert as_json["seed"] == 4711 and as_json["target"] == f"{ROOT / EXAMPLE.partition(':')[0]}:scenario"
    summary_hash = re.search(r"trace (\w+)", tree.stdout)
    assert summary_hash is not None and as_json["trace_hash"] == summary_hash.group(1)


def test_replay_of_a_saved_world_matches_and_a_tampered_one_does_not(tmp_path: Path) -> None:
    saved = tmp_path / "world.json"
    out = sim("run", EXAMPLE, "--seed", "17", "--faults", "crash,drop,duplicate", "--out", str(saved))
    assert out.returncode == 0
    replay = sim("replay", str(saved))
    assert replay.returncode == 0 and replay.stdout.startswith("match: trace ")
    data = json.loads(saved.read_text())
    data["decisions"] = [[k, 0] for k, _ in data["decisions"]]  # a different world
    tampered = tmp_path / "tampered.json"
    tampered.write_text(json.dumps(data))
    again = sim("replay", str(tampered))
    assert again.returncode == 1 and again.stdout.startswith("differs: ")
    data["decisions"] = data["decisions"][:5]  # a recording cut short: the re-run goes past its end
    tampered.write_text(json.dumps(data))
    short = sim("replay", str(tampered))
    assert short.returncode == 1 and short.stdout.startswith("differs: "), short.stdout + short.stderr
    assert "the re-run asked for other choices than the recorded ones from draw 5 (" in short.stdout
    assert "is past the end of the recording (5 draws)" in short.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "examples/nope.py:scenario"], "no file examples/nope.py"),
        (["run", "examples/side_effect_bug.py:nothing"],
         "has no 'nothing'; scenarios in examples/side_effect_bug.py: buggy, fixed"),
        (["run", "examples/fan_out_fan_in.py"],
         "write FILE.py:NAME or MODULE:NAME (e.g. examples/fan_out_fan_in.py:scenario); scenarios in "
         "examples/fan_out_fan_in.py: scenario"),
        (["run", "sim.bench.scale:nothing"], "sim.bench.scale has no 'nothing'\n"),
        (["run", EXAMPLE, "--faults", "crash,meteor"], "--faults: cannot read 'meteor'"),
        (["run", EXAMPLE, "--plan", "crash(w1, sideways_create, x)"], "fault plan: cannot read"),
    ],
)
def test_bad_input_is_one_clear_error(args: list[str], message: str) -> None:
    out = sim(*args)
    assert out.returncode == 2
    assert message in out.stderr
    assert "Traceback" not in out.stderr


def test_points_lists_the_fault_points_of_the_fault_free_world() -> None:
    out = sim("points", "examples/transfer_bug.py:buggy")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    head = re.fullmatch(r"examples/transfer_bug\.py:buggy: (\d+) single-fault points in its fault-free world "
                        r"\(drop (\d+), crash (\d+), reject 2; it ran [\d.]+ virtual seconds\)", lines[0])
    assert head is not None, lines[0]
    listed = [line.strip() for line in lines[1:] if line.startswith("  at(")]
    assert len(listed) == int(head.group(1)) == sum(int(head.group(i)) for i in (2, 3)) + 2
    assert "at(crash, await pay.0)" in listed and "at(reject, body pay.0)" in listed
    assert "at(reject, repeatedly body pay.0)" in listed
    assert lines[-1].startswith("run one: python -m sim run examples/transfer_bug.py:buggy --aim 'POINT'")


def test_a_sweep_shows_what_it_left_uncovered_and_why() -> None:
    out = sim("run", "examples/transfer_bug.py:fixed", "--seeds", "2", "--aim-cap", "3", "--show-uncovered",
              "--faults", "crash,drop,partition")
    assert out.returncode == 0, out.stdout + out.stderr
    lines = out.stdout.splitlines()
    total = int(re.fullmatch(r"points: 3 of (\d+) single faults, 2 swarm worlds \(partition: swarm worlds only\)",
                             lines[0]).group(1))  # type: ignore[union-attr]
    assert lines[1] == f"  the single-fault phase stopped at its cap of 3 worlds ({total - 3} points not run); raise " \
                       "the cap to cover them"
    assert lines[2] == f"uncovered: {total - 3 + 1}"
    assert lines[3].endswith(": past the cap of 3 single-fault worlds")
    assert "  partition: strikes at fault ticks, not at a point; swarm worlds only" in lines
    assert "worlds run: 6; failing: 0" in lines


@pytest.mark.parametrize(("args", "message"), [
    (["--aim", "at(crash, settle pay.0)"], "fault plan: cannot read 'at(crash, settle pay.0)'"),
    (["--aim", "at(crash, await pay.0)", "--seed", "3"], "--aim and --seed each name one world: give one of them"),
    (["--aim-cap", "-1"], "--aim-cap must be >= 0 (most single-fault worlds), got -1"),
])
def test_bad_aim_options_are_one_line_each(args: list[str], message: str) -> None:
    out = sim("run", "examples/transfer_bug.py:buggy", *args)
    assert out.returncode == 2
    assert len(out.stderr.strip().splitlines()) == 1 and message in out.stderr, out.stderr


def test_a_failing_world_saved_by_a_sweep_says_what_the_sweep_had_covered(tmp_path: Path) -> None:
    out = sim("run", "examples/transfer_bug.py:buggy", "--seeds", "3", "--traces-dir", str(tmp_path))
    assert out.returncode == 1, out.stdout + out.stderr
    [saved] = tmp_path.iterdir()
    assert saved.name == "at-crash-await-pay.0.json"
    data = json.loads(saved.read_text())
    assert re.fullmatch(r"points: (\d+) of (\d+) single faults", data["coverage"]), data["coverage"]
    replayed = sim("replay", str(saved))
    assert replayed.returncode == 0 and replayed.stdout.startswith("match: "), replayed.stdout + replayed.stderr
