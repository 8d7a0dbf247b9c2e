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
    kinds = ["crash", "drop", "duplicate", "reject", "server_restart"]
    out = sim("run", EXAMPLE, "--seeds", "2000", "--faults", ",".join(kinds))
    assert out.returncode == 0, out.stdout + out.stderr
    lines = out.stdout.splitlines()
    assert "seeds run: 2000 (0..1999); failing: 0" in lines
    assert "violations: none" in lines
    injected = dict(re.findall(r"(\w+) (\d+)", next(line for line in lines if line.startswith("faults injected:"))))
    assert sorted(injected) == sorted(kinds)
    assert all(int(injected[k]) > 0 for k in kinds)
    assert any(line.startswith("throughput: ") for line in lines)
    assert "root outcomes: resolved 2000" in lines
    assert "2000/2000 seeds" in out.stderr  # the progress bar


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
    assert "root outcomes: rejected with TypeError 4" in lines
    assert ("  not judged: the scenario gives neither expected= nor outcomes=, and seed 0's root was rejected "
            "(TypeError: Context.promise() missing 1 required keyword-only argument: 'timeout')") in lines
    judged = sim("run", f"{tmp_path}/misused.py:judged", "--seeds", "4", "--faults", "crash,drop")
    assert judged.returncode == 0, judged.stdout + judged.stderr
    assert "root outcomes: rejected with TypeError 4" in judged.stdout.splitlines()
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
