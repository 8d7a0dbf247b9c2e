"""An application for the live lifecycle tests (a clean stop, sharing the work, a restart).

Worker processes import it by name. Every leaf notes in ``$DURABLE_EFFECTS`` (a SQLite file shared by
the test's processes) that its body started and, once done, its effect under a key, with the pid of
the process that ran it: the test counts bodies run again, effects made twice, and the work each
worker took. A ``step`` whose index is ``$DURABLE_GATE_STEP`` waits until the file ``$DURABLE_GATE``
exists, so a test can hold every workflow at one step and let go of them when it likes.
"""

from __future__ import annotations

import os
import sqlite3
from contextlib import closing

import trio

from pytest_durable import Context, function

SCHEMA = """
create table if not exists bodies (key text not null, pid integer not null);
create table if not exists effects (key text not null, pid integer not null);
"""


def note(table: str, key: str) -> None:
    with closing(sqlite3.connect(os.environ["DURABLE_EFFECTS"], timeout=30, isolation_level=None)) as db:
        db.execute(f"insert into {table} values (?, ?)", (key, os.getpid()))


def prepare(path: str) -> None:
    """Make the notes file (WAL, so workers write side by side)."""
    with closing(sqlite3.connect(path, isolation_level=None)) as db:
        db.execute("pragma journal_mode=wal")
        db.executescript(SCHEMA)


@function
async def step(root: str, i: int) -> int:
    key = f"{root}.{i}"
    note("bodies", key)
    if str(i) == os.environ.get("DURABLE_GATE_STEP"):
        while not os.path.exists(os.environ["DURABLE_GATE"]):
            await trio.sleep(0.01)
    await trio.sleep(0.02)
    note("effects", key)
    return i


@function
async def chain(ctx: Context, root: str, n: int) -> int:
    """``n`` steps, one after another."""
    total = 0
    for i in range(n):
        total += await ctx.run(step, root, i)
    return total


@function
async def job(key: str) -> str:
    """A root that is one leaf: a unit of work some worker takes."""
    note("bodies", key)
    await trio.sleep(0.2)
    note("effects", key)
    return key
