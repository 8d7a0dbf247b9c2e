"""Where a drawn world meets the Hypothesis test case drawing it: which case that is, whether it is
the final run (the one Hypothesis reports), and the targets that steer the search to worse worlds."""

from __future__ import annotations

from typing import Any

import hypothesis
from hypothesis.control import current_build_context

from ..world import RunResult


def current_case() -> Any:
    """The Hypothesis test case (``ConjectureData``) drawing now, if any."""
    try:
        return getattr(current_build_context(), "data", None)
    except hypothesis.errors.InvalidArgument:
        return None


def is_final() -> bool:
    """Whether this is the run Hypothesis reports (the shrunk failing example, run once more)."""
    try:
        return bool(current_build_context().is_final)
    except hypothesis.errors.InvalidArgument:
        return False


def guide(result: RunResult) -> None:
    """Point Hypothesis at worse worlds: more leaf bodies run again, more duplicate effects."""
    bodies: dict[str, int] = {}
    for event in result.trace.of_kind("body"):
        if not event.get("workflow"):
            bodies[event.id] = bodies.get(event.id, 0) + 1
    hypothesis.target(float(sum(n - 1 for n in bodies.values())), label="leaf bodies run again")
    hypothesis.target(float(sum(n - 1 for n in result.ledger.counts().values())), label="duplicate ledger effects")
