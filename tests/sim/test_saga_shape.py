"""The booking saga that catches a declined card by its class (issue 23, item 4's shape): the correct
workflow passes 1,000 worlds of every fault and the plugin's default run; the twin that catches only the
declined class is found, naming the charge that was rejected; and a rejection read again after a crash
(a replay of the saga's body) is caught by its class again."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_durable.core.errors import EncodingError, UsageError
from pytest_durable.core.rejections import rejected_as
from sim import run_world
from tests.helpers import saga_shapes as s

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("scenario", "paths"), [
    (s.booking_scenario, {"booked", "failed"}),
    (s.declined_scenario, {"declined 51", "failed"}),
])
def test_the_booking_saga_passes_1000_worlds_of_every_fault(scenario: object, paths: set[str]) -> None:
    outcomes: dict[object, int] = {}
    for seed in range(1000):
        result = run_world(scenario(), seed=seed, faults="all")  # type: ignore[operator]
        assert result.ok, (seed, [str(v) for v in result.violations])
        outcomes[result.value] = outcomes.get(result.value, 0) + 1
    # both paths ran: the faults drove some charges past their retries, and the saga compensated
    assert set(outcomes) == paths, outcomes
    assert min(outcomes.values()) >= 5, outcomes


def test_the_twin_that_catches_only_the_declined_class_is_found_naming_the_charge() -> None:
    found = next(r for r in (run_world(s.booking_buggy_scenario(), seed=seed, faults="all") for seed in range(1000))
                 if not r.ok)
    first = found.violations[0]
    assert first.check == "outcome" and first.id == "book"
    assert "root book was rejected (book.1 was rejected: InjectedFault" in first.message  # the charge, book.1
    assert [v.check for v in found.violations] == ["outcome", "user"]
    assert "the saga ended rejected without releasing the room" in found.violations[1].message


def test_a_typed_rejection_made_from_a_usage_error_makes_no_other_rejection_misuse() -> None:
    """Once a rejection from an ``EncodingError`` was read in this process (its class, named ``Rejected``,
    derives from ``UsageError``), an ordinary rejection passed up to the root is still no misuse: the
    check's verdict does not depend on what ran before it in the process."""
    derived = rejected_as(EncodingError)  # kept alive for the test: the classes are cached weakly
    assert derived is not None and issubclass(derived, UsageError)
    found = next(r for r in (run_world(s.booking_buggy_scenario(), seed=seed, faults="all") for seed in range(1000))
                 if not r.ok)
    assert [v.check for v in found.violations] == ["outcome", "user"]


def test_a_declined_charge_read_again_after_a_crash_is_caught_by_its_class() -> None:
    """A crash right after the charge was rejected: the next incarnation replays the saga's body, reads the
    rejection from the store (fresh copies of the module, so a fresh CardDeclined class) and catches it by
    that class again."""
    result = run_world(s.declined_scenario(), plan="at(crash, after settle book.1)", faults="crash", seed=0)
    assert result.ok, [str(v) for v in result.violations]
    assert result.value == "declined 51"
    crash = next(e for e in result.trace if e.kind == "crash")
    assert crash.detail == "after settle book.1"
    runs = [(e.process, e.incarnation) for e in result.trace if e.kind == "body" and e.id == "book"]
    # the body ran again after the crash, in another incarnation, over the recorded rejection
    assert len(runs) == 2 and runs[0] != runs[1]
    assert not any(e.kind == "body" and e.id == "book.1" and e.seq > crash.seq for e in result.trace)
    assert result.ledger.count("release:b-7") == 1


PLUGIN_TEST = '''
import pytest
from tests.helpers.saga_shapes import DECLINED_CARD, GOOD_CARD, book, book_buggy

@pytest.mark.durable(outcomes=("booked", "failed"))
def test_book(durable_sim):
    durable_sim.run(book, GOOD_CARD, id="book")

@pytest.mark.durable(outcomes=("declined 51", "failed"))
def test_book_declined(durable_sim):
    durable_sim.run(book, DECLINED_CARD, id="book")

@pytest.mark.durable(outcomes=("booked", "failed"))
def test_book_buggy(durable_sim):
    durable_sim.run(book_buggy, GOOD_CARD, id="book")
'''


def test_the_plugins_default_run_passes_the_saga_and_fails_its_twin(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_saga=PLUGIN_TEST)
    pytester.syspathinsert(ROOT)
    result = pytester.runpytest("-p", "pytest_durable", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, failed=1)
    out = result.stdout.str()
    assert "test_book_buggy" in out and "root book was rejected (book.1 was rejected: InjectedFault" in out

