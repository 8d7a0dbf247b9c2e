"""Check (5), liveness: once faults stop, the root settles within the budget (which grows with the
number of promises the world made: a wide fan-out needs longer)."""

from __future__ import annotations

from pytest_durable.core.codec import describe_call
from pytest_durable.core.records import PromiseRecord

from .violations import Violation


def liveness(
    root: PromiseRecord | None, root_id: str, quiesce_after: float, budget: float, param: str
) -> list[Violation]:
    """(5) The root settles within the budget once faults stop."""
    if root is not None and root.settled:
        return []
    return [
        Violation(
            "liveness",
            f"root {root_id} {describe_call(param)} did not settle within {budget:g} s after faults stopped "
            f"at {quiesce_after:g} s",
            root_id,
        )
    ]
