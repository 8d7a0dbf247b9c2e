"""``sim.exactly_once`` catches an effect that never happened, ``sim.at_most_once`` allows it (issue 12,
item 2). A checkout that swallows its charge's failure and still resolves is caught; its twin, which
lets the failure reject the checkout, passes; a world with no fault at all records the charge."""

from __future__ import annotations

import contextlib

import pytest

from pytest_durable import Context, Never, Rejected, UsageError, function
from sim import Scenario, at_most_once, exactly_once, ledger, run_world


@function(retry=Never())
async def charge(order: str) -> str:
    ledger().record(f"charge:{order}", idempotency_key=f"charge-{order}")
    return "charged"


@function
async def checkout_swallowing(ctx: Context, order: str) -> str:
    with contextlib.suppress(Rejected):  # BUG: a failed charge is swallowed and the order ships unpaid
        await ctx.run(charge, order)
    return "shipped"


@function
async def checkout(ctx: Context, order: str) -> str:
    await ctx.run(charge, order)  # a failed charge rejects the checkout
    return "shipped"


def scenario(workflow: object, *invariants: object) -> Scenario:
    return Scenario(workflow, ("o-1",), functions=(charge,), root_id="checkout",  # type: ignore[arg-type]
                    invariants=invariants)  # type: ignore[arg-type]


def failing(s: Scenario, seeds: int = 100) -> list[str]:
    return [str(v) for seed in range(seeds) for v in run_world(s, seed=seed, faults="reject=0.3").violations]


@pytest.mark.parametrize(("check", "message"), [
    (exactly_once("charge:"), "no effect 'charge:'* was recorded, expected exactly once (root checkout resolved)"),
    (exactly_once("charge:", keys=["charge:o-1"]), "'charge:o-1' was never recorded, expected exactly once"),
    (exactly_once("charge:", count=1), "0 distinct effects 'charge:'*, expected 1"),
])
def test_a_missing_effect_fails_exactly_once_when_the_workflow_completed(check: object, message: str) -> None:
    found = failing(scenario(checkout_swallowing, check))
    assert found and all(message in line for line in found), found[:3]


def test_the_twin_that_lets_the_failure_reject_the_workflow_passes() -> None:
    assert failing(scenario(checkout, exactly_once("charge:"), exactly_once("charge:", keys=["charge:o-1"]))) == []
    assert run_world(scenario(checkout, exactly_once("charge:")), seed=0).ledger.count("charge:o-1") == 1


def test_at_most_once_allows_an_effect_that_never_happened_and_catches_a_double() -> None:
    assert failing(scenario(checkout_swallowing, at_most_once("charge:"))) == []

    @function
    async def charges_twice(ctx: Context, order: str) -> str:
        ledger().record(f"charge:{order}")
        ledger().record(f"charge:{order}")
        return "shipped"

    result = run_world(Scenario(charges_twice, ("o-1",), root_id="checkout", invariants=(at_most_once("charge:"),),
                                isolate=False), seed=0)
    assert len(result.violations) == 1, result.violations
    assert "(8) user: ledger: 'charge:o-1' was recorded 2 times, expected at most once (by checkout" in str(
        result.violations[0])


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"keys": ["refund:o-1"]}, "every key must be a string starting with 'charge:'"),
    ({"count": 0}, "count must be an int >= 1"),
])
def test_bad_arguments_are_one_clear_error(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        exactly_once("charge:", **kwargs)  # type: ignore[arg-type]
