"""A task a worker takes back on start under its stable id is reported as such: its own log line at INFO and
its own counter, apart from takeovers (no lease lapsed, so the store names no lapsed owner)."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from pytest_durable.core.records import TaskRecord, TaskState
from pytest_durable.live import worker_log
from pytest_durable.live.metrics import WorkerMetrics
from pytest_durable.sdk.task_events import Acquired


def _held(version: int, lapsed: str | None = None) -> TaskRecord:
    return TaskRecord(id="order-1", promise_id="order-1", target="default", state=TaskState.ACQUIRED,
                      version=version, lease_owner="web-1", lease_expires_at=60.0, lapsed_owner=lapsed)


def test_a_reclaimed_task_is_counted_apart_from_takeovers() -> None:
    metrics = WorkerMetrics("default")
    metrics(Acquired(_held(3), reclaimed=True))
    metrics(Acquired(_held(4, lapsed="web-2")))
    metrics(Acquired(_held(5)))
    value = metrics.registry.get_sample_value
    assert value("durable_tasks_reclaimed_total") == 1.0
    assert value("durable_tasks_taken_over_total") == 1.0


@pytest.fixture
def runtime_logger() -> Iterator[None]:
    """``configure`` sets the runtime's logger for the process: put it back as it was for the next test."""
    logger = logging.getLogger(worker_log.ROOT_LOGGER)
    saved = (list(logger.handlers), logger.level, logger.propagate)
    yield
    logger.handlers[:], logger.level, logger.propagate = saved[0], saved[1], saved[2]


@pytest.mark.usefixtures("runtime_logger")
def test_a_reclaimed_task_is_one_info_line_in_text_and_json() -> None:
    for fmt in worker_log.FORMATS:
        out = io.StringIO()
        worker_log.configure("INFO", fmt, stream=out)
        log = worker_log.WorkerLog("web-1")
        log(Acquired(_held(3), reclaimed=True))
        log(Acquired(_held(4)))  # a plain acquire is DEBUG: not shown at INFO
        lines = out.getvalue().splitlines()
        assert len(lines) == 1, lines
        if fmt == "json":
            said = json.loads(lines[0])
            assert (said["event"], said["id"], said["level"], said["worker"]) == ("reclaimed", "order-1", "info",
                                                                                  "web-1")
        else:
            assert lines[0] == "durable worker web-1: order-1 taken back from this id's previous run (version 3)"
