"""Finding a deployment's durable functions by module name, as a worker process or a client does.

A worker serves every ``@function`` defined in the modules it is given; a client names one as
``module:function``. The working directory is importable, as it is for ``python -m``.
"""

from __future__ import annotations

import importlib
import sys
import traceback
from collections.abc import Callable, Iterable
from typing import Any

from ..core.errors import UsageError
from ..sdk.function import DurableFunction


def import_module(name: str, *, where: str) -> Any:
    """Import ``name`` (a dotted module name); a module that cannot be found, or raises while it is
    imported, is one ``UsageError`` (the error and the line it came from, not a traceback)."""
    if "" not in sys.path:
        sys.path.insert(0, "")
    if not name or name.endswith(".py") or "/" in name:
        raise UsageError(f"{where}: {name!r} is not a module name; write it dotted, e.g. myapp.workflows")
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name and name.startswith(exc.name):
            raise UsageError(f"{where}: no module named {name!r} (run from the directory that holds it, "
                             "or put it on PYTHONPATH)") from None
        raise UsageError(_failed(name, exc, where)) from None
    except Exception as exc:  # the user's module raised while importing: say which, what and where
        raise UsageError(_failed(name, exc, where)) from None


def _failed(name: str, exc: Exception, where: str) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    at = f" (at {frames[-1].filename}:{frames[-1].lineno})" if frames else ""
    return f"{where}: module {name!r} failed to import: {type(exc).__name__}: {exc}{at}"


def functions_of(modules: Iterable[str], *, where: str) -> list[DurableFunction[..., Any]]:
    """Every durable function defined at the top level of ``modules``, in the order found."""
    found: dict[str, DurableFunction[..., Any]] = {}
    for name in modules:
        module = import_module(name, where=where)
        own = [v for v in vars(module).values() if isinstance(v, DurableFunction)]
        if not own:
            raise UsageError(f"{where}: module {name!r} defines no @function; name the module that does")
        for fn in own:
            found.setdefault(fn.name, fn)
    return list(found.values())


def function_named(target: str, *, where: str) -> DurableFunction[..., Any]:
    """The durable function ``module:function`` names."""
    module_name, sep, attr = target.partition(":")
    if not sep or not module_name or not attr:
        raise UsageError(f"{where}: {target!r}: write MODULE:FUNCTION, e.g. myapp.workflows:checkout")
    module = import_module(module_name, where=where)
    fn = getattr(module, attr, None)
    if not isinstance(fn, DurableFunction):
        what = "is not defined" if fn is None else "is not decorated with @function"
        raise UsageError(f"{where}: {attr!r} in module {module_name!r} {what}")
    return fn


def callable_named(target: str, *, where: str) -> Callable[..., Any]:
    """The plain callable ``module:name`` names (e.g. a worker's set-up function)."""
    module_name, sep, attr = target.partition(":")
    if not sep or not module_name or not attr:
        raise UsageError(f"{where}: {target!r}: write MODULE:FUNCTION, e.g. myapp.deploy:setup")
    found = getattr(import_module(module_name, where=where), attr, None)
    if not callable(found):
        what = "is not defined" if found is None else "is not callable"
        raise UsageError(f"{where}: {attr!r} in module {module_name!r} {what}")
    return found  # type: ignore[no-any-return]


__all__ = ["callable_named", "function_named", "functions_of", "import_module"]
