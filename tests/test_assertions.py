"""The assertion helpers on their own: ledger counts and tree shapes (the plugin tests drive them
through pytest and check the readable diffs)."""

from __future__ import annotations

import pytest

from pytest_durable.assertions import TreeShape, assert_at_most_once, assert_exactly_once
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
