"""The runtime does not need the test stack (issue 9 item 7): importing ``pytest_durable.core``, ``.sdk``
(and ``.live`` once it exists) or the package's public API, and running a workflow with it, loads
neither pytest nor hypothesis nor the simulator; and no runtime module imports them, even lazily."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_durable._moved import MOVED

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "pytest_durable"

#: Top-level packages the runtime must never import: the test stack and the simulator.
FORBIDDEN = ("pytest", "_pytest", "hypothesis", "sim")

#: The runtime layers (docs/architecture.md) that exist in this checkout.
RUNTIME = [name for name in ("core", "sdk", "live") if (PACKAGE / name / "__init__.py").exists()]

#: The pytest face, and its old module paths (aliases of it, ``pytest_durable._moved``): the runtime never
#: imports them either.
FACE = ("pytest_durable.testing", *MOVED)

PROBE = """
import json, sys
{statement}
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in {forbidden!r})))
"""

#: A whole workflow run on an in-process Worker, through the documented public API only.
WORKFLOW = """
import trio
from pytest_durable import Context, Worker, function

@function
async def double(x: int) -> int:
    return 2 * x

@function
async def twice(ctx: Context, x: int) -> int:
    return await ctx.run(double, x) + await ctx.run(double, x)

async def main() -> None:
    worker = Worker(poll_interval=0.01)
    worker.register(double, twice)
    async with worker.running():
        handle = await worker.run("w", twice, 5)
        assert await handle.result() == 20

trio.run(main)
"""


def loaded_after(statement: str) -> list[str]:
    """The forbidden modules in ``sys.modules`` of a fresh interpreter after running ``statement``."""
    out = subprocess.run(
        [sys.executable, "-c", PROBE.format(statement=statement, forbidden=FORBIDDEN)],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )
    assert out.returncode == 0, out.stderr
    loaded: list[str] = json.loads(out.stdout.splitlines()[-1])
    return loaded


@pytest.mark.parametrize("layer", RUNTIME)
def test_importing_a_runtime_layer_loads_no_test_stack(layer: str) -> None:
    assert loaded_after(f"import pytest_durable.{layer}") == []


def test_the_public_api_loads_no_test_stack() -> None:
    assert loaded_after("from pytest_durable import function, Context, Worker, MemoryStore, dependency") == []


def test_running_a_workflow_loads_no_test_stack() -> None:
    assert loaded_after(WORKFLOW) == []


def test_the_probe_sees_a_module_that_is_loaded() -> None:
    """The probe is not blind: a statement that does import pytest is reported."""
    assert "pytest" in loaded_after("import pytest_durable.testing.plugin")


def _imports(path: Path, source: str | None = None) -> list[tuple[int, str]]:
    """Every import in ``path`` (module level, in functions, under ``TYPE_CHECKING``), as (line, absolute
    module name); relative imports are resolved against the module's package."""
    package = list(path.relative_to(ROOT).parent.parts)  # a module's package, or an __init__'s own
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text() if source is None else source)):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.extend((node.lineno, f"{target}.{alias.name}") for alias in node.names)
    return found


def _offending(module: str) -> bool:
    if module.split(".")[0] in FORBIDDEN:
        return True
    return any(module == face or module.startswith(face + ".") for face in FACE)


def runtime_files() -> list[Path]:
    """The runtime's source files: its layers, and the package ``__init__`` every import of them runs with
    the alias finder it installs."""
    return [PACKAGE / "__init__.py", PACKAGE / "_moved.py",
            *(f for layer in RUNTIME for f in sorted((PACKAGE / layer).rglob("*.py")))]


def test_runtime_modules_never_import_the_test_stack_or_the_simulator() -> None:
    bad = [f"{path.relative_to(ROOT)}:{line} imports {module}"
           for path in runtime_files() for line, module in _imports(path) if _offending(module)]
    assert bad == []


def test_the_static_check_catches_an_import() -> None:
    """The check is not blind: lazy, aliased and relative imports of the test stack are all seen."""
    source = ("def f():\n    import hypothesis.strategies as st\n    from ..testing.plugin import fixtures\n"
              "    from .. import assertions\n    from ..live.pgserver import PgServer\n")
    found = [m for _, m in _imports(PACKAGE / "sdk" / "probe.py", source) if _offending(m)]
    assert found == ["hypothesis.strategies", "pytest_durable.testing.plugin.fixtures", "pytest_durable.assertions",
                     "pytest_durable.live.pgserver.PgServer"]
