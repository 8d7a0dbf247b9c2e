"""Load a scenario from ``path/to/file.py:name`` or ``package.module:name``."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path

from pytest_durable.core.errors import UsageError

from .scenario import Scenario


def load_scenario(target: str) -> Scenario:
    """``name`` is a ``Scenario`` or a callable that takes no argument and returns one."""
    where, sep, name = target.rpartition(":")
    if not sep or not where or not name:
        raise UsageError(
            f"target {target!r}: write FILE.py:NAME or MODULE:NAME (e.g. examples/fan_out_fan_in.py:scenario)"
        )
    if where.endswith(".py") or "/" in where:
        path = Path(where)
        if not path.exists():
            raise UsageError(f"target {target!r}: no file {where}")
        module_name = path.stem
        existing = sys.modules.get(module_name)
        if existing is not None and Path(getattr(existing, "__file__", "") or "").resolve() == path.resolve():
            module = existing
        else:
            spec = importlib.util.spec_from_file_location(module_name, path)
            if spec is None or spec.loader is None:
                raise UsageError(f"target {target!r}: cannot load {where}")
            module = importlib.util.module_from_spec(spec)
            sys.modules[module_name] = module  # so values of its classes decode by module name
            sys.path.insert(0, str(path.resolve().parent))
            spec.loader.exec_module(module)
    else:
        try:
            module = importlib.import_module(where)
        except ImportError as exc:
            raise UsageError(f"target {target!r}: cannot import {where}: {exc}") from None
    obj = getattr(module, name, None)
    if obj is None:
        raise UsageError(f"target {target!r}: {where} has no {name!r}")
    scenario = obj if isinstance(obj, Scenario) else obj() if callable(obj) else None
    if not isinstance(scenario, Scenario):
        raise UsageError(f"target {target!r}: {name} must be a sim.Scenario or return one, got {scenario!r}")
    return scenario
