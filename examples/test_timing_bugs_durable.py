"""The plugin on two bugs that need a crash at the right moment, not at a request: a timer that is
not durable (``reminder_bug.py``) and a crash between two effects of one leaf (``transfer_bug.py``).
Each buggy test is a strict xfail (the plugin finds the bug); each fixed twin passes.

    pytest examples/test_timing_bugs_durable.py
"""

from __future__ import annotations

import pytest
from reminder_bug import INVOICE, SLACK, remind, remind_buggy
from transfer_bug import TRANSFER, pay, pay_buggy


def assert_reminded_on_time(run) -> None:  # type: ignore[no-untyped-def]
    sent = run.ledger.made(f"reminder:{INVOICE.id}")
    assert sent, "no reminder was sent"
    assert sent[0].time <= INVOICE.due_in + SLACK, f"reminder sent at t={sent[0].time:g}, due at t={INVOICE.due_in:g}"


@pytest.mark.xfail(strict=True, reason="trio.sleep in the workflow body is not durable: a crash restarts the wait")
@pytest.mark.durable(seeds=100, faults="crash,drop")
def test_buggy_reminder_is_on_time(durable_sim) -> None:  # type: ignore[no-untyped-def]
    assert_reminded_on_time(durable_sim.run(remind_buggy, INVOICE, id="remind", check=False))


@pytest.mark.durable(seeds=60, faults="crash,drop,reject")
def test_reminder_with_a_durable_timer_is_on_time(durable_sim) -> None:  # type: ignore[no-untyped-def]
    run = durable_sim.run(remind, INVOICE, id="remind")
    assert run.value == f"reminded {INVOICE.id}"
    assert_reminded_on_time(run)


@pytest.mark.xfail(strict=True, reason="a crash at the leaf's await leaves a debit without its credit; the re-run "
                                       "debits again")
@pytest.mark.durable(seeds=300, faults="crash")
def test_buggy_transfer_balances(durable_sim, ledger) -> None:  # type: ignore[no-untyped-def]
    durable_sim.run(pay_buggy, TRANSFER, id="pay", check=False)
    assert ledger.count(f"debit:{TRANSFER.id}") == ledger.count(f"credit:{TRANSFER.id}")


@pytest.mark.durable(seeds=200, faults="crash,drop,duplicate,reject")
def test_transfer_balances(durable_sim, ledger) -> None:  # type: ignore[no-untyped-def]
    run = durable_sim.run(pay, TRANSFER, id="pay")
    assert run.value == f"moved {TRANSFER.amount}"
    ledger.assert_exactly_once("debit:", expected=1)
    ledger.assert_exactly_once("credit:", expected=1)
