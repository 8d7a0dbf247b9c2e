"""A call's arguments as a command line gives them (``ARGS-JSON``), for ``run`` and ``schedule create``."""

from __future__ import annotations

import json
from typing import Any

from ..core.codec import decode
from ..core.errors import UsageError


def parse_args_json(text: str, *, where: str) -> tuple[list[Any], dict[str, Any]]:
    """``[1, "a"]`` (positional), ``{"args": [...], "kwargs": {...}}``, or one non-list value (the
    only argument). Values are read by the store's codec, so a typed value is written the way the
    store records it: ``{"$t": "attrs", "cls": "myapp.models:Order", "v": {...}}``."""
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{where}: ARGS is not JSON ({exc.msg} at column {exc.colno}); e.g. '[1, \"a\"]'") from None
    try:
        value = decode(text)
    except Exception as exc:  # the codec names what it cannot read (a class that is not importable, ...)
        raise UsageError(f"{where}: ARGS: {exc}") from None
    if isinstance(value, list):
        return value, {}
    if isinstance(value, dict) and set(value) <= {"args", "kwargs"} and value:
        args, kwargs = value.get("args", []), value.get("kwargs", {})
        if not isinstance(args, list) or not isinstance(kwargs, dict):
            raise UsageError(f"{where}: ARGS: 'args' must be a list and 'kwargs' an object")
        return args, kwargs
    return [value], {}


__all__ = ["parse_args_json"]
