"""Whether a module copy's state is unchanged since it was fresh: a snapshot, and its comparison.

A fresh module copy (``isolation``) may serve another process incarnation only if nothing changed its
state. Identity is not enough (a list appended to keeps its identity), so a snapshot walks everything
the copy holds and notes each object reached, in order: the module's globals; the items of its lists,
dicts, sets and tuples; the defaults, attributes and closure cells of its functions; the ``__dict__``
and bases of its classes; the ``__dict__`` and slots of instances of Python classes. What lies outside
the copy (real modules, and classes and functions other modules define) is noted but not entered:
always-fresh copies share it too. Comparing walks again: every object reached must be the very same
(or, for a number or string, an equal one of the same type). If any walk reaches what it cannot see
into (an object of a C type that keeps state of its own: a lock, an iterator, a generator, a
``functools.lru_cache``), the copy is not comparable and is never reused.

The walk is exact, not a hash: same objects in the same order and same sizes means same state, since
a walk's path through a container depends only on what it reached before.
"""

from __future__ import annotations

import collections
import enum
import sys
import types
from collections.abc import Callable, Iterable, Iterator
from typing import Any

#: Immutable values compared by type and equality: rebinding a name to an equal one changes nothing.
_SCALARS = (int, float, complex, str, bytes, bool)
_ATOMS = (type(None), type(Ellipsis), type(NotImplemented), range, types.CodeType, types.MemberDescriptorType,
          types.GetSetDescriptorType, types.WrapperDescriptorType, types.MethodDescriptorType,
          types.ClassMethodDescriptorType, types.MethodWrapperType)
#: Built-in types whose whole state the walk reaches through iteration (or which have none).
_WALKABLE_BASES = (object, dict, list, tuple, set, frozenset, int, float, str, bytes, BaseException)
_HEAP = 1 << 9  # Py_TPFLAGS_HEAPTYPE: a class made by a class statement
_LIMIT = 100_000  # objects a walk may reach before it gives up (a copy that large is made fresh)
_MISSING = object()


class NotComparable(Exception):
    """The walk met state it cannot see into; the copy is never reused."""


class Walk:
    """One walk over a module copy's state. ``inside`` says whether a module, class or function belongs
    to the copies (entered) or lies outside (noted only); ``stop`` are objects noted only (the owner of
    the copies, other copies with snapshots of their own)."""

    def __init__(self, inside: Callable[[object], bool], stop: Iterable[object] = ()) -> None:
        self.inside = inside
        self.stop = {id(o) for o in stop}
        self.out: list[object] = []
        self._seen: set[int] = set()

    def walk(self, obj: object) -> list[object]:
        self._visit(obj)
        return self.out

    def _visit(self, obj: object) -> None:
        out = self.out
        out.append(obj)
        if len(out) > _LIMIT:
            raise NotComparable("too much state to compare")
        kind = type(obj)
        if kind in _SCALARS or kind in _ATOMS or id(obj) in self.stop or id(obj) in self._seen:
            return
        self._seen.add(id(obj))
        for part in self._parts(obj, kind):
            self._visit(part)

    def _parts(self, obj: Any, kind: type) -> Iterator[object]:
        if kind is types.ModuleType:
            if self.inside(obj) or sys.modules.get(obj.__name__) is not obj:
                yield from _items(vars(obj))
        elif kind in (tuple, list, set, frozenset):
            yield len(obj)
            yield from obj
        elif kind in (dict, types.MappingProxyType, collections.OrderedDict):
            yield from _items(obj)
        elif kind is types.FunctionType:
            if self.inside(obj):
                yield from (obj.__code__, obj.__defaults__, obj.__kwdefaults__, obj.__dict__, obj.__annotations__)
                for cell in obj.__closure__ or ():
                    try:
                        yield cell.cell_contents
                    except ValueError:  # an empty cell
                        yield _MISSING
        elif isinstance(obj, type):
            if self.inside(obj):
                yield obj.__bases__
                yield from _items(vars(obj))
        elif kind in (staticmethod, classmethod):
            yield obj.__func__
        elif kind is property:
            yield from (obj.fget, obj.fset, obj.fdel)
        elif kind is types.MethodType:
            yield from (obj.__func__, obj.__self__)
        elif kind is types.BuiltinFunctionType:
            if not isinstance(obj.__self__, types.ModuleType) and obj.__self__ is not None:
                yield obj.__self__  # a bound method of a container the copy holds
        elif kind is collections.defaultdict:
            yield obj.default_factory
            yield from _items(obj)
        elif isinstance(obj, enum.Enum):
            yield kind
            yield from _items(getattr(obj, "__dict__", {}))
        else:
            yield from _instance(obj, kind)


def _items(mapping: Any) -> Iterator[object]:
    yield len(mapping)
    for key, value in mapping.items():
        yield key
        yield value


def _instance(obj: Any, kind: type) -> Iterator[object]:
    """An instance of a Python class: its class, ``__dict__``, slots, and the items of a built-in base."""
    native = [c for c in kind.__mro__ if not c.__flags__ & _HEAP]
    if any(c not in _WALKABLE_BASES for c in native):
        raise NotComparable(f"a {kind.__module__}.{kind.__qualname__} keeps state the walk cannot see")
    yield kind
    yield from _items(getattr(obj, "__dict__", {}))
    for klass in kind.__mro__:
        slots = vars(klass).get("__slots__", ())
        for slot in (slots,) if isinstance(slots, str) else slots:
            if slot not in ("__dict__", "__weakref__"):
                yield getattr(obj, slot, _MISSING)
    if isinstance(obj, dict):
        yield from _items(obj)
    elif isinstance(obj, (list, tuple, set, frozenset)):
        yield len(obj)
        yield from obj
    elif isinstance(obj, BaseException):
        yield from (obj.args, obj.__cause__, obj.__context__, obj.__traceback__)


def same(before: list[object], after: list[object]) -> bool:
    """Two walks reached the same objects in the same order (equal numbers and strings count as same)."""
    if len(before) != len(after):
        return False
    for a, b in zip(before, after, strict=True):
        if a is not b and not (type(a) is type(b) and type(a) in _SCALARS and a == b):
            return False
    return True


__all__ = ["NotComparable", "Walk", "same"]
