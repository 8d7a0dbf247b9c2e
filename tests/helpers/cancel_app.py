"""An application for the live cancel and retry tests (``tests/live/test_cancel_retry.py``).

Worker processes import it by name. Every leaf body appends its key to the log file the root was given
(one line per body run), so a test counts how often each body ran; a leaf named in the ``broken`` file
raises until that file no longer names it (the fix a retry follows).
"""

from __future__ import annotations

from pathlib import Path

import trio

from pytest_durable import Context, Never, function


def ran(log: str, key: str) -> None:
    with open(log, "a") as f:
        f.write(key + "\n")


@function
async def pack(log: str, order: str, n: int) -> str:
    """An order line: even lines pack at once, odd ones wait (for stock) far longer than any test."""
    ran(log, f"{order}:pack-{n}")
    if n % 2:
        await trio.sleep(3600)
    return f"line {n} packed"


@function
async def tick(log: str, order: str, n: int) -> int:
    ran(log, f"{order}:tick-{n}")
    await trio.sleep(0.05)
    return n


@function
async def ticker(ctx: Context, log: str, order: str) -> int:
    """A local child workflow that keeps making children, one at a time, for as long as it lives."""
    n = 0
    while True:
        await ctx.run(tick, log, order, n)
        n += 1


@function
async def fulfil(ctx: Context, log: str, order: str, lines: int) -> str:
    """A timer, an approval awaited from outside, a ticker, and ``lines`` order lines: ``lines + 3`` children."""
    timer = await ctx.timer(3600)
    approval = await ctx.promise(timeout=86400)
    ticking = await ctx.run(ticker, log, order).spawn()
    packed = [await ctx.run(pack, log, order, n).spawn() for n in range(lines)]
    for future in packed:
        await future
    await approval
    await timer
    await ticking
    return "shipped"


@function
async def step(log: str, broken: str, key: str) -> str:
    """One unit of work: fails while ``broken`` names ``key``."""
    ran(log, key)
    if key in Path(broken).read_text().split():
        raise ValueError(f"{key} is broken")
    return f"{key} done"


@function
async def part(ctx: Context, log: str, broken: str, name: str, steps: int) -> list[str]:
    """A child workflow of ``steps`` steps, all awaited: it rejects if one does."""
    futures = [await ctx.run(step, log, broken, f"{name}-{i}").options(retry=Never()).spawn() for i in range(steps)]
    return [await f for f in futures]


@function
async def assemble(ctx: Context, log: str, broken: str, leaves: int, parts: int) -> int:
    """``leaves`` steps and ``parts`` child workflows of 3 steps, all awaited; the count of results."""
    leaf_futures = [await ctx.run(step, log, broken, f"leaf-{i}").options(retry=Never()).spawn() for i in range(leaves)]
    part_futures = [await ctx.run(part, log, broken, f"part{i}", 3).spawn() for i in range(parts)]
    failed = []
    done = 0
    for future in [*leaf_futures, *part_futures]:
        try:
            value = await future
        except Exception as exc:  # every failure is named in the rejection below
            failed.append(str(exc))
        else:
            done += len(value) if isinstance(value, list) else 1
    if failed:
        raise RuntimeError(f"{len(failed)} failed: {'; '.join(sorted(failed))}")
    return done
