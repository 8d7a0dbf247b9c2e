"""Workflows whose bug needs a fault late in the world (issue 12 item 5): a nightly export that waits
in memory, heartbeating its task, before it sends its report; and its correct twin with a durable timer.

A crash early in the wait costs little (the wait starts over, the report is still on time); only a
crash late in it (at the tenth heartbeat or after) makes the report late. Durable functions must live
at module level.
"""

from __future__ import annotations

import trio

from pytest_durable import Context, function
from sim import RunResult, Scenario, ledger

#: When the report is due (t=0 is when the export starts), and how late it may go out.
DUE = 60.0
SLACK = 42.0


def send_report(night: str) -> None:
    ledger().record(f"report:{night}", idempotency_key=f"report-{night}")


@function
async def export_buggy(ctx: Context, night: str) -> str:
    await trio.sleep(DUE)  # BUG: a wait in memory; a crash late in it starts the whole wait over
    send_report(night)
    return f"exported {night}"


@function
async def export(ctx: Context, night: str) -> str:
    await ctx.sleep_until(DUE)  # a durable due time: on time whatever crashes meanwhile
    send_report(night)
    return f"exported {night}"


def on_time(result: RunResult) -> list[str]:
    """The report went out by ``DUE + SLACK``."""
    return [f"ledger: report:n1 sent at t={e.time:g}, due by t={DUE + SLACK:g}"
            for e in result.ledger.made("report:n1")[:1] if e.time > DUE + SLACK]


def buggy() -> Scenario:
    return Scenario(export_buggy, ("n1",), root_id="export", invariants=(on_time,))


def fixed() -> Scenario:
    return Scenario(export, ("n1",), root_id="export", invariants=(on_time,))
