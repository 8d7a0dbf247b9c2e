"""Load a scenario from ``path/to/file.py:name`` or ``package.module:name``."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

from pytest_durable.core.errors import UsageError
from pytest_durable.sdk import DurableFunction

from .scenario import Scenario


def load_scenario(target: str) -> Scenario:
    """``name`` is a ``Scenario`` or a callable that takes no argument and returns one."""
    where, sep, name = target.rpartition(":")
    if not sep or not where or not name:
        form = f"target {target!r}: write FILE.py:NAME or MODULE:NAME (e.g. examples/fan_out_fan_in.py:scenario)"
        file = target.rstrip(":")
        if file.endswith(".py") and Path(file).is_file():  # a file without its name: say what it holds
            raise UsageError(form + _holds(file, _module(target, file)))
        raise UsageError(form)
    module = _module(target, where)
    if not hasattr(module, name):
        raise UsageError(f"target {target!r}: {where} has no {name!r}" + _holds(where, module))
    obj = getattr(module, name)
    scenario = obj if isinstance(obj, Scenario) else _call(target, name, obj)
    if not isinstance(scenario, Scenario):
        raise UsageError(f"target {target!r}: {name} must be a sim.Scenario or return one, got {scenario!r}")
    return scenario


def _module(target: str, where: str) -> ModuleType:
    """The module ``where`` names: a file (loaded once, under its stem) or an importable module."""
    if where.endswith(".py") or "/" in where:
        path = Path(where)
        if not path.exists():
            raise UsageError(f"target {target!r}: no file {where}")
        module_name = path.stem
        existing = sys.modules.get(module_name)
        if existing is not None and Path(getattr(existing, "__file__", "") or "").resolve() == path.resolve():
            return existing
        spec = importlib.util.spec_from_file_location(module_name, path)
        if spec is None or spec.loader is None:
            raise UsageError(f"target {target!r}: cannot load {where}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module  # so values of its classes decode by module name
        sys.path.insert(0, str(path.resolve().parent))
        try:
            spec.loader.exec_module(module)
        except Exception as exc:
            del sys.modules[module_name]
            raise UsageError(f"target {target!r}: {_failed(exc, path)}; fix the file and run again") from None
        return module
    try:
        return importlib.import_module(where)
    except ImportError as exc:
        raise UsageError(f"target {target!r}: cannot import {where}: {exc}") from None
    except Exception as exc:
        raise UsageError(f"target {target!r}: importing {where} failed: {_failed(exc, None)}") from None


def _failed(exc: BaseException, path: Path | None) -> str:
    """What went wrong running a target's module (or its factory), in a line: where (the file and line of
    the user's code nearest the error) and the error itself."""
    if isinstance(exc, SyntaxError):
        where = f"{exc.filename or path}, line {exc.lineno}" if exc.lineno else str(exc.filename or path)
        return f"{where}: {type(exc).__name__}: {exc.msg}"
    frames = traceback.extract_tb(exc.__traceback__)
    own = [f for f in frames if path is None or Path(f.filename).resolve() == path.resolve()] or frames
    where = f"{own[-1].filename}, line {own[-1].lineno}: " if own else ""
    return f"{where}{type(exc).__name__}: {exc}"


def _holds(where: str, module: ModuleType) -> str:
    """``; scenarios in FILE: a, b``: the top-level names of ``module`` that are scenarios or
    functions annotated to return one (read from the annotation, never called)."""
    names = sorted(n for n, v in vars(module).items() if not n.startswith("_") and _is_scenario(v, module))
    return f"; scenarios in {where}: {', '.join(names)}" if names else ""


def _call(target: str, name: str, obj: object) -> object:
    """The scenario a factory returns, once it is known to be a plain function that needs no argument
    (a class, a coroutine function or one with required parameters is named, not called)."""
    want = "name a sim.Scenario, or a function without arguments that returns one"
    if obj is None or not callable(obj):
        raise UsageError(f"target {target!r}: {name} is {obj!r}; {want}")
    if inspect.isclass(obj):
        raise UsageError(f"target {target!r}: {name} is a class; {want}")
    if isinstance(obj, DurableFunction) or inspect.iscoroutinefunction(obj) or inspect.isasyncgenfunction(obj):
        raise UsageError(f"target {target!r}: {name} is an async function (a durable workflow?); {want}, "
                         f"e.g. def scenario(): return sim.Scenario({name})")
    try:
        signature = inspect.signature(obj)
    except (TypeError, ValueError):
        return _made(target, name, obj)
    required = [p.name for p in signature.parameters.values()
                if p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    if required:
        raise UsageError(f"target {target!r}: {name}() needs argument(s) {', '.join(required)}; {want}")
    return _made(target, name, obj)


def _made(target: str, name: str, factory: Callable[[], object]) -> object:
    """What ``factory()`` returns; an error it raises is one ``UsageError`` naming it, the line and the error."""
    try:
        return factory()
    except UsageError as exc:
        raise UsageError(f"target {target!r}: {name}() raised: {exc}") from None
    except Exception as exc:
        raise UsageError(f"target {target!r}: {name}() raised at {_failed(exc, None)}; fix it and run again") from None


def _is_scenario(obj: object, module: ModuleType) -> bool:
    if isinstance(obj, Scenario):
        return True
    if not inspect.isfunction(obj) or obj.__module__ != module.__name__:
        return False
    returns = obj.__annotations__.get("return")
    return returns is Scenario or (isinstance(returns, str) and returns.rpartition(".")[2] == "Scenario")
