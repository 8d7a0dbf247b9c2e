"""Check (5), liveness: once faults stop, the world reaches its end within the budget (which grows with
the number of promises the world made: a wide fan-out needs longer): the root settles, every actor is
done, and every promise with work to run (rpc and detached children, what an actor started) settles."""

from __future__ import annotations

from collections.abc import Sequence

from pytest_durable.core.codec import describe_call
from pytest_durable.core.records import PromiseRecord

from .violations import Violation


def liveness(
    root: PromiseRecord | None, root_id: str, quiesce_after: float, budget: float, param: str,
    waiting: Sequence[str] = (), promises: Sequence[PromiseRecord] = (),
) -> list[Violation]:
    """(5) The root settles within the budget once faults stop, and so does everything the world still
    ``waiting`` for after it (actors by name, then promise ids; the first promise is the one at fault)."""
    within = f"within {budget:g} s after faults stopped at {quiesce_after:g} s"
    if root is None or not root.settled:
        return [Violation("liveness", f"root {root_id} {describe_call(param)} did not settle {within}", root_id)]
    if not waiting:
        return []
    params = {p.id: p.param for p in promises}
    named = [f"{w} {describe_call(params[w])}" if w in params else w for w in waiting]
    at_fault = next((w for w in waiting if w in params), "")
    shown = ", ".join(named[:5]) + (f" and {len(named) - 5} more" if len(named) > 5 else "")
    return [Violation("liveness", f"root {root_id} settled, but {shown} did not finish {within}", at_fault)]
