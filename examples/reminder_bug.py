"""A buggy workflow whose timer is not durable: it waits with ``trio.sleep`` in its body instead of
``ctx.sleep``.

The wait lives only in the memory of the process running the body. When that process crashes during
the wait, the workflow runs again from the top on another incarnation and starts the whole wait
over, so the reminder goes out late by however long the first wait had run, plus the time the
crash took to recover. The delay comes from when the crash lands (late in the wait) and how long
the recovery takes, not from a fault at one particular request. ``ctx.sleep`` records a timer in the
store that fires when it is due whatever crashes meanwhile:

    python -m sim run examples/reminder_bug.py:buggy --seeds 300
    python -m sim bench search
"""

from __future__ import annotations

import attrs
import trio

from pytest_durable import Context, function
from sim import RunResult, Scenario, ledger


@attrs.frozen
class Invoice:
    id: str
    due_in: float  # seconds from when the invoice is opened until the reminder is due


def send_reminder(invoice: Invoice) -> None:
    """The mail API: a repeated idempotency key sends nothing (the body may run again after a crash)."""
    ledger().record(f"reminder:{invoice.id}", idempotency_key=f"reminder-{invoice.id}")


@function
async def remind_buggy(ctx: Context, invoice: Invoice) -> str:
    await trio.sleep(invoice.due_in)  # BUG: not durable; a crash during it starts the wait over
    send_reminder(invoice)
    return f"reminded {invoice.id}"


@function
async def remind(ctx: Context, invoice: Invoice) -> str:
    await ctx.sleep(invoice.due_in)  # a durable timer: it fires on time across crashes
    send_reminder(invoice)
    return f"reminded {invoice.id}"


INVOICE = Invoice("inv-3", 60.0)
#: How late a reminder may be: recovering from crashes before the timer is created takes up to this
#: (a lease of 10 s to expire, a restart, a poll, per crash), and a crash early in the wait too.
SLACK = 50.0


def on_time(result: RunResult) -> list[str]:
    """The reminder went out, at most ``SLACK`` seconds after it was due (the invoice opens at 0)."""
    sent = result.ledger.made(f"reminder:{INVOICE.id}")
    due = INVOICE.due_in + SLACK
    return [f"ledger: reminder:{INVOICE.id} sent at t={e.time:g}, due by t={due:g}{result.ledger.who_made(e.key)}"
            for e in sent[:1] if e.time > due]


def buggy() -> Scenario:
    return Scenario(remind_buggy, (INVOICE,), root_id="remind", invariants=(on_time,))


def fixed() -> Scenario:
    return Scenario(remind, (INVOICE,), root_id="remind", invariants=(on_time,))
