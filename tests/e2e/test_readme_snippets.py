"""The README's Python examples run as written (issue 10, item 8): each is copied out of README.md and run
in a fresh interpreter in an empty folder, and what it prints is what the README says it prints."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
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


# "Deploying new code" (issue 24, item 5): its shell session runs as written over examples/deploy, each
# command's output is what the section shows, its pytest file passes (and fails with the report for the
# reordering), its patched excerpt is the example's code, and its simulator commands say what it says.

DEPLOYING = "## Deploying new code"


def blocks(section: str, language: str) -> list[str]:
    """Every ``language`` block of the README section that starts at heading ``section``."""
    text = README.read_text()
    assert section in text, f"README.md lost its section {section!r}"
    body = re.split(r"\n## ", text.split(section, 1)[1], maxsplit=1)[0]
    return re.findall(rf"```{language}\n(.*?)```", body, re.S)


def transcripts(section: str) -> list[tuple[str, list[str]]]:
    """The ``$ command`` lines of the section's text blocks, each with the output lines shown under it."""
    out: list[tuple[str, list[str]]] = []
    for block in blocks(section, "text"):
        for line in block.splitlines():
            if line.startswith("$ "):
                out.append((line[2:], []))
            elif out:
                out[-1][1].append(line)
    return out


def command_of(line: str) -> str:
    """A shell line without its trailing comment."""
    return re.split(r"\s{2,}#", line, maxsplit=1)[0].strip()


@pytest.fixture
def shell(tmp_path: Path) -> dict[str, str]:
    """An environment where ``python`` is this interpreter and ``examples.deploy`` imports, as in a checkout."""
    bin = tmp_path / "bin"
    bin.mkdir()
    python = bin / "python"  # a script, not a symlink: a symlink outside the venv would start the base interpreter
    python.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    python.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin}{os.pathsep}{os.environ['PATH']}", "PYTHONPATH": str(README.parent)}
    env.pop("PYTHONUNBUFFERED", None)  # unbuffered, a line and its newline are two writes, which another process's
    return env                         # output can come between: the background worker's would break the lines


def run_session(lines: list[str], cwd: Path, env: dict[str, str]) -> dict[str, tuple[int, list[str]]]:
    """Run ``lines`` in one bash (as written), noting each command's exit code and output by its command."""
    script = []
    for n, line in enumerate(lines):
        script += [f"echo '@@ {n}'", line, "echo \"@@ rc $?\""]
    proc = subprocess.Popen(["bash", "-c", "\n".join(script)], cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=180)
    finally:
        with contextlib.suppress(ProcessLookupError):  # the session's background worker, if it outlived it
            os.killpg(proc.pid, signal.SIGKILL)
    said: dict[str, tuple[int, list[str]]] = {}
    current: list[str] = []
    for line in out.splitlines():
        if line.startswith("durable worker "):  # the background worker's own lines, whenever they come
            continue
        if line.startswith("@@ rc "):
            said[command_of(lines[len(said)])] = (int(line[6:]), current)
        elif line.startswith("@@ "):
            current = []
        else:
            current.append(line)
    assert len(said) == len(lines), out
    return said


