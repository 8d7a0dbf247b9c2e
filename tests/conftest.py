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
