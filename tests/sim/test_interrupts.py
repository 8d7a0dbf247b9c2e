"""Interrupts are the user's (issue 8, item 4): Ctrl-C stops a sweep or a durable pytest run at once and
is never a failing world. ``KeyboardInterrupt`` (and ``SystemExit`` from outside a body) leave
``run_world`` as themselves, through trio's exception groups, and no layer of the SDK swallows them.

The signal tests start a long run in a subprocess, wait (bounded) until it reports progress, send SIGINT
and wait (bounded) for it to end; nothing is timed.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import IO, Any

import pytest
import trio

from pytest_durable import Context, function
from sim import Scenario, run_world
from tests.helpers.worlds import new_store, new_worker
from tests.helpers.worlds import run_world as run_live

ROOT = Path(__file__).resolve().parents[2]
WAIT = 60.0  # seconds: generous bounds on starting up and on stopping, never a measurement

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


@function
async def echo(x: int) -> int:
    return x


def ctrl_c() -> None:
    """A Ctrl-C landing here: SIGINT sent to this process, taken by whatever handler is current (trio's,
    inside a run), as a user's key press would be."""
    signal.raise_signal(signal.SIGINT)


@function
async def interrupted(ctx: Context) -> int:
    await ctx.run(echo, 1)
    ctrl_c()
    return 0


@function
async def leaf_interrupted() -> int:
    await trio.sleep(1)
    ctrl_c()
    return 0


@function
async def spawns_interrupted(ctx: Context) -> int:
    futures = [await ctx.run(leaf_interrupted).spawn(), await ctx.rpc(echo, 2).spawn()]
    return sum([await f for f in futures])


@function
async def raises_interrupt(ctx: Context) -> int:
    await ctx.run(echo, 1)
    raise KeyboardInterrupt


@function
async def leaf_raises_interrupt() -> int:
    await trio.sleep(1)
    raise KeyboardInterrupt


@function
async def spawns_raising(ctx: Context) -> int:
    futures = [await ctx.run(leaf_raises_interrupt).spawn(), await ctx.rpc(echo, 2).spawn()]
    return sum([await f for f in futures])


