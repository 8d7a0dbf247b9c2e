"""Every check in one place: the catalog in ``sim/checks/catalog.py`` lists every check a world can
report, the architecture document's table gives the same list in the same order, and ``cause_first``
orders a report by the catalog's ranks."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from pytest_durable.core.records import PromiseRecord, PromiseState
from sim.checks import CATALOG, CAUSES, Violation, cause_first

ROOT = Path(__file__).resolve().parents[2]


def _reported_checks() -> set[str]:
    """The check names sim's code gives a violation: ``Violation("name", ...)``, ``report("name", ...)``,
    and the kinds ``error_kind`` returns."""
    names: set[str] = set()
    for path in ROOT.joinpath("sim").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
                func = node.func
                called = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
                if called in ("Violation", "report") and isinstance(node.args[0].value, str):
                    names.add(node.args[0].value)
            if isinstance(node, ast.FunctionDef) and node.name == "error_kind":
                returned = [n.value for n in ast.walk(node) if isinstance(n, ast.Return)]
                names |= {r.value for r in returned if isinstance(r, ast.Constant) and isinstance(r.value, str)}
    return names


def test_every_check_the_code_reports_is_in_the_catalog() -> None:
    reported = _reported_checks()
    assert {"settled-once", "liveness", "nondeterminism", "task-invariants", "user"} <= reported  # the scan sees them
    assert reported <= {check.name for check in CATALOG}


def test_the_catalog_names_each_check_once_in_report_order() -> None:
    names = [check.name for check in CATALOG]
    assert len(names) == len(set(names))
    assert [check.rank for check in CATALOG] == sorted(check.rank for check in CATALOG)
    assert set(CAUSES) <= {check.name for check in CATALOG if check.rank == 0}


def test_the_architecture_document_lists_the_catalog_in_its_order() -> None:
    text = ROOT.joinpath("docs", "architecture.md").read_text()
    section = text.split("### What a verdict checks", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| (\d+) \| ([a-z-]+) \| (\d+) \|", section, re.M)
    assert [(int(rank), name, int(number)) for rank, name, number in rows] == [
        (check.rank, check.name, check.number) for check in CATALOG]


def test_cause_first_orders_a_report_by_rank_and_keeps_the_order_found_within_one() -> None:
    found = [Violation(name, str(i)) for i, name in enumerate(
        ["liveness", "outcome", "user", "replay-value", "settled-once", "stuck-body", "task-invariants"])]
    resolved = PromiseRecord("root", PromiseState.RESOLVED, "{}", "1", 0.0, settled_on=1.0)
    assert [v.check for v in cause_first(found, resolved)] == [
        "stuck-body", "settled-once", "task-invariants", "replay-value", "user", "outcome", "liveness"]
    rejected = PromiseRecord("root", PromiseState.REJECTED, "{}", "1", 0.0, settled_on=1.0)
    assert [v.check for v in cause_first(found, rejected)][4:6] == ["outcome", "user"]  # the error says why
