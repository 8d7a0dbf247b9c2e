"""Progress (issue 10, item 4): a durable test running many worlds shows worlds done and failing so far
on its terminal line, and leaves the line, the captured output, ``-q``, ``-v``, ``-s``, ``-n`` and a
non-terminal exactly as they were; ``python -m sim run`` reports on a non-terminal at least every few
seconds. When and how often to draw is driven by a fake clock or set to "every world" (the module's
``EVERY``), never timed; a terminal is a real pseudo-terminal (``pty``) read back through a tiny
terminal model (carriage return, backspace, newline).
"""

from __future__ import annotations

import fcntl
import io
import os
import pty
import re
import struct
import subprocess
import sys
import termios

import pytest

from pytest_durable.testing.progress import MIN_ROOM, TestProgress
from sim.cli.sweep_progress import Progress

pytest_plugins = ["pytester"]

WIDTH = 100

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

# Every world is drawn (the interval is 0), so what the line shows does not depend on the machine's speed.
CONFTEST = '''
import pytest_durable.testing.progress

pytest_durable.testing.progress.EVERY = 0.0
'''

# The fault-free world, each single-fault point of fan_out(2), then 30 swarm worlds; every third one is told
# a wrong expected value and checked with check=False: it fails its checks but not the test. Each world's
# verdict goes to verdicts.txt.
MANY = '''
import pytest

from workflows import fan_out


@pytest.mark.durable(seeds=30, faults="crash")
def test_many(durable_sim):
    print("output of the test")
    wrong = durable_sim.seed % 3 == 0
    result = durable_sim.run(fan_out, 2, id="job", check=False, expected=[0, 3] if wrong else [0, 2])
    with open("verdicts.txt", "a") as out:
        out.write("ok\\n" if result.ok else "failed\\n")


def test_plain():
    pass
'''

# Fails in its twelfth world (of 13: the fault-free one, then 12 swarm worlds; no fault kinds, so no single-fault
# ones), after its progress was drawn: its captured output must be its own.
FAILS_LATE = '''
import pytest

from workflows import fan_out

RAN = []


@pytest.mark.durable(seeds=12, faults="none")
def test_fails_late(durable_sim):
    RAN.append(1)
    print(f"world {len(RAN)} of the test")
    durable_sim.run(fan_out, 2, id="job")
    assert len(RAN) < 12, "the last world"
'''


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(workflows=WORKFLOWS, test_many=MANY)
    pytester.makeconftest(CONFTEST)
    return pytester


def on_a_terminal(path: os.PathLike[str], *args: str) -> str:
    """What ``python -m pytest args`` writes to a pseudo-terminal WIDTH columns wide, raw."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, WIDTH, 0, 0))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "COLUMNS", "LINES"))}
    env["TERM"] = "xterm"
    proc = subprocess.Popen([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args], cwd=path, env=env,
                            stdin=slave, stdout=slave, stderr=slave, close_fds=True)
    os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the child closed its end
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    proc.wait(timeout=300)
    return b"".join(chunks).decode()


def screen(raw: str) -> str:
    """What a terminal shows after ``raw``: colours dropped; ``\\r`` to column 0, ``\\b`` one back, newline."""
    raw = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", raw)
    lines: list[str] = []
    line: list[str] = []
    col = 0
    for ch in raw:
        if ch == "\n":
            lines.append("".join(line).rstrip())
            line, col = [], 0
        elif ch == "\r":
            col = 0
        elif ch == "\b":
            col = max(0, col - 1)
        else:
            line.extend(" " * (col + 1 - len(line)))
            line[col] = ch
            col += 1
    lines.append("".join(line).rstrip())
    return re.sub(r" in [\d.]+s", " in Ts", "\n".join(lines))


DRAWN = re.compile(r"\[durable (\d+)/(\d+) worlds, (\d+) failing, \d+ s\]")


# -- the plugin: on a terminal ------------------------------------------------------------------------------


@pytest.mark.parametrize("verbosity", ["-q", "-v"])
def test_a_durable_test_shows_worlds_done_and_failing_and_leaves_the_line_as_it_was(project: pytest.Pytester,
                                                                                   verbosity: str) -> None:
    raw = on_a_terminal(project.path, verbosity, "--durable-seed=5", "--durable-progress=0")
    verdicts = (project.path / "verdicts.txt").read_text().split()
    worlds = len(verdicts)  # the test learns how many after its first world, and draws that from the first
    assert worlds > 31 and 0 < verdicts.count("failed") < worlds
    drawn = [(int(done), int(total), int(failing)) for done, total, failing in DRAWN.findall(raw)]
    assert [done for done, _, _ in drawn] == list(range(1, worlds + 1)), raw  # every world, in order
    assert {total for _, total, _ in drawn} == {worlds}
    assert [failing for _, _, failing in drawn] == [verdicts[:done].count("failed") for done in range(1, worlds + 1)]
    (project.path / "verdicts.txt").unlink()
    plain = on_a_terminal(project.path, verbosity, "--durable-seed=5", "--durable-progress=off")
    assert "[durable" not in plain
    assert screen(raw) == screen(plain)  # once the test ends, the terminal shows what it would have
    assert "2 passed" in screen(raw)
    line = ".." if verbosity == "-q" else "test_many.py::test_many PASSED"
    assert any(row.startswith(line) for row in screen(raw).splitlines()), screen(raw)


def test_the_captured_output_of_a_failing_test_is_its_own(project: pytest.Pytester) -> None:
    project.makepyfile(test_late=FAILS_LATE)
    raw = on_a_terminal(project.path, "test_late.py", "--durable-seed=5", "--durable-progress=0")
    assert DRAWN.search(raw), raw  # it was drawn while the test ran
    shown = screen(raw)
    captured = shown[shown.index("Captured stdout call"):]
    assert captured.splitlines()[1:13] == [f"world {i} of the test" for i in range(1, 13)]
    assert "[durable" not in shown and "\b" not in captured
    assert shown.count("world 12 of 13 (run seed 5)") == 1  # the durable report, once


def test_a_test_shorter_than_the_delay_shows_nothing(project: pytest.Pytester) -> None:
    """Progress waits --durable-progress seconds into a test (default 1): a test done sooner draws nothing.
    An hour stands for "longer than the test", whatever the machine's speed."""
    raw = on_a_terminal(project.path, "--durable-seed=5", "--durable-progress=3600")
    assert "[durable" not in raw and "\b" not in raw
    assert "2 passed" in raw


