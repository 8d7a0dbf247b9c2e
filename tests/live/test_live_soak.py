"""kill -9 soak over a real SQLite file and a real PostgreSQL server: three worker processes, one
SIGKILLed at random every few hundred milliseconds and replaced, while fan-outs run (issue 9). The quick
variants run in the default suite; the full ones (200 kills, fan-outs of 200) run with ``-m soak``
(``.ci/run`` runs them too)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.live_soak import SoakReport, soak


def check(report: SoakReport) -> None:
    assert report.wrong_values == [], report.wrong_values  # every workflow completed with the right value
    assert report.reexecuted_after_resolve == [], report.reexecuted_after_resolve
    assert report.missing_effects == 0 and report.duplicate_effects == 0, report
    assert report.invariant_breaks == [], report.invariant_breaks


def test_kill_9_soak_over_sqlite_quick(tmp_path: Path) -> None:
    report = soak(f"sqlite:///{tmp_path / 'app.db'}", tmp_path, kills=15, workflows=3, children=60)
    print(report.line("sqlite"))
    check(report)


@pytest.mark.soak
def test_kill_9_soak_over_sqlite_full(tmp_path: Path) -> None:
    report = soak(f"sqlite:///{tmp_path / 'app.db'}", tmp_path, kills=200, workflows=10, children=200, seed=1)
    print(report.line("sqlite"))
    check(report)


def pg_url(dsn: str) -> str:
    """The fixture's keyword DSN as the URL a worker's ``--store`` takes."""
    parts = {k: v.strip("'") for k, v in (part.split("=", 1) for part in dsn.split())}
    return f"postgresql:///{parts['dbname']}?host={parts['host']}&port={parts['port']}&user={parts['user']}"


def test_kill_9_soak_over_postgresql_quick(tmp_path: Path, postgres_dsn: str) -> None:
    report = soak(pg_url(postgres_dsn), tmp_path, kills=15, workflows=3, children=60)
    print(report.line("postgresql"))
    check(report)


@pytest.mark.soak
def test_kill_9_soak_over_postgresql_full(tmp_path: Path, postgres_dsn: str) -> None:
    report = soak(pg_url(postgres_dsn), tmp_path, kills=200, workflows=10, children=200, seed=2)
    print(report.line("postgresql"))
    check(report)
