"""The Hypothesis strategies a drawn world draws from, made once per size and kept: a world draws
the same few shapes thousands of times in a search."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import hypothesis.strategies as st

#: How a drawn world takes a value from Hypothesis: the ``draw`` of ``st.composite``.
Draw = Callable[[st.SearchStrategy[Any]], Any]

_INTEGERS: dict[int, st.SearchStrategy[int]] = {}
_BLOCKS: dict[int, st.SearchStrategy[bytes]] = {}


def blocks(size: int) -> st.SearchStrategy[bytes]:
    """Byte strings of exactly ``size`` bytes (a world's schedule block)."""
    found = _BLOCKS.get(size)
    if found is None:
        found = _BLOCKS[size] = st.binary(min_size=size, max_size=size)
    return found


def integers(upper: int) -> st.SearchStrategy[int]:
    """Integers from 0 to ``upper``, shrinking towards 0."""
    found = _INTEGERS.get(upper)
    if found is None:
        found = _INTEGERS[upper] = st.integers(0, upper)
    return found