def start(args: list[str], cwd: Path) -> subprocess.Popen[str]:
    """A child process that takes SIGINT as Python does by default (a shell may have it ignored)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, *args], cwd=cwd, env=env, text=True, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def wait_for_line(stream: IO[str], text: str) -> tuple[bool, list[str]]:
    """Read ``stream`` until a line holds ``text`` (True) or it ends or WAIT passes (False)."""
    lines: list[str] = []
    found = threading.Event()

    def read() -> None:
        for line in stream:
            lines.append(line)
            if text in line:
                found.set()
                return

    threading.Thread(target=read, daemon=True).start()
    return found.wait(WAIT), lines


def interrupt(process: subprocess.Popen[str], progress: str) -> tuple[int, str, str]:
    assert process.stderr is not None
    started, seen = wait_for_line(process.stderr, progress)
    if not started:
        process.kill()
        pytest.fail(f"the run never reported progress: {''.join(seen)}")
    process.send_signal(signal.SIGINT)
    try:
        out, err = process.communicate(timeout=WAIT)
    except subprocess.TimeoutExpired:
        process.kill()
        pytest.fail(f"SIGINT did not stop the run within {WAIT:g} s")
    return process.returncode, out, "".join(seen) + err


def test_ctrl_c_stops_a_sweep_at_once_and_says_how_many_worlds_ran() -> None:
    process = start(["-m", "sim", "run", "examples/fan_out_fan_in.py:scenario", "--seeds", "100000"], ROOT)
    code, out, err = interrupt(process, " worlds, 0 failing")
    assert code == 130, out + err
    assert "interrupted: " in out
    assert re.search(r" of 1000\d\d worlds ran, 0 failing; points: \d+ of \d+ single faults", out), out
    assert "FAILED" not in out and "reproduce" not in out
    assert "Traceback" not in err


def test_ctrl_c_stops_a_durable_pytest_run_as_interrupted(tmp_path: Path) -> None:
    (tmp_path / "test_long.py").write_text(textwrap.dedent('''
        import sys

        import pytest

        from examples.fan_out_fan_in import fan_out_fan_in, make_items, process_item


        @pytest.mark.durable(seeds=100000)
        def test_long(durable_sim):
            durable_sim.run(fan_out_fan_in, make_items(3), functions=[process_item])
            if not getattr(sys, "_worlds_started", False):
                sys._worlds_started = True
                print("durable worlds started", file=sys.stderr, flush=True)
    '''))
    process = start(["-m", "pytest", "-s", "-p", "no:cacheprovider", "test_long.py"], tmp_path)
    code, out, err = interrupt(process, "durable worlds started")
    assert code == 2, out + err  # pytest's ExitCode.INTERRUPTED
    assert "KeyboardInterrupt" in out
    assert "durable: " in out and "interrupted in test_long.py::test_long after" in out
    assert "failed" not in out and "WorldFailed" not in out and "world 1 of" not in out


@pytest.mark.parametrize("workflow", [interrupted, leaf_interrupted, spawns_interrupted], ids=lambda f: f.name)
def test_a_keyboard_interrupt_inside_a_world_leaves_run_world_as_itself(workflow: Any) -> None:
    with pytest.raises(KeyboardInterrupt):
        run_world(Scenario(workflow, functions=(echo, leaf_interrupted)), seed=0, faults="none")


@pytest.mark.parametrize(("workflow", "culprit"), [(raises_interrupt, "root"), (leaf_raises_interrupt, "root"),
                                                   (spawns_raising, "root.0")], ids=lambda f: getattr(f, "name", f))
def test_a_keyboard_interrupt_a_body_raises_itself_fails_that_world(workflow: Any, culprit: str) -> None:
    """``raise KeyboardInterrupt`` in a body is no Ctrl-C (issue 23): the world fails with a
    user-base-exception naming the promise, and run_world returns."""
    result = run_world(Scenario(workflow, functions=(echo, leaf_raises_interrupt)), seed=0, faults="none")
    first = result.violations[0]
    assert (first.check, first.id) == ("user-base-exception", culprit), result.violations
    assert f"the body of {culprit} raised KeyboardInterrupt" in first.message


def test_a_keyboard_interrupt_during_the_oracles_replay_leaves_it_as_itself() -> None:
    """Ctrl-C while checks (3)/(4) replay a workflow reaches trio inside the workflow's nursery, so trio
    hands it over in an exception group; the replay lets it go on as the interrupt itself, which the
    CLI and the plugin stop on (a group of it was a traceback and exit 1)."""
    from pytest_durable.core.codec import encode_call
    from pytest_durable.core.records import PromiseRecord, PromiseState
    from pytest_durable.sdk.function import Registry
    from sim.checks.oracle import replay

    registry = Registry()
    for fn in (interrupted, echo):  # interrupted: a Ctrl-C lands in its body
        registry.register(fn)
    root = PromiseRecord("root", PromiseState.RESOLVED, encode_call(interrupted.name, (), {}), "1", 3600.0)
    child = PromiseRecord("root.0", PromiseState.RESOLVED, encode_call(echo.name, (1,), {}), "1", 3600.0,
                          tags={"durable:parent": "root"})
    with pytest.raises(KeyboardInterrupt) as raised:
        replay(root, {"root": root, "root.0": child}, interrupted, registry)
    assert type(raised.value) is KeyboardInterrupt


def test_system_exit_from_outside_any_body_leaves_run_world() -> None:
    def observer(event: Any) -> None:
        if event.kind == "settled":  # in the simulated server, not in a body
            raise SystemExit(5)

    with pytest.raises(SystemExit) as info:
        run_world(Scenario(echo, (1,)), seed=0, observers=[observer])
    assert info.value.code == 5


@pytest.mark.parametrize("workflow", [interrupted, spawns_interrupted], ids=lambda f: f.name)
def test_a_live_worker_lets_a_keyboard_interrupt_through(workflow: Any) -> None:
    async def main() -> None:
        worker = new_worker(new_store(), [workflow, echo, leaf_interrupted])
        async with worker.running():
            await (await worker.run("job", workflow)).result()

    with pytest.raises(BaseException) as info:
        run_live(main)
    error = info.value
    while isinstance(error, BaseExceptionGroup) and len(error.exceptions) == 1:
        error = error.exceptions[0]
    assert type(error) is KeyboardInterrupt, repr(info.value)  # not a UserBaseException, not swallowed


class _DropsCtrlC:
    """An object whose finalizer is where the Ctrl-C lands (Python prints and drops what it raises)."""

    def __del__(self) -> None:
        raise KeyboardInterrupt


def test_a_ctrl_c_that_lands_in_a_finalizer_is_raised_again() -> None:
    """Seen by hand: SIGINT between two worlds landed in trio's ``Nursery.__del__`` (the garbage collector
    finalizing a finished world), Python dropped it, and the sweep ran on."""
    from sim.kernel.interrupts import keep_interrupts

    bound = 200_000_000  # a bound, never reached: the interrupt comes within a thread switch (ms)
    ran = 0
    with pytest.raises(KeyboardInterrupt), keep_interrupts():
        _DropsCtrlC()  # dropped at once: its finalizer raises, Python ignores it ...
        for ran in range(bound):  # noqa: B007 ... and the interrupt sent again lands here (ran: how far)
            pass
    assert ran < bound - 1


def test_without_keep_interrupts_a_finalizer_drops_the_ctrl_c() -> None:
    """What the mechanism is for: Python's own behaviour (the unraisable hook sees the interrupt)."""
    seen: list[BaseException] = []
    previous = sys.unraisablehook
    sys.unraisablehook = lambda unraisable: seen.append(unraisable.exc_value)
    try:
        _DropsCtrlC()
    finally:
        sys.unraisablehook = previous
    assert len(seen) == 1 and isinstance(seen[0], KeyboardInterrupt)


def test_an_interrupt_that_broke_trios_own_machinery_is_still_the_users() -> None:
    """Seen by hand: Ctrl-C landing inside trio's run loop comes out as the cause of a TrioInternalError,
    which ``run_world`` took for a failing world (and the sweep ran on)."""
    from sim.kernel.interrupts import interrupt_in

    ki = KeyboardInterrupt()
    broken = trio.TrioInternalError("internal error in Trio - please file a bug!")
    broken.__cause__ = ki
    assert interrupt_in(broken) is ki
    assert interrupt_in(BaseExceptionGroup("nursery", [ValueError(), broken])) is ki
    other = trio.TrioInternalError("a real one")
    other.__cause__ = ValueError()
    assert interrupt_in(other) is None
