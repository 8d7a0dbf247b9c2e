"""The pytest face lives in ``pytest_durable.testing`` (0.2): its old module paths still import, for one
release, as the new module itself (the old plugin path: a stand-in that loads it, for ``-p``) with a
``DeprecationWarning`` naming the new path, and the runtime still imports no test stack;
``pytest_durable.testing`` names what users write, each imported on first use; the plugin package
registers every module of it that holds a hook or a fixture."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import pytest_durable.testing
import pytest_durable.testing.plugin
from pytest_durable._moved import MOVED, STAND_INS

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[2]

#: Imports every old path in a fresh interpreter, each in one of the two ways users write it, and
#: prints what it saw: whether the old name is the new module, its spec's name, and the warnings.
PROBE = """
import importlib, json, sys, warnings
from pytest_durable._moved import MOVED
seen = {}
for old, new in MOVED.items():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        parent, _, leaf = old.rpartition(".")
        module = getattr(__import__(parent, fromlist=[leaf]), leaf) if leaf == "assertions" else None
        if module is None:
            exec(f"import {old}")
            module = sys.modules[old]
    seen[old] = {"same": module is importlib.import_module(new), "spec": module.__spec__.name,
                 "warnings": [(w.category.__name__, str(w.message), w.filename) for w in caught]}
