"""An application for the log and metrics tests: roots that resolve, reject, fail for good and hold.

Worker processes import it by name (``python -m pytest_durable worker tests.helpers.observed_app``).
``hold`` marks a file and then waits until its worker is killed; the attempt that finds the mark (the
worker that took the task over) returns at once.
"""

from __future__ import annotations

from pathlib import Path

import trio

from pytest_durable import Context, function


@function
async def greet(name: str) -> str:
    return f"hello {name}"


@function
async def refuse(ctx: Context, why: str) -> str:
    """A workflow that raises: its root is rejected at once (a workflow body is not retried)."""
    raise ValueError(why)


@function
async def give_up(code: int) -> None:
    """A body that raises ``SystemExit``: no retry can fix it, so its worker releases it with the error."""
    raise SystemExit(code)


@function
async def hold(mark: str) -> str:
    path = Path(mark)
    if path.exists():
        return "taken over"
    path.write_text("held")
    await trio.sleep(600)  # until the worker is killed
    return "never"
