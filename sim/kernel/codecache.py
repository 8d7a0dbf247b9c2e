"""Compiled code shared between fresh module copies: attrs' generated methods, compiled once.

Every fresh copy of a user's module (``sim.kernel.isolation``) defines its attrs classes anew, and attrs
writes and compiles the source of each class's ``__init__``, ``__eq__``, ``__repr__``... every time:
most of a copy's cost, a large share of a small world's. A code object is immutable and the same
source gives the same code, so while a copy runs attrs compiles through a cache instead. What the
copy gets is unchanged: attrs still evaluates the code in the copy's own namespace, so each class
gets its own functions bound to the copy's globals (module state stays fresh per incarnation).
"""

from __future__ import annotations
import __future__

import builtins
import contextlib
import functools
import sys
import types
from collections.abc import Callable, Iterator
from typing import Any

#: The modules whose calls to ``compile`` go through the cache while a copy runs (attrs' class maker).
MODULES = ("attr._make",)
_LIMIT = 4096  # distinct sources kept; a sweep over many generated scenarios starts over past it
_code: dict[tuple[str, str, str, int], types.CodeType] = {}
_depth = 0


@functools.cache
def _future_flags(module: types.ModuleType) -> int:
    """The ``from __future__`` flags of ``module``: the ones its own calls to ``compile`` inherit."""
    flags = 0
    for value in vars(module).values():
        if isinstance(value, __future__._Feature):
            flags |= value.compiler_flag
    return flags


def _caching(flags: int) -> Callable[..., Any]:
    def compile(source: Any, filename: Any, mode: str, *args: Any, **kwargs: Any) -> Any:  # attrs: compile(s, f, m)
        if args or kwargs or not isinstance(source, str) or not isinstance(filename, str):
            return builtins.compile(source, filename, mode, *args, **kwargs)
        key = (source, filename, mode, flags)
        code = _code.get(key)
        if code is None:
            if len(_code) >= _LIMIT:
                _code.clear()
            code = _code[key] = builtins.compile(source, filename, mode, flags, True)
        return code

    return compile


@contextlib.contextmanager
def shared_code() -> Iterator[None]:
    """Within the block, attrs compiles the methods of the classes it makes through the cache."""
    global _depth
    installed = []
    if _depth == 0:  # a copy importing another copy is already inside the block
        for name in MODULES:
            module = sys.modules.get(name)
            if module is not None and "compile" not in vars(module):
                module.compile = _caching(_future_flags(module))  # type: ignore[attr-defined]
                installed.append(module)
    _depth += 1
    try:
        yield
    finally:
        _depth -= 1
        for module in installed:
            del module.compile
