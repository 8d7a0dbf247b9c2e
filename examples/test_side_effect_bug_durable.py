"""The plugin finds the double charge of a side effect outside ``ctx.run``; the test is kept as a
strict xfail so the suite stays green while it proves the bug is found. The fixed workflow passes.

    pytest examples/test_side_effect_bug_durable.py
"""

from __future__ import annotations

import pytest
from side_effect_bug import ORDER, checkout, checkout_buggy


@pytest.mark.xfail(strict=True, reason="the charge is outside ctx.run, so a replay charges again")
@pytest.mark.durable(seeds=200, faults="crash")
def test_buggy_checkout_charges_once(durable_sim, ledger) -> None:  # type: ignore[no-untyped-def]
    durable_sim.run(checkout_buggy, ORDER, id="checkout", check=False)
    ledger.assert_exactly_once("charge:")


@pytest.mark.durable(seeds=200, faults="crash,drop,duplicate,reject")
def test_fixed_checkout_charges_once(durable_sim, ledger) -> None:  # type: ignore[no-untyped-def]
    run = durable_sim.run(checkout, ORDER, id="checkout")
    assert run.value == ["reserved order-42", "charged 1999", "shipped order-42"]
    ledger.assert_exactly_once("charge:", expected=1)
