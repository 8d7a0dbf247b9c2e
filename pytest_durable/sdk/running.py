"""What body runs in the current trio task: the workflow's ``Frame``, the promise id and its root's id.

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


#: The root of the tree whose body runs in the current trio task (the promise a client started).
current_root: ContextVar[str | None] = ContextVar("pytest_durable_current_root", default=None)


def current_root_id() -> str | None:
    """The id of the root promise of the tree whose body, workflow or leaf, is running here (the one a client
    started; for a ``ctx.rpc`` child, its caller's root); None outside any body. Unlike splitting
    ``current_promise_id()``, it holds for children given their own ids (``.options(id=...)``)."""
    return current_root.get()


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