@pytest.mark.parametrize("args", [["-s"], ["-n", "2"], ["-o", "log_cli=true"]], ids=["-s", "-n2", "log_cli"])
def test_where_the_line_is_not_pytests_own_nothing_is_drawn(project: pytest.Pytester, args: list[str]) -> None:
    raw = on_a_terminal(project.path, *args, "--durable-seed=5", "--durable-progress=0")
    assert "[durable" not in raw and "\b" not in raw
    assert "2 passed" in raw, raw


# -- the plugin: not a terminal ----------------------------------------------------------------------------


def test_on_a_non_terminal_nothing_is_drawn(project: pytest.Pytester) -> None:
    result = project.runpytest("--durable-seed=5", "--durable-progress=0")
    result.assert_outcomes(passed=2)
    assert "[durable" not in result.stdout.str() and "\b" not in result.stdout.str()
    piped = subprocess.run([sys.executable, "-m", "pytest", "--durable-seed=5", "--durable-progress=0"],
                           cwd=project.path, capture_output=True, text=True, timeout=300)
    assert piped.returncode == 0, piped.stdout + piped.stderr
    assert "[durable" not in piped.stdout + piped.stderr and "\b" not in piped.stdout


@pytest.mark.parametrize("value", ["soon", "-1", "nan"])
def test_a_bad_progress_option_is_one_clear_error(project: pytest.Pytester, value: str) -> None:
    result = project.runpytest(f"--durable-progress={value}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert re.search(r"^ERROR: --durable-progress: progress must be a (finite )?number >= 0", result.stderr.str(), re.M)
    assert "Traceback" not in result.stderr.str() + result.stdout.str()


# -- TestProgress: when and what, on a fake clock --------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_progress_waits_after_seconds_then_draws_every_interval() -> None:
    clock = FakeClock()
    out: list[str] = []
    progress = TestProgress(50, out.append, lambda: 80, after=1.0, every=0.5, clock=clock)
    assert not progress.due()
    clock.now += 0.99
    assert not progress.due()
    clock.now += 0.01
    assert progress.due()
    progress.show(7, 1)
    assert out == [" [durable 7/50 worlds, 1 failing, 1 s]"]
    clock.now += 0.49
    assert not progress.due()
    clock.now += 0.01
    assert progress.due()
    progress.show(9, 2)
    erase = "\b" * len(out[0]) + " " * len(out[0]) + "\b" * len(out[0])
    assert out[1] == erase + " [durable 9/50 worlds, 2 failing, 2 s]"
    progress.close()
    second = " [durable 9/50 worlds, 2 failing, 2 s]"
    assert out[2] == "\b" * len(second) + " " * len(second) + "\b" * len(second)
    progress.close()
    assert len(out) == 3  # nothing left to erase


def test_progress_fits_the_room_left_on_the_line() -> None:
    clock = FakeClock()
    out: list[str] = []
    room = [20]
    progress = TestProgress(5000, out.append, lambda: room[0], after=0, clock=clock)
    progress.show(1234, 0)
    assert out == [" [durable 1234/5000 "]  # 20 columns
    room[0] = MIN_ROOM - 1
    progress.show(1235, 0)
    assert out[1] == "\b" * 20 + " " * 20 + "\b" * 20  # too narrow now: erased, not redrawn
    assert len(out) == 2


# -- python -m sim run: a line at least every few seconds on a non-terminal -----------------------------------


def test_the_cli_progress_on_a_non_terminal_prints_every_few_seconds_not_only_per_tenth() -> None:
    clock = FakeClock()
    stream = io.StringIO()
    progress = Progress(1000, stream, every=5.0, clock=clock)
    for done in range(1, 31):  # 30 seeds, 2 s each: no tenth is reached
        clock.now += 2.0
        progress.update(done, 0)
    lines = stream.getvalue().splitlines()
    shown = [int(re.search(r"\] (\d+)/1000 worlds", line)[1]) for line in lines]  # type: ignore[index]
    assert shown == list(range(1, 31, 3))  # the first seed, then whenever 5 s have passed since the last line
    assert lines[1].endswith("] 4/1000 worlds, 0 failing, 8.0 s")


def test_the_cli_progress_on_a_fast_sweep_prints_per_tenth() -> None:
    clock = FakeClock()
    stream = io.StringIO()
    progress = Progress(1000, stream, every=5.0, clock=clock)
    for done in range(1, 1001):
        clock.now += 0.001
        progress.update(done, 1 if done > 500 else 0)
    lines = stream.getvalue().splitlines()
    shown = [re.search(r"\] (\d+)/1000 worlds, (\d) failing", line).groups() for line in lines]  # type: ignore[union-attr]
    assert shown == [(str(n), "0" if n <= 500 else "1") for n in [1, *range(100, 1001, 100)]]
