"""What body runs in the current trio task: the workflow's ``Context`` and the promise id.

Both are context variables, so every task a body spawns sees them; a leaf body has no ``Context``
(it may not call children) but does have a promise id, which is how an effect knows who made it.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .context import Context

#: The workflow whose body is running in the current trio task (None inside a leaf).
current_context: ContextVar[Context | None] = ContextVar("pytest_durable_current_context", default=None)

#: The promise whose body (workflow or leaf) is running in the current trio task.
current_promise: ContextVar[str | None] = ContextVar("pytest_durable_current_promise", default=None)


def current_promise_id() -> str | None:
    """The id of the promise whose body, workflow or leaf, is running here; None outside any body."""
    return current_promise.get()
