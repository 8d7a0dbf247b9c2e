"""What body runs in the current trio task: the workflow's ``Frame`` and the promise id.

Both are context variables, so every task a body spawns sees them; a leaf body has no frame (it may
not call children) but does have a promise id, which is how an effect knows who made it.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import TYPE_CHECKING

from ..core.errors import UsageError

if TYPE_CHECKING:
    from .frame import Frame

#: The workflow whose body is running in the current trio task (None inside a leaf).
current_frame: ContextVar[Frame | None] = ContextVar("pytest_durable_current_frame", default=None)

#: The promise whose body (workflow or leaf) is running in the current trio task.
current_promise: ContextVar[str | None] = ContextVar("pytest_durable_current_promise", default=None)


def current_promise_id() -> str | None:
    """The id of the promise whose body, workflow or leaf, is running here; None outside any body."""
    return current_promise.get()


def check_here(frame: Frame, what: str) -> None:
    """A ``UsageError`` unless ``frame``'s workflow body is the one running here: ``ctx.{what}`` was
    called on another workflow's ``Context`` (or outside any)."""
    if current_frame.get() is not frame:
        raise UsageError(
            f"ctx.{what} on the Context of {frame.id} was called outside that workflow's body; "
            "use the ctx your own workflow received"
        )
