"""Promise ids: the caller names the root; the n-th child of a parent execution is ``{parent}.{n}``."""

from __future__ import annotations

from .errors import UsageError


def child_id(parent: str, n: int) -> str:
    """The id of the ``n``-th child (counting from 0, in call order) created by ``parent``."""
    return f"{parent}.{n}"


def patch_marker_id(workflow: str, patch: str) -> str:
    """The id of the marker ``ctx.patched(patch)`` records under ``workflow``. It is no numbered child,
    so an execution recorded with the patch and one recorded without it number their children alike."""
    return f"{workflow}.patch-{patch}"


def parent_of(id: str) -> str | None:
    """The parent id a derived child id points at, or ``None`` for an id with no numeric suffix."""
    head, dot, tail = id.rpartition(".")
    if dot and tail.isdigit():
        return head
    return None


def check_root_id(id: object, *, where: str,
                  advice: str = "name the root after the work it does, e.g. 'order-42'") -> str:
    """Validate a caller-chosen id; the error names the call and says what a good id is (``advice``:
    a root's by default)."""
    if not isinstance(id, str) or not id or id != id.strip() or any(c.isspace() for c in id):
        raise UsageError(f"{where}: id must be a non-empty string without white space, got {id!r}; {advice}")
    return id
