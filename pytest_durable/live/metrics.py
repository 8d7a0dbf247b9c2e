"""A worker process's metrics in the Prometheus text format (``worker --metrics-port``), served over HTTP
by ``prometheus-client`` from a thread of its own: tasks running and due, tasks taken over, reclaimed and failed,
roots finished by state, and the latency of each store request."""

from __future__ import annotations

import errno
import math
from collections.abc import Callable
from typing import Any

import prometheus_client as prom

from ..core.errors import UsageError
from ..core.store import TAG_PARENT
from ..sdk.task_events import Acquired, Ended, Failed, TaskEvent
from ..sdk.worker import Worker


class WorkerMetrics:
    """The metrics of one worker process, on a registry of their own (nothing process-wide). Call it with
    each ``TaskEvent`` (``Worker(on_task=...)``), hand ``observe_request`` to a ``TimedStore``, and
    ``bind`` the worker and its store's count of due tasks before serving."""

    def __init__(self, group: str) -> None:
        self.group = group
        self.registry = prom.CollectorRegistry()
        r = self.registry
        self.running = prom.Gauge("durable_tasks_running", "Tasks this worker holds and runs now.", registry=r)
        self.due = prom.Gauge("durable_tasks_due", "Tasks of the group due in the store now, read at scrape "
                              "(pending ones whose time has come, held ones whose lease ran out).", ["group"],
                              registry=r)
        self.taken_over = prom.Counter("durable_tasks_taken_over", "Tasks this worker acquired after another "
                                       "worker's lease on them ran out.", registry=r)
        self.reclaimed = prom.Counter("durable_tasks_reclaimed", "Tasks this worker took back on start from its "
                                      "own previous run under the same id (worker --id), with no lease wait.",
                                      registry=r)
        self.failed = prom.Counter("durable_tasks_failed", "Attempts at a task that stopped on an error: fatal "
                                   "(released with the error recorded), released (a platform error) or "
                                   "lease_lost (fenced).", ["kind"], registry=r)
        self.roots = prom.Counter("durable_roots_finished", "Roots this worker settled, by the state they "
                                  "settled in.", ["state"], registry=r)
        self.latency = prom.Histogram("durable_store_request_seconds", "Wall time of each store request by "
                                      "operation (dispatch and await_settled are long polls: their wait "
                                      "included).", ["operation"], registry=r)

    def bind(self, worker: Worker, count_due: Callable[[str], int] | None) -> None:
        """Read ``worker``'s running tasks, and the store's due ones (``count_due``, if the store has it), at
        each scrape."""
        self.running.set_function(lambda: worker.running_tasks)
        if count_due is not None:
            def due() -> float:
                try:
                    return float(count_due(self.group))
                except Exception:  # a store busy or out of reach: no figure, rather than a failed scrape
                    return math.nan
            self.due.labels(self.group).set_function(due)

    def observe_request(self, operation: str, seconds: float) -> None:
        self.latency.labels(operation).observe(seconds)

    def __call__(self, event: TaskEvent) -> None:
        if isinstance(event, Acquired):
            if event.reclaimed:
                self.reclaimed.inc()
            elif event.taken_from is not None:
                self.taken_over.inc()
        elif isinstance(event, Ended):
            if event.settled_here and event.promise is not None and TAG_PARENT not in event.promise.tags:
                self.roots.labels(event.promise.state.value).inc()
        elif isinstance(event, Failed):
            kind = "fatal" if event.fatal else "released" if event.released else "lease_lost"
            self.failed.labels(kind).inc()

    def serve(self, port: int, host: str) -> tuple[Any, int]:
        """Serve ``/metrics`` on ``host:port`` (port 0: one the system picks) from a daemon thread; the HTTP
        server and the port it listens on. A port in use or not allowed is one ``UsageError``."""
        if not 0 <= port <= 65535:
            raise UsageError(f"worker --metrics-port: {port} is not a port; give one in 0..65535 (0: any free one)")
        try:
            server, _thread = prom.start_http_server(port, addr=host, registry=self.registry)
        except OSError as exc:
            why = "is in use" if exc.errno == errno.EADDRINUSE else f"cannot be listened on ({exc.strerror})"
            raise UsageError(f"worker --metrics-port: port {port} on {host} {why}; pick another port, or stop "
                             "what holds it") from None
        return server, int(server.server_address[1])


__all__ = ["WorkerMetrics"]
