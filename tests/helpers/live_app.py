"""An application for the live tests: a fan-out whose leaves record effects in a database of their own.

Worker processes import it by name (``python -m pytest_durable worker tests.helpers.live_app``). Each leaf
notes that its body started (to find bodies that ran again after their promise resolved) and then
records its effect under an idempotency key, so the test can check every effect happened exactly once.
The database is ``$DURABLE_EFFECTS`` (a SQLite file shared by every process of the test).
"""

from __future__ import annotations

import os
import sqlite3
import time
from contextlib import closing

import trio

from pytest_durable import Context, function

SCHEMA = """
create table if not exists bodies (child text not null, pid integer not null, at real not null);
create table if not exists effects (key text primary key, child text not null, pid integer not null);
"""


def connect() -> sqlite3.Connection:
    db = sqlite3.connect(os.environ["DURABLE_EFFECTS"], timeout=30, isolation_level=None)
    db.execute("pragma journal_mode=wal")
    db.executescript(SCHEMA)
    return db


@function
async def process_item(batch: str, item: int) -> int:
    """Record the body start, work a little (so kills land mid-body), record the effect once."""
    child = f"{batch}.{item}"  # the promise id: the root is named after its batch, children count from 0
    with closing(connect()) as db:
        db.execute("insert into bodies values (?, ?, ?)", (child, os.getpid(), time.time()))
    await trio.sleep(0.005 * (item % 5))
    with closing(connect()) as db:
        db.execute("insert or ignore into effects values (?, ?, ?)", (f"effect-{child}", child, os.getpid()))
    return item * 2


@function
async def fan_out(ctx: Context, batch: str, n: int) -> int:
    """The seed's fan-out/fan-in: spawn ``n`` children, then sum their results."""
    futures = [await ctx.run(process_item, batch, i).spawn() for i in range(n)]
    total = 0
    for future in futures:
        total += await future
    return total
