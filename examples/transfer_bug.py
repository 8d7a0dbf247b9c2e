"""A buggy leaf with two effects and an await between them: it debits one account, waits for the
bank to confirm, then credits the other.

A crash can land at that await: the debit happened, the credit did not, and the leaf runs again
from the top on recovery, debiting a second time. A crash at a request (before or after the
leaf's settle) re-runs the whole body, debit and credit alike, so only a crash *in the middle of the
body* shows the bug; the simulator draws one at every await of a body:

    python -m sim run examples/transfer_bug.py:buggy --seeds 300

``fixed`` makes each effect idempotent (a key per transfer and effect), so a re-run after a crash
at any point completes the transfer exactly once.
"""

from __future__ import annotations

import attrs
import trio

from pytest_durable import Context, function
from sim import RunResult, Scenario, exactly_once, ledger


@attrs.frozen
class Transfer:
    id: str
    source: str
    target: str
    amount: int


@function
async def move_money_buggy(t: Transfer) -> str:
    ledger().record(f"debit:{t.id}")  # BUG: not idempotent, and the leaf may stop right after it
    await trio.sleep(0.1)  # the bank confirms the debit
    ledger().record(f"credit:{t.id}")
    return f"moved {t.amount}"


@function
async def move_money(t: Transfer) -> str:
    ledger().record(f"debit:{t.id}", idempotency_key=f"debit-{t.id}")
    await trio.sleep(0.1)
    ledger().record(f"credit:{t.id}", idempotency_key=f"credit-{t.id}")
    return f"moved {t.amount}"


@function
async def pay_buggy(ctx: Context, t: Transfer) -> str:
    return await ctx.run(move_money_buggy, t)


@function
async def pay(ctx: Context, t: Transfer) -> str:
    return await ctx.run(move_money, t)


TRANSFER = Transfer("tx-7", "alice", "bob", 250)


def balanced(result: RunResult) -> list[str]:
    """Money is conserved: each transfer debited exactly as often as it credited."""
    debits, credits = result.ledger.counts("debit:"), result.ledger.counts("credit:")
    return [f"ledger: {key} x{n} but credit:{key[6:]} x{credits.get('credit:' + key[6:], 0)}"
            f"{result.ledger.who_made(key)}"
            for key, n in debits.items() if credits.get("credit:" + key[6:], 0) != n]


def buggy() -> Scenario:
    return Scenario(pay_buggy, (TRANSFER,), functions=(move_money_buggy,), root_id="pay", invariants=(balanced,))


def fixed() -> Scenario:
    return Scenario(pay, (TRANSFER,), functions=(move_money,), root_id="pay",
                    invariants=(balanced, exactly_once("debit:"), exactly_once("credit:")))
