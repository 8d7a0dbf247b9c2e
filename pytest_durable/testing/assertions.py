"""Assertions for durable workflows in simulated worlds (registered for pytest's assertion rewriting).

    from pytest_durable.testing import assert_exactly_once, assert_tree
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs

from ..core.codec import decode_call
from ..core.records import PromiseRecord, PromiseState
from ..core.store import TAG_PARENT
from ..sdk import ATTEMPT

if TYPE_CHECKING:
    from sim import Ledger, RunResult

    from .harness import DurableSim


def assert_exactly_once(ledger: Ledger, prefix: str, *, expected: int | None = None) -> None:
    """Some ledger key starting with ``prefix`` was recorded, each exactly once (and ``expected`` keys)."""
    __tracebackhide__ = True
    ledger.assert_exactly_once(prefix, expected=expected)


def assert_at_most_once(ledger: Ledger, prefix: str) -> None:
    """No ledger key starting with ``prefix`` was recorded more than once."""
    __tracebackhide__ = True
    ledger.assert_at_most_once(prefix)


def assert_settled(result: RunResult, id: str | None = None, state: str | PromiseState = "resolved") -> None:
    """Promise ``id`` (default: the root) is settled, in ``state``."""
    __tracebackhide__ = True
    want = state if isinstance(state, PromiseState) else PromiseState(state)
    target = id or result.root_id
    record = next((p for p in result.promises if p.id == target), None)
    assert record is not None, f"no promise {target!r} in world ({result.name})"
    assert record.state is want, f"promise {target!r} is {record.state.value}, expected {want.value}"


@attrs.frozen
class TreeShape:
    """An execution tree as indented lines ``function state``, compared line by line."""

    lines: tuple[str, ...]

    @classmethod
    def parse(cls, text: str) -> TreeShape:
        rows = [r.rstrip() for r in text.splitlines() if r.strip()]
        if not rows:
            return cls(())
        margin = min(len(r) - len(r.lstrip()) for r in rows)
        return cls(tuple(" ".join(r[margin:].split(" ")) for r in rows))

    @classmethod
    def of(cls, promises: tuple[PromiseRecord, ...] | list[PromiseRecord], *, attempts: bool = True) -> TreeShape:
        """The shape of ``promises``; without ``attempts``, records of failed leaf attempts are left out."""
        if not attempts:
            promises = [p for p in promises if decode_call(p.param).func != ATTEMPT]
        children: dict[str | None, list[PromiseRecord]] = {}
        ids = {p.id for p in promises}
        for p in promises:
            parent = p.tags.get(TAG_PARENT)
            children.setdefault(parent if parent in ids else None, []).append(p)
        lines: list[str] = []

        def walk(p: PromiseRecord, depth: int) -> None:
            lines.append(f"{'  ' * depth}{decode_call(p.param).func} {p.state.value}")
            for kid in children.get(p.id, []):
                walk(kid, depth + 1)

        for root in children.get(None, []):
            walk(root, 0)
        return cls(tuple(lines))

    def __str__(self) -> str:
        return "\n".join(self.lines)


def assert_tree(result: RunResult, expected: str) -> None:
    """The world's execution tree has this shape: one line per promise, ``function state``, children
    indented under their parent, e.g. ``fan_out resolved`` then ``  process_item resolved``. Records
    of failed leaf attempts (``durable.attempt``) count only if ``expected`` names one: how many
    attempts a leaf needed may change from world to world."""
    __tracebackhide__ = True
    shape = TreeShape.of(result.promises, attempts=ATTEMPT in expected)
    assert shape == TreeShape.parse(expected)


def assert_replay_deterministic(durable_sim: DurableSim, result: RunResult) -> None:
    """Running the same world again gives the same trace hash."""
    __tracebackhide__ = True
    again = durable_sim.rerun(result)
    assert again.trace_hash == result.trace_hash, (
        f"world ({durable_sim.name_of(result)}) is not deterministic: trace {result.trace_hash} then {again.trace_hash}"
    )


def repr_compare(op: str, left: Any, right: Any) -> list[str] | None:
    """``pytest_assertrepr_compare`` for trees: a line diff of the two shapes."""
    if op != "==" or not (isinstance(left, TreeShape) and isinstance(right, TreeShape)):
        return None
    import difflib

    out = ["execution trees differ (- actual, + expected):"]
    out += [line for line in difflib.ndiff(list(left.lines), list(right.lines)) if not line.startswith("?")]
    return out