def test_the_deploying_session_runs_as_written_and_prints_what_the_readme_shows(tmp_path: Path,
                                                                                shell: dict[str, str]) -> None:
    session, = blocks(DEPLOYING, "bash")
    lines = [line for line in session.splitlines() if line.strip()]
    said = run_session(lines, tmp_path, shell)
    exits = {command: rc for command, (rc, _) in said.items()}
    assert [rc for command, rc in exits.items() if "check-deploy" in command] == [1, 0, 0], said
    assert all(rc == 0 for command, rc in exits.items() if "check-deploy" not in command), said
    shown = [(command, printed) for command, printed in transcripts(DEPLOYING)
             if command.startswith("python -m pytest_durable")]
    assert len(shown) == 3
    for command, printed in shown:
        assert command in said, f"the README shows {command!r}, which its session does not run"
        assert said[command][1] == printed, (command, said[command])
    assert said["python -m pytest_durable run order-7 examples.deploy.orders_v1:fulfil '[\"order-7\", 3]' --wait"][
        1] == ['order-7 resolved → "3 reserved; order-7 charged 30; order-7 shipped"']
    assert sorted(p.name for p in (tmp_path / "histories").iterdir()) == ["order-7.json"]

    # The pytest file of the section, over the histories the session exported: it passes for the
    # patched version and fails with check-deploy's report for the reordering.
    test_file, = blocks(DEPLOYING, "python")[1:]
    (tmp_path / "test_deploy.py").write_text(test_file)
    passed = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-p", "no:cacheprovider",
                             "test_deploy.py"], cwd=tmp_path, env=shell, capture_output=True, text=True, timeout=120)
    assert passed.returncode == 0 and "1 passed" in passed.stdout, passed.stdout
    (tmp_path / "test_deploy.py").write_text(test_file.replace("orders_v2_patched", "orders_v2_reordered"))
    failed = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-p", "no:cacheprovider",
                             "test_deploy.py"], cwd=tmp_path, env=shell, capture_output=True, text=True, timeout=120)
    assert failed.returncode == 1, failed.stdout
    report = said["python -m pytest_durable check-deploy examples.deploy.orders_v2_reordered"][1][:-1]
    assert all(line in failed.stdout.splitlines() for line in report), (report, failed.stdout)


def test_the_deploying_patch_excerpt_is_the_examples_code() -> None:
    excerpt = blocks(DEPLOYING, "python")[0]
    example = (README.parent / "examples" / "deploy" / "orders_v2_patched.py").read_text()
    assert excerpt in example


def test_the_deploying_simulator_commands_say_what_the_readme_shows(shell: dict[str, str]) -> None:
    shown = [(command, printed) for command, printed in transcripts(DEPLOYING) if command.startswith("python -m sim")]
    assert [command.split(":")[1].split()[0] for command, _ in shown] == ["reordered", "patched"]
    for (command, printed), rc in zip(shown, [1, 0], strict=True):
        done = subprocess.run(["bash", "-c", command], cwd=README.parent, env=shell, capture_output=True, text=True,
                              timeout=300)
        assert done.returncode == rc, (command, done.stdout[-2000:], done.stderr[-2000:])
        lines = iter(done.stdout.splitlines())
        assert all(any(line == want for line in lines) for want in printed), (command, printed, done.stdout[-3000:])


LOGS = "### Logs and metrics"


def test_the_logs_and_metrics_session_runs_as_written_and_prints_what_the_readme_says(
        tmp_path: Path, shell: dict[str, str]) -> None:
    """The section's commands, in one bash: the worker logs json to a file and serves metrics on the port
    the section names; what ``run``, ``curl`` and ``grep`` print is what the text under it says."""
    session = blocks(LOGS, "bash")[0]  # the next subsections (schedules) have blocks of their own
    lines = [line for line in session.splitlines() if line.strip()]
    said = run_session(lines, tmp_path, shell)
    assert all(rc == 0 for rc, _ in said.values()), said
    text = " ".join(README.read_text().split(LOGS, 1)[1].split("\n### ", 1)[0].split())
    for command, (_, printed) in said.items():
        if command.startswith(("python -m pytest_durable run", "curl", "grep")):
            assert len(printed) == 1 and f"`{printed[0]}`" in text, (command, printed)
    assert said["curl -s localhost:9464/metrics | grep '^durable_roots_finished_total'"][1] == [
        'durable_roots_finished_total{state="resolved"} 1.0']
    logged = [json.loads(line) for line in (tmp_path / "worker.log").read_text().splitlines()]
    assert [e["event"] for e in logged] == ["metrics", "serving", "started", "finished", "stopping", "stopped"], [
        e["message"] for e in logged]
    assert (logged[3]["id"], logged[3]["function"], logged[3]["state"]) == ("order-8", "fulfil", "resolved")
