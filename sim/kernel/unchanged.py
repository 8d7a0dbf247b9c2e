"""Whether a module copy's state is unchanged since it was fresh: a snapshot, and its comparison.

A fresh module copy (``isolation``) may serve another process incarnation only if nothing changed its
state. Identity is not enough (a list appended to keeps its identity), so a snapshot walks everything
the copy holds, from its globals down, and keeps for each object that can hold state what it refers to
directly: the keys and values of its dicts (module globals, class attributes, instance attributes), the
items of its lists and sets, the defaults, attributes and closure cells of its functions, the bases of
its classes, the slots of instances of Python classes. What lies outside the copy (real modules, and
classes and functions other modules define) is referred to but not entered: always-fresh copies share it
too. The comparison asks each of those objects again and needs the very same objects, in the same
order. The state is the graph of those references from the module; if no edge changed, no object is
reachable that was not, so nothing changed. If the walk meets an object whose state it cannot read (of
a C type that keeps state of its own: a lock, an iterator, a generator, an ``lru_cache``), the copy is
not comparable and is never reused.
"""

from __future__ import annotations

import collections
import enum
import operator
import sys
import types
from collections.abc import Callable, Iterable
from typing import Any

#: Objects that hold no state of their own (or none a module copy owns): referred to, never entered.
_ATOMS = frozenset({
    type(None), bool, int, float, complex, str, bytes, type(Ellipsis), type(NotImplemented), range,
    types.CodeType, types.MemberDescriptorType, types.GetSetDescriptorType, types.WrapperDescriptorType,
    types.MethodDescriptorType, types.ClassMethodDescriptorType, types.MethodWrapperType,
})
#: Built-in types whose whole state the walk reads through iteration (or which have none).
_READABLE_BASES = (object, dict, list, tuple, set, frozenset, int, float, str, bytes)
_HEAP = 1 << 9  # Py_TPFLAGS_HEAPTYPE: a class made by a class statement
_LIMIT = 500  # objects a snapshot may keep before it gives up: past that, walking costs more than a fresh copy
_EMPTY_CELL = object()

Reader = Callable[[Any], list[object]]


class NotComparable(Exception):
    """The walk met state it cannot read; the copy is never reused."""


def _mapping(obj: Any) -> list[object]:
    return [*obj, *obj.values()]


def _items(obj: Any) -> list[object]:
    return [*obj]


def _module(obj: Any) -> list[object]:
    return [vars(obj)]


def _function(obj: Any) -> list[object]:
    cells = []
    for cell in obj.__closure__ or ():
        try:
            cells.append(cell.cell_contents)
        except ValueError:  # an empty cell
            cells.append(_EMPTY_CELL)
    return [obj.__code__, obj.__defaults__, obj.__kwdefaults__, obj.__dict__, obj.__annotations__, *cells]


def _class(obj: Any) -> list[object]:
    return [obj.__bases__, *_mapping(vars(obj))]


def _wrapped(obj: Any) -> list[object]:
    return [obj.__func__]


def _property(obj: Any) -> list[object]:
    return [obj.fget, obj.fset, obj.fdel]


def _method(obj: Any) -> list[object]:
    return [obj.__func__, obj.__self__]


def _builtin_method(obj: Any) -> list[object]:
    return [obj.__self__]


def _defaultdict(obj: Any) -> list[object]:
    return [obj.default_factory, *_mapping(obj)]


def _enum(obj: Any) -> list[object]:
    return [type(obj), getattr(obj, "__dict__", None)]


def _instance_reader(kind: type) -> Reader:
    """How to read an instance of Python class ``kind``: its class, ``__dict__``, slots, and the items
    of a built-in base (the slots are looked up once per class, not once per read)."""
    slots: list[str] = []
    for klass in kind.__mro__:
        declared = vars(klass).get("__slots__", ())
        slots += [s for s in ((declared,) if isinstance(declared, str) else declared)
                  if s not in ("__dict__", "__weakref__")]
    names = tuple(slots)
    items = _mapping if issubclass(kind, dict) else _items if issubclass(kind, (list, tuple, set, frozenset)) else None

    def read(obj: Any) -> list[object]:
        out: list[object] = [type(obj), getattr(obj, "__dict__", None)]
        out += [getattr(obj, name, _EMPTY_CELL) for name in names]
        if items is not None:
            out += items(obj)
        return out

    return read


_READERS: dict[type, Reader] = {
    dict: _mapping, types.MappingProxyType: _mapping, collections.OrderedDict: _mapping, list: _items,
    tuple: _items, set: _items, frozenset: _items, types.FunctionType: _function, staticmethod: _wrapped,
    classmethod: _wrapped, property: _property, types.MethodType: _method, types.BuiltinFunctionType: _builtin_method,
    collections.defaultdict: _defaultdict, types.ModuleType: _module,
}


class Snapshot:
    """What ``root`` and everything it holds refer to, now. ``inside`` says whether a module, class or
    function belongs to the copies (entered) or lies outside (referred to only); ``stop`` are objects
    referred to only (the owner of the copies, other copies with snapshots of their own)."""

    def __init__(self, root: object, inside: Callable[[object], bool], stop: Iterable[object] = ()) -> None:
        self._inside = inside
        self._stop = {id(o) for o in stop}
        self._seen: set[int] = set()
        self._instances: dict[type, Reader] = {}
        self._nodes: list[tuple[object, Reader, list[object]]] = []
        self._enter(root)

    def unchanged(self) -> bool:
        """Every object the snapshot kept refers to the very same objects as when it was taken."""
        is_ = operator.is_
        for obj, read, then in self._nodes:
            now = read(obj)
            if len(now) != len(then) or not all(map(is_, now, then)):
                return False
        return True

    def _enter(self, root: object) -> None:
        stack = [root]
        while stack:
            obj = stack.pop()
            read = self._reader(obj)
            if read is None:
                continue
            edges = read(obj)
            if type(obj) not in (tuple, frozenset):  # what an immutable one refers to cannot change
                self._nodes.append((obj, read, edges))
            if len(self._nodes) > _LIMIT:
                raise NotComparable("too much state to compare")
            for edge in edges:
                if type(edge) not in _ATOMS and id(edge) not in self._seen and id(edge) not in self._stop:
                    self._seen.add(id(edge))
                    stack.append(edge)

    def _reader(self, obj: Any) -> Reader | None:
        """How to read ``obj``'s references, or ``None`` for an object referred to only."""
        kind = type(obj)
        if kind is types.ModuleType:
            return _module if self._inside(obj) or sys.modules.get(obj.__name__) is not obj else None
        if kind is types.FunctionType or isinstance(obj, type):
            return (_function if kind is types.FunctionType else _class) if self._inside(obj) else None
        if kind is types.BuiltinFunctionType:
            owner = obj.__self__
            return None if owner is None or isinstance(owner, types.ModuleType) else _builtin_method
        read = _READERS.get(kind)
        if read is not None:
            return read
        if isinstance(obj, enum.Enum):  # a member of an enum the copy defines; another's is its own
            return _enum if self._inside(kind) else None
        if any(not c.__flags__ & _HEAP and c not in _READABLE_BASES for c in kind.__mro__):
            raise NotComparable(f"a {kind.__module__}.{kind.__qualname__} keeps state the walk cannot read")
        read = self._instances.get(kind)
        if read is None:
            read = self._instances[kind] = _instance_reader(kind)
        return read


__all__ = ["NotComparable", "Snapshot"]
