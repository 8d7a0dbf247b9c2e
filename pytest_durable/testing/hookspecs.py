"""Hooks third-party plugins implement to shape the simulated worlds of a test run.

Registered through ``pytest_addhooks``; each receives the test ``item`` it is called for.
"""

from __future__ import annotations

from typing import Any

import pytest


@pytest.hookspec
def pytest_durable_configure_world(item: pytest.Item, world: Any) -> None:
    """Adjust a world before it runs: ``world`` is a mutable ``WorldSettings`` (faults, plan, config,
    workers)."""


@pytest.hookspec(firstresult=True)
def pytest_durable_fault_points(item: pytest.Item, scenario: Any) -> Any:
    """Explicit fault points for a world (a ``FaultPlan`` or its text), added to the test's own."""


@pytest.hookspec
def pytest_durable_invariants(item: pytest.Item, scenario: Any) -> Any:
    """A list of invariants (``RunResult -> iterable of broken-rule lines``) every world must keep."""


@pytest.hookspec
def pytest_durable_on_event(item: pytest.Item, event: Any) -> None:
    """Called with every trace event of every world, as it happens."""


@pytest.hookspec(firstresult=True)
def pytest_durable_format_trace(item: pytest.Item, result: Any) -> str | None:
    """The text shown for a failing world's trace in the failure report (instead of the default)."""
