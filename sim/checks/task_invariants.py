"""Check (6), task-invariants: the seven task invariants of the store contract hold after every step.

The server calls ``TaskInvariants.stepped`` after each request it applies and each sweep. A store
that logs what each request wrote (``MemoryStore.take_changes``) has only the tasks written, and those
naming a promise written, looked at: nothing else can have begun to break an invariant since the last
step, so the same breaks are found at the same step, at a cost that does not grow with the world.
Other stores have every task looked at, with only the promises the tasks name (not a copy of all).
"""

from __future__ import annotations

from pytest_durable.core.inspection import InspectableStore
from pytest_durable.core.invariants import task_invariant_breaks
from pytest_durable.core.records import TaskRecord

from .violations import Findings


class TaskInvariants:
    """Check (6) after every step of one world's store, each broken rule reported once."""

    def __init__(self, store: InspectableStore, findings: Findings) -> None:
        self.store = store
        self.findings = findings
        self._reported: set[str] = set()
        #: For a store that logs its writes: each task's creation rank and last seen record, and the
        #: tasks that named each promise (a superset: a task that names one no longer is looked at too).
        self._rank: dict[str, int] = {}
        self._seen: dict[str, TaskRecord] = {}
        self._naming: dict[str, set[str]] = {}

    #: Nothing to do per answer: the invariants are about the store's state after the step.
    answered = None

    def stepped(self) -> None:
        take = getattr(self.store, "take_changes", None)
        tasks = self.store.tasks() if take is None else self._changed_tasks(*take())
        if not tasks:
            return
        needed = {id for t in tasks for id in (t.promise_id, *t.callbacks)}
        promises = {id: record for id in needed if (record := self.store.promise(id)) is not None}
        for task_id, line in task_invariant_breaks(tasks, promises):
            if line not in self._reported:
                self._reported.add(line)
                self.findings.report("task-invariants", line, task_id)

    def _changed_tasks(self, written: list[TaskRecord], promise_ids: list[str]) -> list[TaskRecord]:
        """The tasks written, and the last seen record of each task naming a written promise (its own
        or a callback), in the order the tasks were created."""
        for task in written:
            self._rank.setdefault(task.id, len(self._rank))
            self._seen[task.id] = task
            for id in (task.promise_id, *task.callbacks):
                self._naming.setdefault(id, set()).add(task.id)
        ids = {task.id for task in written}
        for id in promise_ids:
            ids.update(self._naming.get(id, ()))
        return [self._seen[id] for id in sorted(ids, key=self._rank.__getitem__)]
