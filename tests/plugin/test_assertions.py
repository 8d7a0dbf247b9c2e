"""The assertion helpers on their own: ledger counts and tree shapes (the plugin tests drive them
through pytest and check the readable diffs)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_durable.testing.assertions import TreeShape, assert_at_most_once, assert_exactly_once
from sim import Ledger


def ledger_with(*keys: str) -> Ledger:
    ledger = Ledger()
    for key in keys:
        ledger.record(key)
    return ledger


def test_exactly_once_holds_for_distinct_keys_and_counts_them() -> None:
    ledger = ledger_with("charge:a", "charge:b", "ship:a", "ship:a")
    assert_exactly_once(ledger, "charge:")
    assert_exactly_once(ledger, "charge:", expected=2)
    with pytest.raises(AssertionError, match=r"ledger: 2 distinct effects 'charge:'\*, expected 3: charge:a, charge:b"):
        assert_exactly_once(ledger, "charge:", expected=3)


def test_exactly_once_fails_on_a_repeat_and_on_nothing_at_all() -> None:
    with pytest.raises(AssertionError, match=r"not exactly once: ship:a x2$"):
        assert_exactly_once(ledger_with("ship:a", "ship:a", "ship:b"), "ship:")
    with pytest.raises(AssertionError, match=r"no effect 'refund:'\* was recorded at all"):
        assert_exactly_once(ledger_with("ship:a"), "refund:")


def test_at_most_once_allows_nothing_and_one_but_not_two() -> None:
    assert_at_most_once(ledger_with(), "charge:")
    assert_at_most_once(ledger_with("charge:a", "charge:b"), "charge:")
    with pytest.raises(AssertionError, match=r"recorded more than once: charge:b x3$"):
        assert_at_most_once(ledger_with("charge:a", "charge:b", "charge:b", "charge:b"), "charge:")


def test_an_idempotency_key_keeps_a_repeat_out_of_the_ledger() -> None:
    ledger = Ledger()
    assert ledger.record("charge:a", idempotency_key="k1") is True
    assert ledger.record("charge:a", idempotency_key="k1") is False
    assert_exactly_once(ledger, "charge:")


def test_tree_shape_ignores_the_margin_and_blank_lines_but_not_depth() -> None:
    text = """

        job resolved
          job.0 resolved
    """
    assert TreeShape.parse(text) == TreeShape(("job resolved", "  job.0 resolved"))
    assert TreeShape.parse(text) != TreeShape.parse("job resolved\njob.0 resolved")


def test_a_repeat_names_who_made_each_entry_when_the_entries_know() -> None:
    ledger = Ledger()
    ledger.record("charge:a", by="checkout")
    ledger.record("charge:a", by="checkout.1")
    listing = r"charge:a x2 \(by checkout at t=0; by checkout\.1 at t=0\)$"
    with pytest.raises(AssertionError, match=rf"not exactly once: {listing}"):
        assert_exactly_once(ledger, "charge:")


def test_inside_a_world_each_effect_knows_its_promise_and_process_incarnation() -> None:
    """The side-effect bug's two charges were both made by the workflow body (``checkout``), on two
    incarnations; the fixed example's one charge by its leaf, ``checkout.1``."""
    from pytest_durable.testing.strategies import pinned_world
    from sim.scenario import load_scenario

    examples = Path(__file__).resolve().parents[2] / "examples" / "side_effect_bug.py"
    buggy = pinned_world(plan="crash(w1, before_create, checkout.1)").run(load_scenario(f"{examples}:buggy"))
    made = buggy.ledger.made("charge:order-42")
    assert [e.by for e in made] == ["checkout", "checkout"]
    assert made[0].process == "w1#1" and made[1].process not in ("", "w1#1")
    assert made[0].time < made[1].time
    assert "(by checkout on w1#1 at t=" in str(buggy.violations[0])

    fixed = pinned_world(plan="crash(w1, before_create, checkout.2)").run(load_scenario(f"{examples}:fixed"))
    assert [(e.by, e.process) for e in fixed.ledger.made("charge:order-42")] == [("checkout.1", "w1#1")]
