"""The runtime's own promises, which are nobody's workflow: ids in the ``durable:`` namespace.

Workers and commands keep some state in the store as promises (the sweeper lease ``durable:sweeper``,
the schedules ``durable:schedules`` and ``durable:schedule:ID``). Wherever a user's roots are listed,
exported or replayed, these are left out with ``is_bookkeeping``, one predicate for every listing.
"""

from __future__ import annotations

#: Every bookkeeping promise's id starts with this; a user's root should not.
PREFIX = "durable:"


def is_bookkeeping(id: str) -> bool:
    """Whether ``id`` is one of the runtime's own promises rather than a user's."""
    return id.startswith(PREFIX)


__all__ = ["PREFIX", "is_bookkeeping"]
