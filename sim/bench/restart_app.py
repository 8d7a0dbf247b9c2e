"""The workflow of the live restart scenario (``live_restart``), in a module of its own that imports
nothing of the simulator: a worker process serves it as the top-level module ``restart_app`` (with this
folder on its path), so a restart is not slowed by importing the simulator it never uses."""

from __future__ import annotations

import os
import sqlite3
import time
from contextlib import closing

import trio

from pytest_durable.sdk import Context, function

#: Where each leaf notes that its body started (a SQLite file; unset: not noted).
BODIES = "DURABLE_BODIES"


@function
async def restart_item(root: str, i: int) -> int:
    """A leaf with a little real work (a few milliseconds of waiting); it notes its body's start."""
    path = os.environ.get(BODIES)
    if path:
        with closing(sqlite3.connect(path, timeout=30, isolation_level=None)) as db:
            db.execute("insert into bodies values (?, ?)", (f"{root}.{i}", time.time()))
    await trio.sleep(0.002 * (i % 5))
    return 2 * i


@function
async def restart_fan_out(ctx: Context, root: str, n: int) -> int:
    futures = [await ctx.run(restart_item, root, i).spawn() for i in range(n)]
    return sum([await f for f in futures])
