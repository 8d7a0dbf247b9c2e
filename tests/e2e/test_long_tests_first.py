"""The suite's known-long tests start first on every xdist worker (``tests/helpers/long_tests.py``), and
each one listed still exists."""

from __future__ import annotations

import re
from pathlib import Path

from tests.helpers.long_tests import LONG, longest_first, slices

ROOT = Path(__file__).resolve().parents[2]


def test_slices_are_the_shares_worksteal_hands_out_first() -> None:
    assert slices(10, 2) == [5, 5]
    assert slices(11, 2) == [5, 6]
    assert slices(10, 3) == [3, 3, 4]
    assert slices(1, 2) == [0, 1]


def test_the_long_tests_head_every_slice_longest_first_and_the_rest_keep_their_order() -> None:
    long = list(LONG)
    ids = [f"tests/a.py::test_{i}" for i in range(20)]
    ids[3], ids[15], ids[17] = long[0] + "[x]", long[1], long[3]  # the longest, the third and the fifth
    order = longest_first(ids, 2)
    assert sorted(order) == list(range(20))
    first, second = order[:10], order[10:]
    # the longest alone in one slice, the next two behind the head of the other, longest first
    assert first[0] == 3 and second[:2] == [15, 17]
    short = [i for i in order if i not in (3, 15, 17)]
    assert short == sorted(short)  # the short tests in collection order
    assert longest_first(ids[:3], 2) == [0, 1, 2]  # nothing long: the order is kept


def test_one_worker_runs_the_longest_first() -> None:
    long = list(LONG)
    ids = ["tests/a.py::test_0", long[5], "tests/a.py::test_2", long[0]]
    assert longest_first(ids, 1) == [3, 1, 0, 2]


def test_every_listed_long_test_exists() -> None:
    for prefix in LONG:
        path, name = prefix.split("::")
        source = (ROOT / path).read_text()
        assert re.search(rf"^def {re.escape(name)}", source, re.MULTILINE), f"{prefix}: no such test; update LONG"
