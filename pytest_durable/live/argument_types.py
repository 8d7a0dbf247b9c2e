"""The CLI's ``run`` checks its arguments against the function's annotations before it starts anything.

ARGS come as JSON, so a number written as a string (``'["4"]'``) would otherwise start a workflow that
fails later, inside a worker. Checked: ``int``, ``float`` (an int is a float too), ``str``, ``bool``,
``None`` and ``Optional``/unions, ``list``/``dict``/``tuple`` of those, and attrs and dataclass classes;
any other annotation (``Any``, an enum, a protocol, a name that does not resolve) is not checked. A wrong
argument is one ``UsageError`` naming the function, the parameter, the type expected and the type given.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from ..core.errors import UsageError
from ..sdk.function import DurableFunction


def _annotations(fn: DurableFunction[..., Any]) -> dict[str, object]:
    """The annotation of each parameter of ``fn``'s body, resolved; one that cannot be is left out."""
    body = fn.__wrapped__
    try:
        return dict(typing.get_type_hints(body))
    except Exception:  # a name only imported for type checking: resolve them one at a time
        pass
    found: dict[str, object] = {}
    for name, parameter in inspect.signature(body).parameters.items():
        annotation = parameter.annotation
        if isinstance(annotation, str):
            try:
                annotation = eval(annotation, getattr(body, "__globals__", {}))
            except Exception:
                continue
        if annotation is not inspect.Parameter.empty:
            found[name] = annotation
    return found


def type_name(annotation: object) -> str:
    """``annotation`` as it is written: ``int``, ``list[WorkItem]``, ``int | None``."""
    if annotation is None or annotation is type(None):
        return "None"
    if annotation is Ellipsis:
        return "..."
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        return " | ".join(type_name(a) for a in args)
    if origin is not None and args:
        return f"{type_name(origin)}[{', '.join(type_name(a) for a in args)}]"
    if isinstance(annotation, type):
        return annotation.__qualname__
    return str(annotation).replace("typing.", "")


def _given(value: object) -> str:
    return "None" if value is None else type(value).__qualname__


def _bad(value: object, at: str, more: str = "") -> str:
    """The type given, where in the argument it sits (``at``: ``[0]``, ``['key']``), for the error."""
    return f"{_given(value)}{more}{f' at {at}' if at else ''}"


def _problem(value: object, annotation: object, at: str) -> str | None:
    """What is wrong with ``value`` for ``annotation`` (``"str at [1]"``), or ``None`` if it fits or the
    annotation is not checked."""
    if annotation is None or annotation is type(None):
        return None if value is None else _bad(value, at)
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        problems = [_problem(value, a, at) for a in args]
        return None if any(p is None for p in problems) else _bad(value, at)
    simple = {bool: lambda v: type(v) is bool, int: lambda v: isinstance(v, int) and type(v) is not bool,
              float: lambda v: isinstance(v, (int, float)) and type(v) is not bool, str: lambda v: isinstance(v, str)}
    if isinstance(annotation, type) and annotation in simple:
        return None if simple[annotation](value) else _bad(value, at)
    kind = origin if origin is not None else annotation
    if kind is list:
        if not isinstance(value, list):
            return _bad(value, at)
        return _first(((v, args[0], f"{at}[{i}]") for i, v in enumerate(value)) if args else ())
    if kind is tuple:  # JSON has no tuples: an array passes for one
        if not isinstance(value, (tuple, list)):
            return _bad(value, at)
        if len(args) == 2 and args[1] is Ellipsis:
            return _first((v, args[0], f"{at}[{i}]") for i, v in enumerate(value))
        if args and args != ((),):
            if len(value) != len(args):
                return _bad(value, at, f" of {len(value)} items")
            return _first((v, a, f"{at}[{i}]") for i, (v, a) in enumerate(zip(value, args, strict=True)))
        return None
    if kind is dict:
        if not isinstance(value, dict):
            return _bad(value, at)
        if len(args) != 2:
            return None
        return _first(item for k, v in value.items()
                      for item in ((k, args[0], f"{at}[{k!r}] (its key)"), (v, args[1], f"{at}[{k!r}]")))
    if isinstance(annotation, type) and (attrs.has(annotation) or dataclasses.is_dataclass(annotation)):
        return None if isinstance(value, annotation) else _bad(value, at)
    return None


def _first(checks: typing.Iterable[tuple[object, object, str]]) -> str | None:
    for value, annotation, at in checks:
        problem = _problem(value, annotation, at)
        if problem is not None:
            return problem
    return None


def _hint(annotation: object) -> str:
    """How to write a value of the first attrs or dataclass class in ``annotation``, for the error."""
    for cls in [annotation, *typing.get_args(annotation)]:
        if isinstance(cls, type) and (attrs.has(cls) or dataclasses.is_dataclass(cls)):
            tag = "attrs" if attrs.has(cls) else "dataclass"
            example = {"$t": tag, "cls": f"{cls.__module__}:{cls.__qualname__}", "v": {"...": "..."}}
            return f"; write {cls.__qualname__} values as {json.dumps(example)}"
    return ""


def check_argument_types(fn: DurableFunction[..., Any], args: Sequence[object], kwargs: Mapping[str, object], *,
                         where: str) -> None:
    """Refuse an argument whose type does not fit ``fn``'s annotation of its parameter (see the module
    docstring); ``args``/``kwargs`` are already known to bind (``DurableFunction.check_arguments``)."""
    annotations = _annotations(fn)
    parameters = list(inspect.signature(fn.__wrapped__).parameters.values())[1 if fn.is_workflow else 0:]
    bound = inspect.Signature(parameters).bind(*args, **kwargs)
    kinds = {p.name: p.kind for p in parameters}
    for name, value in bound.arguments.items():
        if name not in annotations:
            continue
        annotation = annotations[name]
        if kinds[name] is inspect.Parameter.VAR_POSITIONAL:
            problem = _first((v, annotation, f"[{i}]") for i, v in enumerate(typing.cast(tuple[object], value)))
        elif kinds[name] is inspect.Parameter.VAR_KEYWORD:
            problem = _first((v, annotation, f"[{k!r}]")
                             for k, v in typing.cast(dict[str, object], value).items())
        else:
            problem = _problem(value, annotation, "")
        if problem is not None:
            raise UsageError(f"{where}: {fn.name}: parameter {name!r} expects {type_name(annotation)}, got "
                             f"{problem}{_hint(annotation)}")


__all__ = ["check_argument_types", "type_name"]