print(json.dumps(seen))
"""


def fresh(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()[-1]


def test_every_old_path_is_its_new_module_and_warns_once_naming_it() -> None:
    seen = json.loads(fresh(PROBE))
    assert set(seen) == set(MOVED)
    for old, new in MOVED.items():
        if old in STAND_INS:
            assert not seen[old]["same"] and seen[old]["spec"] == old, old
        else:
            assert seen[old]["same"], old
            assert seen[old]["spec"] == new, old  # the module keeps its own spec: the alias is only another name
        deprecations = [w for w in seen[old]["warnings"] if w[0] == "DeprecationWarning" and old in w[1]]
        assert len(deprecations) == 1, (old, seen[old]["warnings"])
        _, message, filename = deprecations[0]
        assert f"{old} has moved to {new}" in message
        assert filename == "<string>", f"{old}: the warning names {filename}, not the line that imported it"


def test_python_dash_m_with_an_old_path_runs_the_new_module_and_says_so() -> None:
    """``python -m pytest_durable.live.pgserver`` (the 0.1 by-hand command) runs the new module as
    ``__main__``: given an argument, its own usage line and exit 2, after one line naming the new path."""
    done = subprocess.run([sys.executable, "-m", "pytest_durable.live.pgserver", "extra"], capture_output=True,
                          text=True, cwd=ROOT, timeout=60)
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [
        "python -m pytest_durable.live.pgserver: moved to pytest_durable.testing.pgserver; running that (the old "
        "path is an alias, kept for one release)",
        "usage: python -m pytest_durable.testing.pgserver  (takes no arguments)",
    ]


def test_the_old_paths_are_the_modules_that_moved() -> None:
    """Each old path names a module that exists at its new path and no longer at its old one."""
    for old, new in MOVED.items():
        assert (ROOT / (new.replace(".", "/") + ".py")).exists() or (ROOT / new.replace(".", "/")).is_dir(), new
        assert not (ROOT / (old.replace(".", "/") + ".py")).exists(), old


def test_importing_the_runtime_installs_the_aliases_and_imports_no_test_stack() -> None:
    code = ("import json, sys, importlib.util\nimport pytest_durable\n"
            "from pytest_durable._moved import MovedFinder\n"
            "found = importlib.util.find_spec('pytest_durable.assertions')\n"
            "print(json.dumps([any(isinstance(f, MovedFinder) for f in sys.meta_path), found is not None,\n"
            "                  sorted(m for m in sys.modules if m.split('.')[0] in ('pytest', '_pytest', 'hypothesis',"
            " 'sim')), 'pytest_durable.testing' in sys.modules]))")
    assert json.loads(fresh(code)) == [True, True, [], False]


def test_an_old_path_under_dash_w_still_names_the_warning(pytester: pytest.Pytester) -> None:
    """``-W error::pytest_durable.plugin.UnmarkedDurableSimWarning`` (the 0.1 spelling) still fails an
    unmarked test that used durable_sim."""
    pytester.makepyfile(test_unmarked="""
        from pytest_durable import function

        @function
        async def job(x: int) -> int:
            return x

        def test_unmarked(durable_sim):
            durable_sim.run(job, 1, id="job")
    """)
    for category in ("pytest_durable.plugin.UnmarkedDurableSimWarning",
                     "pytest_durable.testing.UnmarkedDurableSimWarning"):
        result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-W", f"error::{category}")
        result.assert_outcomes(failed=1)
        result.stdout.fnmatch_lines(["*UnmarkedDurableSimWarning: test_unmarked has no @pytest.mark.durable*"])


def test_the_old_plugin_path_is_a_stand_in_that_loads_the_plugin() -> None:
    """One module cannot be a pytest plugin under two names: ``pytest_durable.plugin`` is a stand-in that
    names the new plugin package in its ``pytest_plugins`` and forwards its public names to it."""
    code = ("import json, warnings\nwarnings.simplefilter('ignore')\nimport pytest_durable.plugin as old\n"
            "import pytest_durable.testing.plugin as new\n"
            "print(json.dumps([old.pytest_plugins, old.UnmarkedDurableSimWarning is new.UnmarkedDurableSimWarning,\n"
            "                  hasattr(old, '__path__'), hasattr(old, 'pytest_addhooks')]))")
    assert json.loads(fresh(code)) == [["pytest_durable.testing.plugin"], True, False, True]


@pytest.mark.parametrize("autoload", [True, False], ids=["autoload", "no-autoload"])
def test_dash_p_with_the_old_plugin_path_still_loads_the_plugin_once(pytester: pytest.Pytester,
                                                                     monkeypatch: pytest.MonkeyPatch,
                                                                     autoload: bool) -> None:
    """``-p pytest_durable.plugin`` (0.1), with the entry point loading the package too or without it."""
    pytester.makepyfile(test_marked="""
        import pytest
        from pytest_durable import function

        @function
        async def job(x: int) -> int:
            return x

        @pytest.mark.durable(seeds=3)
        def test_marked(durable_sim):
            assert durable_sim.run(job, 1, id="job").value == 1
    """)
    if not autoload:
        monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "pytest_durable.plugin", "--durable-seed=5")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["durable: seed=5; *",
                                 "durable: * simulated worlds ran (seed=5): 1 fault-free, * 3 swarm"])
    out = result.stdout.str()
    assert "DeprecationWarning: pytest_durable.plugin has moved to pytest_durable.testing.plugin" in out
    assert "1 warning" in out  # that one: no 'already registered', no 'cannot be rewritten'


def test_the_face_names_what_users_write_from_its_modules() -> None:
    face = pytest_durable.testing
    for name in face.__all__:
        home = face._HOMES[name]
        module = sys.modules.get(f"pytest_durable.testing.{home}") or __import__(
            f"pytest_durable.testing.{home}", fromlist=[name])
        assert getattr(face, name) is getattr(module, name), name
    assert set(face.__all__) <= set(dir(face))
    with pytest.raises(AttributeError, match="has no attribute 'nothing'"):
        face.nothing  # noqa: B018
    assert pytest_durable.testing.plugin.UnmarkedDurableSimWarning is face.UnmarkedDurableSimWarning


def test_importing_one_module_of_the_face_imports_no_other() -> None:
    """``pgserver`` (the standard library only) stays light: the face's names are imported on first use."""
    code = ("import json, sys\nimport pytest_durable.testing.pgserver\n"
            "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('pytest', 'hypothesis', 'sim')"
            " or m.startswith('pytest_durable.testing.') and m != 'pytest_durable.testing.pgserver')))")
    assert json.loads(fresh(code)) == []


def _defines_hooks_or_fixtures(path: Path) -> bool:
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.FunctionDef) and (node.name.startswith("pytest_") or any(
                "fixture" in ast.unparse(d) for d in node.decorator_list)):
            return True
    return False


def test_the_plugin_package_registers_every_module_with_a_hook_or_a_fixture() -> None:
    package = ROOT / "pytest_durable" / "testing" / "plugin"
    modules = {f"pytest_durable.testing.plugin.{p.stem}" for p in package.glob("*.py")
               if p.stem != "__init__" and _defines_hooks_or_fixtures(p)}
    assert modules == set(pytest_durable.testing.plugin.pytest_plugins)
