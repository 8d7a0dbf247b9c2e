"""A worker process's log: its own lines (serving, stopping, a slow step) and one line per root start,
finish and failure and per takeover, through the ``logging`` module under the ``pytest_durable`` logger.

At INFO a worker logs a root's first start, its finish and failures, and takeovers: an rpc or detached
child's every start and end, every resume (a later attempt, e.g. after a suspend), a suspend and every
acquire are DEBUG (a fan-out makes many). Text lines read as sentences that begin
``durable worker ID``; ``json`` lines are one object each with the keys in ``KEYS`` always present
(``null`` where they do not apply) and a few more where they do (``state``, ``attempt``, ``from``,
``error``, ``group``)."""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import IO, Any

from ..core.errors import Fenced
from ..sdk.task_events import Acquired, Ended, Failed, Started, TaskEvent

#: Every logger of the runtime is a child of this one; ``configure`` puts the handler here.
ROOT_LOGGER = "pytest_durable"
#: The worker's own lines (serving, stopping, slow steps).
WORKER = logging.getLogger("pytest_durable.worker")
#: What happens to the tasks a worker runs.
TASKS = logging.getLogger("pytest_durable.tasks")

#: The keys every json line has, in this order.
KEYS = ("time", "level", "event", "worker", "id", "function", "message")
#: The ``--log-level`` names.
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
#: The ``--log-format`` names.
FORMATS = ("text", "json")


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ``KEYS`` first (UTC time to the millisecond, level in lower case),
    then the record's other fields, in the order they were given."""

    def format(self, record: logging.LogRecord) -> str:
        fields: dict[str, Any] = getattr(record, "fields", {})
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        line: dict[str, Any] = {
            "time": f"{stamp}.{int(record.msecs):03d}Z", "level": record.levelname.lower(),
            "event": getattr(record, "event", None), "worker": getattr(record, "worker", None),
            "id": fields.get("id"), "function": fields.get("function"), "message": record.getMessage(),
        }
        line.update((k, v) for k, v in fields.items() if k not in line)
        return json.dumps(line, default=str)


def configure(level: str = "INFO", fmt: str = "text", stream: IO[str] | None = None) -> None:
    """Send the runtime's log records of ``level`` and above to ``stream`` (stdout by default), as text
    (the message alone, as a worker printed its lines before) or json; replaces an earlier ``configure``."""
    logger = logging.getLogger(ROOT_LOGGER)
    for old in [h for h in logger.handlers if getattr(h, "durable", False)]:
        logger.removeHandler(old)
    handler = logging.StreamHandler(stream if stream is not None else sys.stdout)
    handler.durable = True  # type: ignore[attr-defined]
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter("%(message)s"))
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False


def log(logger: logging.Logger, level: int, event: str, worker: str, message: str, **fields: Any) -> None:
    """One record of ``event`` by ``worker``, with ``fields`` kept for the json format."""
    if logger.isEnabledFor(level):
        logger.log(level, message, extra={"event": event, "worker": worker, "fields": fields})


class WorkerLog:
    """The log of worker ``worker``: its own lines (``say``) and its tasks' events (call it with each
    ``TaskEvent``, as ``Worker(on_task=...)``)."""

    def __init__(self, worker: str) -> None:
        self.worker = worker
        self._functions: dict[str, str] = {}  # task id -> the function its running attempt started

    def say(self, event: str, message: str, *, level: int = logging.INFO, **fields: Any) -> None:
        log(WORKER, level, event, self.worker, message, **fields)

    def __call__(self, event: TaskEvent) -> None:
        w, task = self.worker, event.task
        if isinstance(event, Acquired) and event.reclaimed:
            log(TASKS, logging.INFO, "reclaimed", w, f"durable worker {w}: {task.id} taken back from this id's "
                f"previous run (version {task.version})", id=task.id, version=task.version)
        elif isinstance(event, Acquired):
            log(TASKS, logging.DEBUG, "acquired", w, f"durable worker {w}: {task.id} acquired (version "
                f"{task.version})", id=task.id, version=task.version, **{"from": event.taken_from})
        elif isinstance(event, Started):
            self._functions[task.id] = event.function
            fields = {"id": task.id, "function": event.function, "attempt": task.attempts, "group": task.target}
            if task.lapsed_owner is not None:
                log(TASKS, logging.WARNING, "takeover", w,
                    f"durable worker {w}: {task.id} taken over from {task.lapsed_owner}, whose lease ran out: "
                    f"{event.function}", **fields, **{"from": task.lapsed_owner})
            kind = "root" if event.root else "child"
            first = task.attempts == 1  # a later attempt resumes it (after a suspend, a failure, a takeover)
            log(TASKS, logging.INFO if event.root and first else logging.DEBUG, "started" if first else "resumed", w,
                f"durable worker {w}: {task.id} {'started' if first else 'resumed'}: {event.function} "
                f"(attempt {task.attempts})", **fields, kind=kind)
        elif isinstance(event, Ended):
            function = self._functions.pop(task.id, None)
            if event.promise is None:
                log(TASKS, logging.DEBUG, "suspended", w, f"durable worker {w}: {task.id} suspended: {function}",
                    id=task.id, function=function)
                return
            root = "durable:parent" not in event.promise.tags
            state = event.promise.state.value
            how = "" if event.settled_here else " (found settled)"
            log(TASKS, logging.INFO if root else logging.DEBUG, "finished", w,
                f"durable worker {w}: {task.id} {state}: {function}{how}", id=task.id, function=function,
                state=state, kind="root" if root else "child", settled_here=event.settled_here)
        elif isinstance(event, Failed):
            self._failed(event)

    def _failed(self, event: Failed) -> None:
        w, task, error = self.worker, event.task, event.error
        function = self._functions.pop(task.id, None)
        said = f"{type(error).__name__} at {event.culprit}: {error}"
        fields = {"id": task.id, "function": function, "error": said, "culprit": event.culprit}
        if event.fatal:
            log(TASKS, logging.ERROR, "failed", w, f"durable worker {w}: task {task.id}: {said}; released with "
                "the error recorded, a worker tries it again later", **fields)
        elif isinstance(error, Fenced) or not event.released:
            log(TASKS, logging.WARNING, "lease_lost", w, f"durable worker {w}: task {task.id} lost its lease "
                f"({error}); its new holder carries on", **fields)
        else:
            log(TASKS, logging.WARNING, "released", w, f"durable worker {w}: task {task.id} released for "
                f"another attempt: {type(error).__name__}: {error}", **fields)


__all__ = ["FORMATS", "KEYS", "LEVELS", "WorkerLog", "configure"]
