"""The front door and the layering: README commands, CI script, public API, no import cycles."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest_durable

ROOT = Path(__file__).resolve().parent.parent


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


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _runtime_imports(path: Path, module: str, modules: set[str]) -> set[str]:
    """Our modules that ``path`` imports at run time (``if TYPE_CHECKING:`` blocks excluded).

    ``from T import n`` depends on the submodule ``T.n`` when there is one, else on ``T`` itself.
    """
    tree = ast.parse(path.read_text())
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()

    def visit(nodes: list[ast.stmt]) -> None:
        for node in nodes:
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                continue
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")
                    base = base[: len(base) - (node.level - 1)]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                for alias in node.names:
                    sub = f"{target}.{alias.name}"
                    found.add(sub if sub in modules else target)
            elif isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            for child in ("body", "orelse", "finalbody"):
                inner = getattr(node, child, None)
                if isinstance(inner, list):
                    visit([n for n in inner if isinstance(n, ast.stmt)])
            for handler in getattr(node, "handlers", []):
                visit(handler.body)

    visit(tree.body)
    return found & modules


def _graph() -> dict[str, set[str]]:
    files = [*ROOT.joinpath("pytest_durable").rglob("*.py"), *ROOT.joinpath("sim").rglob("*.py")]
    paths = {_module_name(f): f for f in files}
    modules = set(paths)
    return {name: _runtime_imports(path, name, modules) - {name} for name, path in paths.items()}


LAYER = {"pytest_durable.core": 0, "pytest_durable.sdk": 1, "sim": 2, "pytest_durable.live": 2}


def _layer(module: str) -> int:
    for prefix, level in sorted(LAYER.items(), key=lambda kv: -len(kv[0])):
        if module == prefix or module.startswith(prefix + "."):
            return level
    return 3


def test_imports_point_down_the_layers() -> None:
    upward = [f"{m} -> {d}" for m, deps in _graph().items() for d in deps if _layer(d) > _layer(m)]
    assert upward == []


def test_no_import_cycles_between_modules() -> None:
    graph = _graph()
    # Package __init__ modules re-export their children; a child importing a sibling through the
    # package would show as a cycle, and is exactly what we forbid, so they stay in the graph.
    state: dict[str, int] = {}
    cycles: list[str] = []

    def dfs(node: str, stack: list[str]) -> None:
        state[node] = 1
        for dep in sorted(graph[node]):
            if state.get(dep) == 1:
                cycles.append(" -> ".join([*stack[stack.index(dep):], dep]))
            elif dep not in state:
                dfs(dep, [*stack, dep])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            dfs(node, [node])
    assert cycles == []
