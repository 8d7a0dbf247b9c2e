"""Module copies that may serve another process incarnation: those unchanged since they were fresh.

Making fresh copies of the user's modules (``isolation``) is a large share of a small world. A copy
whose incarnation has ended (crashed, or its world finished), and whose state is exactly what it was
when fresh (``FreshModules.unchanged``: every global, container item, class attribute, function default
and closure cell the same objects), is as good as a new one: a body that runs in it cannot tell. So
ended incarnations give their copies back here and new ones (and the replay oracle) take one when one
is unchanged, checked at the moment it is taken, and make fresh copies otherwise. A copy is only ever
held by one incarnation at a time: processes never share memory.
"""

from __future__ import annotations

from collections.abc import Iterable

from .isolation import FreshModules

_PER_SET = 4  # copies kept for one set of module names
_SETS = 32
_FREE: dict[frozenset[str], list[FreshModules]] = {}


def take(names: Iterable[str]) -> FreshModules:
    """Copies of ``names`` for one incarnation: a given-back set unchanged since fresh, or new ones."""
    key = frozenset(names)
    free = _FREE.get(key)
    while free:
        fresh = free.pop()
        if fresh.unchanged():
            return fresh
    return FreshModules(key)


def give_back(fresh: FreshModules) -> None:
    """The incarnation that held ``fresh`` has ended: nothing runs in it any more."""
    if not fresh.comparable or not fresh.modules:
        return
    if fresh.names not in _FREE and len(_FREE) >= _SETS:
        _FREE.clear()
    free = _FREE.setdefault(fresh.names, [])
    if len(free) < _PER_SET:
        free.append(fresh)


__all__ = ["give_back", "take"]
