"""The deploy check as a test suite's: replay histories exported from a store against the code under
test, one test item per history, failing with the report ``python -m pytest_durable check-deploy``
prints::

    from pytest_durable.testing import assert_compatible, durable_histories

    @pytest.mark.parametrize("history", durable_histories("histories"))
    def test_new_code_replays_production(history):
        assert_compatible(history, "myapp.workflows")

The histories are the files ``python -m pytest_durable export --out DIR`` writes; no store is opened and
no body runs (leaves answer from the record).
"""

from __future__ import annotations

import os
import sys
import types
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from ..core.errors import UsageError
from ..core.history import History
from ..live.histories import load_histories
from ..live.loading import import_module
from ..sdk.function import DurableFunction, Registry
from ..sdk.replay_check import RootCheck, check_history

if TYPE_CHECKING:
    from _pytest.mark.structures import ParameterSet


def durable_histories(path: str | os.PathLike[str]) -> list[ParameterSet]:
    """The histories in ``path`` (a directory of exported ``*.json`` files, or one file) as
    ``pytest.param(history, id=<root id>)``, for ``@pytest.mark.parametrize("history", ...)``. A relative
    path is read from the folder of the test file that calls this, so the suite runs from any directory.
    A missing path, a directory without history files or a file that is no history is one collection
    error naming it."""
    where = f"durable_histories({os.fspath(path)!r})"
    full = _beside_caller(Path(path))
    if not full.exists():
        pytest.fail(f"{where}: no such file or directory: {full}; write the histories there with "
                    f"`python -m pytest_durable export --out {full}`", pytrace=False)
    if full.is_dir() and not any(full.glob("*.json")):
        pytest.fail(f"{where}: no history files (*.json) in {full}; write them with "
                    f"`python -m pytest_durable export --out {full}`", pytrace=False)
    try:
        histories = load_histories(full)
    except UsageError as exc:
        pytest.fail(f"{where}: {exc}", pytrace=False)
    return [pytest.param(history, id=history.root) for history in histories]


def assert_compatible(history: History, *modules: str | types.ModuleType,
                      dependencies: Mapping[str, object] | None = None) -> RootCheck:
    """Replay ``history`` against the ``@function`` s of ``modules`` (dotted names or module objects:
    the new code) and fail the test with the check's report (``RootCheck.report()``, what
    ``check-deploy`` prints for the root) unless they replay it as recorded. ``dependencies`` are handed
    to bodies as a worker's. Returns the check (its ``next_call``, ``old_paths``) when it passes."""
    __tracebackhide__ = True
    try:
        if not isinstance(history, History):
            raise UsageError(f"assert_compatible: history must be a History (a parameter of durable_histories), "
                             f"got {type(history).__name__}")
        check = check_history(history, _registry(modules), dependencies=dependencies)
    except UsageError as exc:
        pytest.fail(str(exc), pytrace=False)
    if not check.compatible:
        pytest.fail(check.report(), pytrace=False)
    return check


def _registry(modules: tuple[str | types.ModuleType, ...]) -> Registry:
    """Every durable function at the top level of ``modules``, the first of each name, as a worker
    serving them registers them."""
    if not modules:
        raise UsageError("assert_compatible: name the modules of the new code, e.g. "
                         "assert_compatible(history, 'myapp.workflows')")
    registry = Registry()
    for module in modules:
        if isinstance(module, str):
            found = import_module(module, where="assert_compatible")
        elif isinstance(module, types.ModuleType):
            found = module
        else:
            raise UsageError(f"assert_compatible: {module!r} is neither a module nor a module name; "
                             "pass e.g. 'myapp.workflows'")
        own: list[DurableFunction[Any, Any]] = [v for v in vars(found).values() if isinstance(v, DurableFunction)]
        if not own:
            raise UsageError(f"assert_compatible: module {found.__name__!r} defines no @function; "
                             "name the module that does")
        for fn in own:
            if fn.name not in registry:
                registry.register(fn)
    return registry


def _beside_caller(path: Path) -> Path:
    """``path``, read from the folder of the module that called ``durable_histories`` if relative."""
    if path.is_absolute():
        return path
    caller = sys._getframe(2).f_globals.get("__file__")
    base = Path(caller).parent if isinstance(caller, str) else Path.cwd()
    return base / path


__all__ = ["assert_compatible", "durable_histories"]
