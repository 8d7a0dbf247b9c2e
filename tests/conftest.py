"""Shared fixtures: a real PostgreSQL server for the session (one per xdist worker), a fresh database per test.

The server starts only when a test asks for it, so runs without PostgreSQL tests pay nothing. Missing
binaries fail those tests with one line saying what to install: CI must not skip them silently.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from pytest_durable.testing.pgserver import PgServer, PgServerError, start_server

_database_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """A PostgreSQL server of this test process (each xdist worker starts its own in its own temp dir)."""
    try:
        server = start_server()
    except PgServerError as exc:
        pytest.fail(f"PostgreSQL for the tests: {exc}", pytrace=False)
    with server:
        yield server


@pytest.fixture
def postgres_dsn(pg_server: PgServer) -> str:
    """The DSN of a new, empty database on the session's server, for this test alone."""
    return pg_server.create_database(f"test_{next(_database_numbers)}")


@pytest.hookimpl(trylast=True)  # after deselection (-m), on the items that will run
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under xdist, start the suite's known-long tests first on every worker, so both cores end together
    (``tests/helpers/long_tests.py`` says why and which). Every worker computes the same order."""
    workers = getattr(config, "workerinput", {}).get("workercount")  # only in an xdist worker
    if workers:
        from tests.helpers.long_tests import longest_first  # not at import: a pytest run inside a test may not see it

        items[:] = [items[i] for i in longest_first([item.nodeid for item in items], int(workers))]
