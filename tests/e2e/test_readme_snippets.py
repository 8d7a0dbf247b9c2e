"""The README's Python examples run as written (issue 10, item 8): each is copied out of README.md and run
in a fresh interpreter in an empty folder, and what it prints is what the README says it prints."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"


def snippet(section: str) -> str:
    """The first Python block after the heading ``section``."""
    text = README.read_text()
    assert section in text, f"README.md lost its section {section!r}"
    block = re.search(r"```python\n(.*?)```", text.split(section, 1)[1], re.S)
    assert block is not None, f"README.md section {section!r} has no python block"
    return block[1]


def run(code: str, tmp_path: Path) -> str:
    path = tmp_path / "snippet.py"
    path.write_text(code)
    done = subprocess.run([sys.executable, str(path)], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize(("section", "printed"), [
    ("## The programming model",
     "['Processed: item 0 (item #0)', 'Processed: item 1 (item #1)', 'Processed: item 2 (item #2)']\n"),
    ("### Writing a scenario", "charged 1999 1\n"),
])
def test_a_readme_example_runs_as_written_and_prints_what_it_says(section: str, printed: str,
                                                                 tmp_path: Path) -> None:
    assert run(snippet(section), tmp_path) == printed


def test_the_readme_scenario_example_holds_its_invariants_under_every_fault(tmp_path: Path) -> None:
    """The scenario example is a correct workflow: it passes a sweep with every fault kind, and without
    its idempotency key its invariant catches the double charge a crash brings."""
    code = snippet("### Writing a scenario").split("result = run_world", 1)[0]
    sweep = code + (
        "bad = [s for s in range(200) if not run_world(scenario, seed=s, faults='all').ok]\n"
        "print('failing', bad)\n"
    )
    assert run(sweep, tmp_path) == "failing []\n"
    without_key = code.replace(", idempotency_key=key", "") + (
        "found = [s for s in range(300) if not run_world(scenario, seed=s, faults='crash').ok]\n"
        "print(bool(found))\n"
    )
    assert ", idempotency_key=key" in code
    assert run(without_key, tmp_path) == "True\n"


def test_the_readme_approval_example_runs_through_actors_as_written(tmp_path: Path) -> None:
    """The approval under an actor that comes early, late, twice or never: every world passes, and both the
    approval and the fallback are reached."""
    assert run(snippet("### Outside parties: approvals and webhooks as actors"), tmp_path) == (
        "True ['escalated', 'shipped 7']\n")


def test_the_readme_detach_example_runs_as_written_and_its_dispatch_is_judged(tmp_path: Path) -> None:
    code = snippet("### Detached children: started, never joined")
    assert run(code, tmp_path) == "True paid; dispatch checkout-7.1 ['resolved']\n"
    without_key = code.replace(', idempotency_key=f"parcel-{order}"', "").split("result = run_world", 1)[0] + (
        "print(any(not run_world(scenario, seed=s, faults='crash').ok for s in range(300)))\n")
    assert without_key != code and run(without_key, tmp_path) == "True\n"  # the dispatch's double send is found


def test_the_readme_select_example_runs_as_written_and_its_window_holds_under_every_fault(tmp_path: Path) -> None:
    """"Waiting for the first of several": the example prints what the README says; its window, run as a
    scenario, passes 100 worlds of every fault kind with the same value."""
    code = snippet("### Waiting for the first of several")
    assert run(code, tmp_path) == "[0, 1, 4, 9, 16, 25]\nexpired\n"
    sweep = code.split("async def main", 1)[0] + (
        "from sim import Scenario, run_world\n"
        "scenario = Scenario(window, (list(range(6)), 2), functions=(resize,), root_id='batch',\n"
        "                    expected=[n * n for n in range(6)])\n"
        "print('failing', [s for s in range(100) if not run_world(scenario, seed=s, faults='all').ok])\n"
    )
    assert run(sweep, tmp_path) == "failing []\n"


def test_the_readme_example_of_errors_by_class_settling_and_bounded_retries_runs_as_written(tmp_path: Path) -> None:
    """Issue 23, items 4, 6 and 7: a declined card caught by its class, a status page answered by
    ``ctx.resolve``, a leaf that reads its root's id, under a policy bounded by time and per attempt."""
    printed = run(snippet("### Errors by class, settling other promises, bounded retries"), tmp_path)
    assert printed == "declined 51\ndeclined 51\ncharged 4242 for order-8\n"


def test_the_readme_randomness_example_seeds_leaves_and_still_catches_a_body(tmp_path: Path) -> None:
    code = snippet("### Randomness and time inside a world")
    assert run(code, tmp_path) == "True True True\nTrue\n['nondeterminism']\n"
