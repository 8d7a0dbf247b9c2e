"""Fresh copies of the user's modules for every simulated process incarnation.

All simulated processes share one interpreter, so module-level state of user code (an "already
charged" set, a cache, a counter) would survive a simulated crash and be shared between processes.
A real process starts with none of it: each incarnation therefore runs the scenario's durable
functions from its own copies of their modules, made by executing each module's code (compiled once)
into a new module object. Inside those copies ``import time`` and ``import datetime`` give the
virtual clocks of ``sim.kernel.wallclock``.

Which modules a scenario isolates is the scenario's to say (``sim.scenario.isolate``); what counts as
a user's module (not this project's packages, ``__main__``, the standard library or site-packages) is
said here.
"""

from __future__ import annotations

import builtins
import importlib.util
import os
import sys
import sysconfig
import types
from collections.abc import Iterable, Mapping
from typing import Any

from pytest_durable.core.errors import UsageError
from pytest_durable.sdk import DurableFunction, Registry

from . import entropy
from .codecache import shared_code
from .unchanged import NotComparable, Snapshot
from .wallclock import STAND_INS

_PROJECT = ("pytest_durable", "sim")
_real_import = builtins.__import__
_CODE: dict[str, tuple[str, types.CodeType]] = {}  # module name -> (its file, its code), compiled once


def _installed_roots() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    roots = {os.path.realpath(paths[k]) for k in ("stdlib", "platstdlib", "purelib", "platlib") if k in paths}
    return tuple(sorted(r + os.sep for r in roots))


_ROOTS = _installed_roots()


def source_file(name: str) -> str | None:
    """The Python source file of imported module ``name``, or ``None`` (not imported, not from source)."""
    module = sys.modules.get(name)
    file = getattr(module, "__file__", None)
    return file if isinstance(file, str) and file.endswith(".py") and os.path.exists(file) else None


def is_user_module(name: str) -> bool:
    """True for an imported module with Python source that is neither ours, ``__main__``, the standard
    library nor an installed package: the modules isolated by default."""
    if name == "__main__" or name.split(".")[0] in _PROJECT:
        return False
    file = source_file(name)
    return file is not None and not os.path.realpath(file).startswith(_ROOTS)


def module_code(name: str) -> types.CodeType:
    """The compiled top-level code of imported module ``name`` (from its source; compiled once): what
    every fresh copy of it runs, and what ``sim.checks.ctx_only`` reads."""
    file = source_file(name)
    if file is None:
        raise UsageError(f"module {name!r} is not an imported module with Python source")
    cached = _CODE.get(name)
    if cached is not None and cached[0] == file:
        return cached[1]
    with open(file, "rb") as f:
        code = compile(f.read(), file, "exec", dont_inherit=True)
    _CODE[name] = (file, code)
    return code


