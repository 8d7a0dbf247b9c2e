"""The deploy check as a test suite runs it (issue 24, item 2): ``durable_histories`` makes one test item
per exported history, ``assert_compatible`` fails an item with the report ``check-deploy`` prints for its
root and passes a compatible one, and a bad path, file or module is one line. Driven through
``pytester`` over histories version 1 of ``examples/deploy`` recorded in a store: one root in flight
(past the charge, waiting for the pick-up slot) and one completed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import pytest_durable.testing.histories  # noqa: F401  (below)
from examples.deploy import orders_v1
from pytest_durable.live.histories import write_histories
from tests.helpers.histories import read_now
from tests.helpers.worlds import new_store, new_worker, run_then_crash, run_to_end
from tests.helpers.worlds import run_world as run_live

pytest_plugins = ["pytester"]

# The module the inline pytester runs below import is imported at collection: a module first imported
# inside an inline run leaves sys.modules with the run, and the face (``pytest_durable.testing``) would
# keep a function of that stale copy, which tests/plugin/test_moved.py would then see differ.

ROOT = Path(__file__).resolve().parents[2]
V1 = [orders_v1.reserve, orders_v1.charge, orders_v1.ship, orders_v1.fulfil]

TESTS = '''
import pytest

from examples.deploy import orders_v2_patched
from pytest_durable.testing import assert_compatible, durable_histories


@pytest.mark.parametrize("history", durable_histories("histories"))
def test_reordered(history):
    assert_compatible(history, "examples.deploy.orders_v2_reordered")


@pytest.mark.parametrize("history", durable_histories("histories"))
def test_patched(history):
    check = assert_compatible(history, orders_v2_patched)
    assert check.old_paths == (("fraud-check",) if history.root == "order-1" else ())
'''


def export_v1(out: Path) -> None:
    """Record two roots of version 1 in a store and export their histories to ``out``: ``order-1`` stops
    in its pick-up wait (its worker crashes), ``order-2`` completes."""
    store = new_store()

    async def main() -> None:
        await run_to_end(new_worker(store, V1), "order-2", orders_v1.fulfil, "order-2", 1)
        await run_then_crash(new_worker(store, V1), "order-1", orders_v1.fulfil, "order-1", 2, at=1)

    run_live(main)
    assert [h.root for h in read_now(store, in_flight=True)] == ["order-1"]
    assert len(write_histories(out, read_now(store))) == 2


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    """A pytester project whose ``histories/`` holds the exported histories of version 1."""
    export_v1(pytester.path / "histories")
    pytester.syspathinsert()
    return pytester


def check_deploy(histories: Path, module: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pytest_durable", "check-deploy", "--histories", str(histories),
                           module], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True,
                          text=True, timeout=120)


def test_one_item_per_history_and_a_failing_one_shows_the_report_check_deploy_prints(project: pytest.Pytester
                                                                                    ) -> None:
    project.makepyfile(test_deploy=TESTS)
    result = project.runpytest("-p", "no:randomly", "-v")
    result.assert_outcomes(passed=2, failed=2)
    result.stdout.fnmatch_lines(["*test_reordered?order-1? FAILED*", "*test_reordered?order-2? FAILED*",
                                 "*test_patched?order-1? PASSED*", "*test_patched?order-2? PASSED*"], consecutive=False)
    cli = check_deploy(project.path / "histories", "examples.deploy.orders_v2_reordered")
    assert cli.returncode == 1, cli
    reports = [block for block in cli.stdout.split("\n") if block]
    out = result.stdout.str()
    broken = [line for line in reports if "BREAKS" in line]
    assert len(broken) == 2, cli.stdout
    for line in reports[:-1]:  # every line of each root's report, word for word (the summary line is the CLI's)
        assert line in out.splitlines(), (line, out)
    assert "Traceback" not in out and "replay_check.py" not in out  # the report, not the check's insides


def test_a_compatible_history_passes_and_the_check_is_returned(project: pytest.Pytester) -> None:
    project.makepyfile(test_deploy='''
        import pytest
        from pytest_durable.testing import assert_compatible, durable_histories

        @pytest.mark.parametrize("history", durable_histories("histories"))
        def test_leaf_only(history):
            check = assert_compatible(history, "examples.deploy.orders_v2_leaf_only")
            assert check.compatible and check.breaks == ()
            if history.root == "order-1":
                assert check.next_call is not None and "ship" not in check.next_call  # it waits for the pick-up
    ''')
    project.runpytest("-p", "no:randomly").assert_outcomes(passed=2)


@pytest.mark.parametrize(("setup", "call", "message"), [
    ("", 'durable_histories("nowhere")', "durable_histories('nowhere'): no such file or directory: */nowhere; "
                                         "write the histories there with `python -m pytest_durable export --out *`"),
    ("empty", 'durable_histories("empty")', "durable_histories('empty'): no history files (*.json) in */empty; *"),
    ("bad", 'durable_histories("bad")', "durable_histories('bad'): */bad/x.json: not a history file (not JSON*"),
])
def test_a_bad_path_is_one_collection_error_naming_it(pytester: pytest.Pytester, setup: str, call: str,
                                                      message: str) -> None:
    if setup:
        (pytester.path / setup).mkdir()
    if setup == "bad":
        (pytester.path / "bad" / "x.json").write_text("{not json")
    pytester.makepyfile(test_deploy=f'''
        import pytest
        from pytest_durable.testing import durable_histories

        @pytest.mark.parametrize("history", {call})
        def test_it(history):
            pass
    ''')
    result = pytester.runpytest("-p", "no:randomly")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*ERROR collecting test_deploy.py*", message])
    out = result.stdout.str()
    assert "Traceback" not in out and "histories.py" not in out, out


@pytest.mark.parametrize(("modules", "message"), [
    ('"examples.deploy.no_such_module"', "assert_compatible: no module named 'examples.deploy.no_such_module' *"),
    ('', "assert_compatible: name the modules of the new code, e.g. assert_compatible(history, 'myapp.workflows')"),
    ('"pytest"', "assert_compatible: module 'pytest' defines no @function; name the module that does"),
    ('3', "assert_compatible: 3 is neither a module nor a module name; pass e.g. 'myapp.workflows'"),
])
def test_bad_modules_fail_the_item_with_one_line(project: pytest.Pytester, modules: str, message: str) -> None:
    project.makepyfile(test_deploy=f'''
        import pytest
        from pytest_durable.testing import assert_compatible, durable_histories

        @pytest.mark.parametrize("history", durable_histories("histories/order-2.json"))
        def test_it(history):
            assert_compatible(history, {modules})
    ''')
    result = project.runpytest("-p", "no:randomly")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([message])
    assert "Traceback" not in result.stdout.str()


def test_a_history_that_is_not_one_is_named() -> None:
    from pytest_durable.testing import assert_compatible

    with pytest.raises(pytest.fail.Exception, match=r"assert_compatible: history must be a History .*, got str"):
        assert_compatible("histories/order-1.json", "examples.deploy.orders_v2_patched")  # type: ignore[arg-type]
