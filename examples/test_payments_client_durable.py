"""The plugin runs the payments example with the simulator's fake bank: ``durable_sim.run(...,
dependencies=...)`` gives every process incarnation a fresh ``LedgerBank``, and the ledger shows each
order charged exactly once under crashes, drops and duplicates.

    pytest examples/test_payments_client_durable.py
"""

from __future__ import annotations

import pytest
from payments_client import EXPECTED, ORDER, LedgerBank, checkout


@pytest.mark.durable(seeds=100, faults="crash,drop,duplicate")
def test_checkout_charges_once_through_the_fake_bank(durable_sim, ledger) -> None:  # type: ignore[no-untyped-def]
    run = durable_sim.run(checkout, ORDER, id="checkout", dependencies={"bank": LedgerBank})
    assert run.value == EXPECTED
    ledger.assert_exactly_once("charge:", expected=1)


@pytest.mark.durable(seeds=1, faults="none")
def test_without_the_bank_the_world_names_the_missing_dependency(durable_sim) -> None:  # type: ignore[no-untyped-def]
    run = durable_sim.run(checkout, ORDER, id="checkout", check=False)
    assert [v.check for v in run.violations][:1] == ["missing-dependency"]
    assert "charge (promise checkout.1) asked for dependency 'bank'" in run.violations[0].message
