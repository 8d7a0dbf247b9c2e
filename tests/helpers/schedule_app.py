"""An application for the schedule tests: each tick's root runs a leaf that records its effect by key.

Worker processes import it by name (``python -m pytest_durable worker tests.helpers.schedule_app``). The
leaf notes every start of its body and records its effect under the root's id (an idempotency key), in
``$DURABLE_EFFECTS`` (a SQLite file shared by every process of the test), so the test can tell how many
times each tick's work ran and whether any effect happened twice.
"""

from __future__ import annotations

import os
import sqlite3
from contextlib import closing

import trio

from pytest_durable import Context, function

SCHEMA = """
create table if not exists bodies (root text not null, pid integer not null);
create table if not exists effects (key text primary key, root text not null, pid integer not null, n integer);
"""


def connect() -> sqlite3.Connection:
    db = sqlite3.connect(os.environ["DURABLE_EFFECTS"], timeout=30, isolation_level=None)
    db.execute("pragma journal_mode=wal")
    db.executescript(SCHEMA)
    return db


@function
async def record(root: str, n: int) -> str:
    """Record the body start, work a little (so kills land mid-body), record the effect once by key."""
    with closing(connect()) as db:
        db.execute("insert into bodies values (?, ?)", (root, os.getpid()))
    await trio.sleep(0.05)
    with closing(connect()) as db:
        db.execute("insert or ignore into effects values (?, ?, ?, ?)", (f"effect-{root}", root, os.getpid(), n))
    return root


@function
async def tick(ctx: Context, n: int) -> str:
    """A scheduled workflow: one leaf keyed by this root's id (``SCHEDULE@INSTANT``)."""
    return await ctx.run(record, ctx.id, n)
