"""Crash search with Hypothesis on the checkout workflows: Hypothesis makes every choice of each
world and shrinks a failing one to its fewest, earliest faults.

    pytest examples/test_crash_search.py --hypothesis-profile=durable-dev
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from retry_bug import checkout_without_key
from side_effect_bug import ORDER, checkout

from pytest_durable.testing import World, durable_example, profiles, worlds

SEARCH = settings(max_examples=300, database=None, deadline=None, derandomize=True, phases=profiles.PHASES,
                  report_multiple_bugs=False)


@settings(SEARCH, max_examples=100)
@given(world=worlds("crash,drop,duplicate,reject"))
def test_checkout_charges_once_in_any_world(durable_sim, world: World) -> None:  # type: ignore[no-untyped-def]
    run = durable_sim.run(checkout, ORDER, id="checkout", world=world)
    assert run.value == ["reserved order-42", "charged 1999", "shipped order-42"]
    run.ledger.assert_exactly_once("charge:", expected=1)


@pytest.mark.xfail(strict=True, reason="the leaf charges without an idempotency key; a crash before its settle "
                                       "runs it again")
@SEARCH
@given(world=worlds("crash"))
def test_checkout_without_key_charges_once(durable_sim, world: World) -> None:  # type: ignore[no-untyped-def]
    run = durable_sim.run(checkout_without_key, ORDER, id="checkout", world=world)
    run.ledger.assert_exactly_once("charge:")


@pytest.mark.xfail(strict=True, reason="the shrunk world the search above reports, pinned: it fails every time")
@durable_example(plan="crash(w1, before_settle, checkout.1)")
def test_pinned_world_of_the_retry_bug(durable_sim, world: World) -> None:  # type: ignore[no-untyped-def]
    run = durable_sim.run(checkout_without_key, ORDER, id="checkout", world=world)
    run.ledger.assert_exactly_once("charge:")
