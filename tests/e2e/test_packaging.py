"""The front door and the layering: README commands, CI script, public API, no import cycles."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import grimp

import pytest_durable

ROOT = Path(__file__).resolve().parents[2]


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    block = re.search(r"```bash\n(.*?)```", text, re.S)
    assert block is not None, "README.md must start with a bash block of set-up commands"
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_readme_starts_with_exactly_two_setup_commands() -> None:
    commands = readme_commands()
    assert len(commands) == 2
    assert "examples/fan_out_fan_in.py" in commands[0]
    assert " -m pytest" in commands[1]


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert readme_commands()[1] in ci


def test_the_example_runs_as_a_script(tmp_path: Path) -> None:
    """It runs on a SQLite file in the working directory; run again, it replays the stored result."""
    for _ in range(2):
        out = subprocess.run(
            [sys.executable, str(ROOT / "examples" / "fan_out_fan_in.py")], capture_output=True, text=True,
            check=True, cwd=tmp_path,
        ).stdout.splitlines()
        assert out == [f"Processed: item-{i} (item #{i})" for i in range(3)]
    assert (tmp_path / "fan_out_fan_in.db").exists()
    out = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "fan_out_fan_in.py"), "7"], capture_output=True, text=True,
        check=True, cwd=tmp_path,
    ).stdout.splitlines()
    assert out == [f"Processed: item-{i} (item #{i})" for i in range(7)]


def test_the_example_killed_half_way_resumes_and_runs_only_the_unfinished_items(tmp_path: Path) -> None:
    """The README's promise: kill -9 it mid-way, run it again, it resumes; finished items do not run again."""
    import signal
    import time

    from pytest_durable.live import open_store

    argv = [sys.executable, str(ROOT / "examples" / "fan_out_fan_in.py"), "30", "--pace", "0.1"]
    first = subprocess.Popen(argv, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    store = None
    deadline = time.monotonic() + 60
    done: set[str] = set()
    while time.monotonic() < deadline and len(done) < 5:
        time.sleep(0.05)
        if store is None and (tmp_path / "fan_out_fan_in.db").exists():
            store = open_store(f"sqlite:///{tmp_path / 'fan_out_fan_in.db'}")
        if store is not None:
            done = {r.id for r in store.promises() if r.settled and r.id.startswith("fan-out-fan-in-30.")}
    first.send_signal(signal.SIGKILL)
    first.wait()
    assert store is not None
    done = {r.id for r in store.promises() if r.settled and r.id.startswith("fan-out-fan-in-30.")}
    assert 5 <= len(done) < 30
    second = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, check=True, timeout=120)
    assert second.stdout.splitlines() == [f"Processed: item-{i} (item #{i})" for i in range(30)]
    ran = {f"fan-out-fan-in-30.{line.split('#')[1]}" for line in second.stderr.splitlines() if "running item" in line}
    assert ran and not ran & done, (sorted(ran & done), second.stderr)
    assert ran | done == {f"fan-out-fan-in-30.{i}" for i in range(30)}


def test_public_api_is_exported_and_typed() -> None:
    for name in pytest_durable.__all__:
        assert hasattr(pytest_durable, name), name
    assert (ROOT / "pytest_durable" / "py.typed").exists()


# -- the layers -------------------------------------------------------------------------------------------
# What may import what is import-linter's to check (the contracts in pyproject.toml; `.ci/run` runs
# `lint-imports` too). These tests run it, keep the contracts covering every package, and forbid import
# cycles between modules, counting imports inside functions and under `if TYPE_CHECKING:`.


def _contracts() -> list[dict[str, Any]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    contracts: list[dict[str, Any]] = config["tool"]["importlinter"]["contracts"]
    return contracts


def test_the_layer_contracts_hold() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run([str(lint)], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert f"Contracts: {len(_contracts())} kept, 0 broken." in done.stdout


def test_every_package_of_the_simulator_is_in_a_layer() -> None:
    """A new sub-package of sim/ outside the contract would be free to import anything."""
    (inner,) = [c for c in _contracts() if c.get("containers") == ["sim"]]
    layered = {name.strip() for layer in inner["layers"] for name in layer.split("|")}
    packages = {p.parent.name for p in ROOT.joinpath("sim").glob("*/__init__.py")}
    assert layered == packages


def _cycles(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """The strongly connected components of ``graph`` with more than one module (Tarjan's algorithm),
    each sorted, and modules that import themselves."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for dep in sorted(graph.get(node, ())):
            if dep not in index:
                visit(dep)
                low[node] = min(low[node], low[dep])
            elif dep in on_stack:
                low[node] = min(low[node], index[dep])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph.get(node, ()):
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_cycle_finder_finds_cycles() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a", "d"}, "e": set()}
    assert sorted(_cycles(graph)) == [["a", "b", "c"], ["d"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles_between_modules() -> None:
    """Every import counts: at the top, inside a function, under ``if TYPE_CHECKING:``. A package's face
    (its ``__init__``) imports its modules, so a module importing its own package's face is a cycle too."""
    graph = grimp.build_graph("pytest_durable", "sim", exclude_type_checking_imports=False)
    edges = {m: graph.find_modules_directly_imported_by(m) for m in graph.modules}
    assert _cycles(edges) == []
