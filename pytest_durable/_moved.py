"""The old module paths of the pytest face, which moved to ``pytest_durable.testing`` in 0.2: for one
release, importing an old path warns (``DeprecationWarning``, naming the new path) and gives the new
module itself, so both names are one module object.

A finder on ``sys.meta_path`` rather than a shim file per old path: the top of the package keeps only
the runtime, and the table below is the whole list. Importing this module imports no pytest or
hypothesis; an old path imports its new module only when it is imported. ``python -m`` of an old path
runs the new module's code as ``__main__``, after one line on stderr naming the new path
(``python -m pytest_durable.live.pgserver`` still starts a server).

One old path is a stand-in instead: ``pytest_durable.plugin``. pytest registers a plugin module under
the name it loaded it by, and refuses one module under two names, so ``-p pytest_durable.plugin`` (a
0.1 spelling, kept in reproduce lines) beside the entry point's ``pytest_durable.testing.plugin`` would
stop the run. Its stand-in names the new plugin in its ``pytest_plugins`` and forwards its public
attributes to it (``-W error::pytest_durable.plugin.UnmarkedDurableSimWarning`` still resolves).
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import types
import warnings
from collections.abc import Sequence
from typing import Any

#: Old module path -> new module path.
MOVED = {
    "pytest_durable.assertions": "pytest_durable.testing.assertions",
    "pytest_durable.harness": "pytest_durable.testing.harness",
    "pytest_durable.hookspecs": "pytest_durable.testing.hookspecs",
    "pytest_durable.live.pgserver": "pytest_durable.testing.pgserver",
    "pytest_durable.plugin": "pytest_durable.testing.plugin",
    "pytest_durable.profiles": "pytest_durable.testing.profiles",
    "pytest_durable.progress": "pytest_durable.testing.progress",
    "pytest_durable.regression": "pytest_durable.testing.regression",
    "pytest_durable.stateful": "pytest_durable.testing.stateful",
    "pytest_durable.strategies": "pytest_durable.testing.strategies",
}

#: Old paths served by a stand-in module that loads and forwards to the new one (see above).
STAND_INS = frozenset({"pytest_durable.plugin"})


class MovedFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds an old path of ``MOVED`` and loads it as its new module (imported, then returned as is), or
    as a stand-in for it."""

    def find_spec(self, fullname: str, path: Sequence[str] | None = None,
                  target: types.ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        if fullname not in MOVED:
            return None
        return importlib.machinery.ModuleSpec(fullname, self)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        new = MOVED[spec.name]
        # stacklevel 2 names the line that imported the old path: warnings skips importlib's own frames
        warnings.warn(f"{spec.name} has moved to {new}; import it from there (the old path is an alias, "
                      "kept for one release)", DeprecationWarning, stacklevel=2)
        if spec.name in STAND_INS:
            return stand_in(spec.name, new)
        module = importlib.import_module(new)
        spec.loader_state = module.__spec__  # the import system sets ``module.__spec__ = spec`` next
        return module

    def get_code(self, fullname: str) -> types.CodeType | None:
        """``python -m`` of an old path (``runpy`` asks for code, not a module): the new module's code,
        which runs as ``__main__``; the notice goes to stderr, where a command-line user sees it."""
        new = MOVED[fullname]
        print(f"python -m {fullname}: moved to {new}; running that (the old path is an alias, kept for one "
              "release)", file=sys.stderr)
        spec = importlib.util.find_spec(new)
        get_code = getattr(spec.loader, "get_code", None) if spec is not None else None
        code: types.CodeType | None = get_code(new) if get_code is not None else None
        return code

    def exec_module(self, module: types.ModuleType) -> None:
        """Nothing to run (the new module ran when imported); give it back its own spec, which names it."""
        alias = module.__spec__
        if alias is not None and alias.loader is self and alias.loader_state is not None:
            module.__spec__ = alias.loader_state


def stand_in(name: str, plugin: str) -> types.ModuleType:
    """A module ``name`` that pytest registers as a plugin holding no hooks of its own, loading ``plugin``
    through its ``pytest_plugins`` (so pytest imports it, after marking it for assertion rewriting); a
    public attribute is ``plugin``'s, imported then."""
    module = types.ModuleType(name, f"Stand-in for {plugin}, its 0.1 path (see pytest_durable._moved).")
    module.pytest_plugins = [plugin]  # type: ignore[attr-defined]

    def forward(attribute: str) -> Any:
        if attribute.startswith("_"):  # what the import system and pytest probe for (__path__, _mock_name, ...)
            raise AttributeError(f"module {name!r} has no attribute {attribute!r}")
        return getattr(importlib.import_module(plugin), attribute)

    module.__getattr__ = forward  # type: ignore[method-assign]
    return module


def install() -> None:
    """Put the finder last on ``sys.meta_path`` (once): it answers only names no other finder found."""
    if not any(isinstance(finder, MovedFinder) for finder in sys.meta_path):
        sys.meta_path.append(MovedFinder())
