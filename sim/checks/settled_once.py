"""Check (1), settled-once: a promise never changes once it has settled.

Watched step by step: the server hands every answer it gives to ``SettledOnce.answered``, which keeps
the first settled record of each promise and reports any later record that differs from it; a final
scan over the store finds changes no answer showed.
"""

from __future__ import annotations

from collections.abc import Callable

from pytest_durable.core.inspection import InspectableStore
from pytest_durable.core.records import PromiseRecord

from ..trace import Trace, digest
from .violations import Findings, Violation


class SettledOnce:
    """The first settled record of every promise the server handed out, and check (1) against it."""

    def __init__(self, trace: Trace, findings: Findings, now: Callable[[], float]) -> None:
        self.trace = trace
        self.findings = findings
        self.now = now
        self.first_settled: dict[str, PromiseRecord] = {}

    def answered(self, result: object, process: str, incarnation: int) -> None:
        """Every promise record of an answer: a first settlement is traced, a changed one is a violation."""
        records = result if isinstance(result, list) else [result]
        for record in records:
            if not isinstance(record, PromiseRecord) or not record.settled:
                continue
            first = self.first_settled.get(record.id)
            if first is None:
                self.first_settled[record.id] = record
                self.trace.add(self.now(), process, incarnation, "settled", record.id,
                               f"{record.state.value} {digest(record.value)}", state=record.state.value)
            elif (first.state, first.value, first.settled_on) != (record.state, record.value, record.settled_on):
                self.findings.report(
                    "settled-once",
                    f"promise {record.id} changed after it settled: {first.state.value} {first.value!r} at "
                    f"{first.settled_on} became {record.state.value} {record.value!r} at {record.settled_on}",
                    record.id,
                )

    #: Nothing to do between steps: every settlement passes through an answer.
    stepped = None

    def final_scan(self, store: InspectableStore, time: float) -> None:
        """Check (1) once more over every record, for changes no answer showed (outside the run)."""
        for record in store.promises():
            first = self.first_settled.get(record.id)
            if first is not None and (first.state, first.value, first.settled_on) != (
                record.state, record.value, record.settled_on,
            ):
                self.trace.add(time, "checks", 0, "violation", record.id, "settled-once")
                self.findings.add(Violation(
                    "settled-once",
                    f"promise {record.id} changed after it settled: {first.state.value} became "
                    f"{record.state.value} {record.value!r}",
                    record.id,
                ))
