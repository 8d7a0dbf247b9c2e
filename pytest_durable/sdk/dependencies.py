"""Dependencies: objects a worker hands to the bodies it runs (a payment client, a connection pool).

A leaf that calls a payment API must not build its client itself: production gives the worker a real
client, a test or the simulator a fake. ``worker.set_dependency("bank", client)`` registers one per
worker (as Resonate's ``set_dependency``); any body, leaf or workflow, reads it with
``pytest_durable.dependency("bank")`` (a leaf has no ``Context``; workflows may also write
``ctx.get_dependency``). The object is the process's, not the store's: it is never recorded, so a
restarted process sees whatever its new worker was given.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import Context, ContextVar, Token
from typing import Any

from ..core.errors import MissingDependency, UsageError
from .running import current_promise

#: (function name, the worker's dependencies) of the body running in the current trio task.
_current: ContextVar[tuple[str, Mapping[str, object]] | None] = ContextVar(
    "pytest_durable_current_dependencies", default=None
)


def check_name(name: object, where: str) -> str:
    """``name`` if it is a usable dependency name, else a ``UsageError`` naming ``where``."""
    if not isinstance(name, str) or not name or name != name.strip():
        raise UsageError(f"{where}: a dependency name must be a non-empty string without surrounding spaces, "
                         f"got {name!r}")
    return name


class Began:
    """How many bodies began in this process, and the function of the last one: a step of a trio task
    that ran long names the body that began during it (a leaf awaited by ``ctx.run`` begins and ends
    inside its workflow's step, so the task's own context names the workflow)."""

    count = 0
    function = ""


def entering(function: str, dependencies: Mapping[str, object]) -> Token[tuple[str, Mapping[str, object]] | None]:
    """Make ``dependencies`` what the body of ``function`` (starting in this trio task) reads."""
    Began.count += 1
    Began.function = function
    return _current.set((function, dependencies))


def current_function(context: Context | None = None) -> str | None:
    """The name of the durable function whose body runs in the current trio task, or in ``context`` (a
    task's own, as a trio instrument sees it); None outside any body."""
    running = _current.get() if context is None else context.get(_current)
    return None if running is None else running[0]


def leaving(token: Token[tuple[str, Mapping[str, object]] | None]) -> None:
    _current.reset(token)


def dependency(name: str) -> Any:
    """The object this body's worker registered as ``name`` (``worker.set_dependency(name, obj)``).

    Call it inside a durable function's body, leaf or workflow. A name the worker lacks raises
    ``MissingDependency`` (a ``PlatformError``: not retried, the task is released and the error
    reported), naming the dependency, the function and how to register it.
    """
    check_name(name, "pytest_durable.dependency")
    running = _current.get()
    if running is None:
        raise UsageError(f"pytest_durable.dependency({name!r}) was called outside a durable function's body; "
                         "call it inside a @function that a Worker runs")
    function, dependencies = running
    if name not in dependencies:
        raise MissingDependency(name, function, current_promise.get() or "?")
    return dependencies[name]
