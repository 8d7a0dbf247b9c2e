"""The deploy commands' bad input: each is one ``error:`` line naming what is at fault and exit 2, never a
traceback; a store with nothing to check and a patch nobody asked about are notes, exit 0."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_durable.live import open_store
from pytest_durable.live.cli import main
from tests.helpers.histories import read_now
from tests.helpers.worlds import new_store, new_worker, run_to_end, run_world


@pytest.fixture
def histories(tmp_path: Path) -> Path:
    """One exported history of version 1, settled."""
    import examples.deploy.orders_v1 as v1
    from pytest_durable.live.histories import write_histories
    from pytest_durable.sdk import DurableFunction

    store = new_store()
    fns = [v for v in vars(v1).values() if isinstance(v, DurableFunction)]
    run_world(lambda: run_to_end(new_worker(store, fns), "order-9", v1.fulfil, "order-9", 1))
    write_histories(tmp_path / "h", read_now(store))
    return tmp_path / "h"


@pytest.fixture
def broken_module(tmp_path: Path) -> Iterator[str]:
    (tmp_path / "mods").mkdir()
    (tmp_path / "mods" / "raises_on_import.py").write_text("raise RuntimeError('no config file')\n")
    sys.path.insert(0, str(tmp_path / "mods"))
    yield "raises_on_import"
    sys.path.remove(str(tmp_path / "mods"))
    sys.modules.pop("raises_on_import", None)


def error_of(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    code = main(list(argv))
    out = capsys.readouterr()
    lines = out.err.splitlines()
    assert (code, len(lines), out.out) == (2, 1, ""), out
    assert lines[0].startswith("error: ")
    return lines[0].removeprefix("error: ")


def test_bad_modules(capsys: pytest.CaptureFixture[str], histories: Path, broken_module: str,
                     tmp_path: Path) -> None:
    source = ("--histories", str(histories))
    assert error_of(capsys, "check-deploy", "no_such_module", *source) == (
        "check-deploy: no module named 'no_such_module' (run from the directory that holds it, or put it on "
        "PYTHONPATH)")
    file = Path(next(p for p in sys.path if Path(p, "raises_on_import.py").exists()), "raises_on_import.py")
    assert error_of(capsys, "check-deploy", broken_module, *source) == (
        f"check-deploy: module 'raises_on_import' failed to import: RuntimeError: no config file (at {file}:1)")
    assert error_of(capsys, "worker", broken_module, "--store", f"sqlite:///{tmp_path / 'w.db'}") == (  # a worker too
        f"worker: module 'raises_on_import' failed to import: RuntimeError: no config file (at {file}:1)")
    assert error_of(capsys, "check-patch", "fraud-check", "json", *source) == (
        "check-patch: module 'json' defines no @function; name the module that does")


def test_bad_sources(capsys: pytest.CaptureFixture[str], tmp_path: Path, histories: Path) -> None:
    v2 = "examples.deploy.orders_v2_leaf_only"
    missing = tmp_path / "missing.db"
    assert error_of(capsys, "check-deploy", v2, "--store", f"sqlite:///{missing}") == (
        f"check-deploy: no store file '{missing}' (from sqlite:///{missing}); name an existing store with --store URL")
    assert not missing.exists()  # checking never makes a store
    (tmp_path / "notes.db").write_text("not a database")
    assert error_of(capsys, "export", "--out", str(tmp_path / "o"), "--store", f"sqlite:///{tmp_path / 'notes.db'}"
                    ).startswith(f"export: cannot open the store sqlite:///{tmp_path / 'notes.db'}: ")
    assert error_of(capsys, "check-deploy", v2, "--histories", str(tmp_path / "nowhere")) == (
        f"--histories {tmp_path / 'nowhere'}: no such file or directory")
    (tmp_path / "empty").mkdir()
    assert error_of(capsys, "check-deploy", v2, "--histories", str(tmp_path / "empty")).startswith(
        f"--histories {tmp_path / 'empty'}: no history files (*.json) in this directory")
    (histories / "stray.json").write_text("[1, 2]")
    assert error_of(capsys, "check-deploy", v2, "--histories", str(histories)) == (
        f"{histories / 'stray.json'}: not a history file (no \"format\": 'pytest-durable-history'); write one with "
        "`python -m pytest_durable export`")
    assert error_of(capsys, "check-deploy", v2, "--histories", str(histories), "--store", "sqlite:///x.db") == (
        "check-deploy: give --store or --histories, not both")


def test_roots_and_patch_ids(capsys: pytest.CaptureFixture[str], tmp_path: Path, histories: Path) -> None:
    url = f"sqlite:///{tmp_path / 'app.db'}"
    open_store(url).close()  # an empty store: nothing recorded, nothing can break
    assert main(["check-deploy", "examples.deploy.orders_v2_reordered", "--store", url]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "0 roots checked: 0 compatible, 0 broken (0 in flight)", "note: no root to check: nothing recorded can break"]
    patched = "examples.deploy.orders_v2_patched"
    assert error_of(capsys, "check-patch", "fraud check", patched, "--store", url) == (
        "check-patch: 'fraud check' is not a patch id (ctx.patched ids have no white space, '.' or '/')")
    # the histories hold one settled root: nothing in flight, so any patch may go
    assert main(["check-patch", "fraud-check", patched, "--histories", str(histories)]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "patch 'fraud-check' may be retired: no execution in flight takes its old path (0 in flight checked)"]


def test_a_roots_glob_that_matches_nothing_is_named(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'app.db'}"
    assert main(["--store", url, "run", "order-1", "examples.deploy.orders_v1:fulfil", '["order-1", 1]']) == 0
    assert capsys.readouterr().out.startswith("order-1 started: fulfil")
    assert error_of(capsys, "check-deploy", "examples.deploy.orders_v1", "--store", url, "--roots", "ordr-*") == (
        "check-deploy: --roots 'ordr-*' matches none of the 1 roots in the store")
    assert main(["check-deploy", "examples.deploy.orders_v1", "--store", url, "--roots", "order-*"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "order-1 (pending): compatible; next: fulfil order-1.0 ctx.run(reserve('order-1', 0))",
        "1 root checked: 1 compatible, 0 broken (1 in flight)"]


def test_setup_hands_the_replays_a_workers_dependencies(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from pytest_durable import Worker
    from pytest_durable.live.histories import write_histories
    from tests.helpers import deploy_dependencies as app

    store = new_store()
    worker = Worker(store, clock=store.clock)
    worker.register(app.priced_order, app.unit_price)
    app.setup(worker)
    run_world(lambda: run_to_end(worker, "p-1", app.priced_order, 2))
    write_histories(tmp_path / "h", read_now(store))
    argv = ["check-deploy", "tests.helpers.deploy_dependencies", "--histories", str(tmp_path / "h")]
    assert main([*argv, "--setup", "tests.helpers.deploy_dependencies:setup"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == "p-1 (resolved): compatible"
    assert main(argv) == 1  # without it, the replay cannot read the rate: it cannot vouch for the root
    assert "raised MissingDependency: " in capsys.readouterr().out
    assert error_of(capsys, *argv, "--setup", "tests.helpers.deploy_dependencies:nothing") == (
        "check-deploy --setup: 'nothing' in module 'tests.helpers.deploy_dependencies' is not defined")