class FreshModules:
    """One process incarnation's copies of the isolated modules, built the first time they are needed.

    Their imports go through ``_import``: an isolated module gets this incarnation's copy, ``time``
    and ``datetime`` the virtual clocks, anything else the real module.
    """

    def __init__(self, names: Iterable[str]) -> None:
        self.names = frozenset(names)
        self.modules: dict[str, types.ModuleType] = {}
        self._builtins = dict(vars(builtins))
        self._builtins["__import__"] = self._import
        #: Whether every copy's state could be read (``sim.kernel.unchanged``): else never reused.
        self.comparable = True
        #: Per copy: its snapshot when fresh, the original module and the code it was made from.
        self._fresh: dict[str, tuple[Snapshot | None, types.ModuleType, types.CodeType]] = {}
        self._fresh_builtins = dict(self._builtins)

    def get(self, name: str) -> types.ModuleType | None:
        """This incarnation's copy of module ``name`` if it is isolated (the codec's class lookup)."""
        return self.module(name) if name in self.names else None

    def module(self, name: str) -> types.ModuleType:
        fresh = self.modules.get(name)
        if fresh is not None:
            return fresh
        original = sys.modules[name]
        fresh = types.ModuleType(name, original.__doc__)
        for attr in ("__file__", "__spec__", "__loader__", "__package__", "__path__"):
            if hasattr(original, attr):
                setattr(fresh, attr, getattr(original, attr))
        fresh.__builtins__ = self._builtins  # type: ignore[attr-defined]
        self.modules[name] = fresh  # before running it: an import cycle sees the partial module, as in Python
        code = module_code(name)
        uses = entropy.uses
        try:
            with shared_code():  # attrs' generated methods: compiled once, made anew in each copy
                exec(code, fresh.__dict__)
        except Exception as exc:
            del self.modules[name]
            raise UsageError(f"a fresh copy of module {name!r} for a simulated process failed to import: "
                             f"{type(exc).__name__}: {exc}; pass Scenario(isolate=('-{name}',)) to share it "
                             "between processes instead") from exc
        if entropy.uses != uses:  # its import drew the world's randomness: values of this world only
            self.comparable = False
        self._fresh[name] = (self._snapshot(fresh), original, code)
        return fresh

    # -- reuse: a copy unchanged since it was fresh may serve another incarnation (``copy_pool``) --------

    def unchanged(self) -> bool:
        """Whether every copy made so far holds exactly the state it held when fresh (and would be made
        from the same module and code today): then these copies may serve another incarnation."""
        builtins_now, then = self._builtins, self._fresh_builtins
        if not self.comparable or len(builtins_now) != len(then):
            return False
        if any(builtins_now.get(k, then) is not v for k, v in then.items()):  # its values are the real builtins
            return False
        for name, (snapshot, original, code) in self._fresh.items():
            if sys.modules.get(name) is not original or module_code(name) is not code:
                return False
            if snapshot is None or not snapshot.unchanged():
                return False
        return True

    def _snapshot(self, copy: types.ModuleType) -> Snapshot | None:
        """What ``copy`` holds now, for ``unchanged``; the other copies and the builtins have their own."""
        if not self.comparable:
            return None
        mine = {id(m) for m in self.modules.values()}
        scopes = {id(vars(m)) for m in self.modules.values()}

        def inside(obj: object) -> bool:
            if isinstance(obj, types.ModuleType):
                return id(obj) in mine
            if isinstance(obj, types.FunctionType):
                return id(obj.__globals__) in scopes
            return getattr(obj, "__module__", None) in self.names

        others = [m for m in self.modules.values() if m is not copy]
        try:
            return Snapshot(copy, inside, stop=[self, self._builtins, *others])
        except NotComparable:
            self.comparable = False
            return None

    def functions(self, fns: Iterable[DurableFunction[..., Any]]) -> list[DurableFunction[..., Any]]:
        """Each of ``fns`` as this incarnation's copy defines it (found by qualified name); a function
        not found at module level in its copy (e.g. defined inside a test function) is kept as is."""
        out = []
        for fn in fns:
            found = self._twin(fn)
            out.append(found if isinstance(found, DurableFunction) and found.name == fn.name else fn)
        return out

    def same(self, obj: Any) -> Any:
        """``obj`` (a class or function, e.g. a dependency factory) as this incarnation's copy of its
        module defines it, found by qualified name; kept as is if its module is not isolated or the
        name is not found there (a lambda, a function defined inside another)."""
        found = self._twin(obj)
        return found if found is not None and callable(found) else obj

    def _twin(self, obj: Any) -> Any:
        module, qualname = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
        if module not in self.names or not isinstance(qualname, str):
            return None
        found: Any = self.module(module)
        for part in qualname.split("."):
            found = getattr(found, part, None)
        return found

    def _import(self, name: str, globals: Mapping[str, Any] | None = None, locals: Any = None,
                fromlist: Any = (), level: int = 0) -> types.ModuleType:
        if level == 0 and name in STAND_INS:
            return STAND_INS[name]
        absolute = name
        if level:
            package = (globals or {}).get("__package__") or ""
            absolute = importlib.util.resolve_name("." * level + name, package)
        if absolute in self.names and (fromlist or "." not in absolute):
            return self.module(absolute)
        result: types.ModuleType = _real_import(name, globals, locals, fromlist, level)
        subs = {n: f"{absolute}.{n}" for n in (fromlist or ()) if f"{absolute}.{n}" in self.names}
        if subs:  # `from package import isolated_submodule`: a view of the package with our copies
            view = types.ModuleType(result.__name__, result.__doc__)
            view.__dict__.update(vars(result))
            for attr, full in subs.items():
                setattr(view, attr, self.module(full))
            return view
        return result


class FreshRegistry(Registry):
    """A process incarnation's registry of the scenario's functions, taken from its fresh module copies
    the first time a function is looked up. An incarnation that never runs a body (idle, or crashed
    before it acquired a task) then never executes the user's modules: a copy costs a module's import
    (attrs classes, decorators), a large share of a small world. The copy a body sees is the same
    as when it was made at start-up; only when module-level code runs moves, as a slower import would.
    """

    def __init__(self, fresh: FreshModules, fns: Iterable[DurableFunction[..., Any]]) -> None:
        super().__init__()
        self._fresh: FreshModules | None = fresh
        self._pending = tuple(fns)

    def _load(self) -> None:
        if self._fresh is not None:
            for fn in self._fresh.functions(self._pending):  # a copy that fails to import raises each time
                super().register(fn)
            self._fresh = None

    def register(self, fn: DurableFunction[Any, Any]) -> None:
        self._load()
        super().register(fn)

    def get(self, name: str) -> DurableFunction[Any, Any]:
        self._load()
        return super().get(name)

    def __contains__(self, name: object) -> bool:
        self._load()
        return super().__contains__(name)

    def names(self) -> list[str]:
        self._load()
        return super().names()
