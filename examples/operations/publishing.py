"""The workflows of the README's "Cancel and retry": convert a batch of files, and publish a batch once
an editor approves it (or an hour has passed, for a reminder).

    python -m pytest_durable worker examples.operations.publishing &
    python -m pytest_durable run batch-1 examples.operations.publishing:convert_all '[["a.txt", "c.txt"]]' --wait
    python -m pytest_durable retry batch-1      # once c.txt exists: only its conversion runs again
    python -m pytest_durable cancel publish-1   # the root, its reminder timer and the approval it awaits
"""

from __future__ import annotations

from pytest_durable import Context, Never, function


@function
async def convert(path: str) -> str:
    """One file's conversion; a missing file fails it (no retry: only a fix helps)."""
    with open(path) as f:
        return f"{path}: {len(f.read())} characters"


@function
async def convert_all(ctx: Context, paths: list[str]) -> list[str]:
    """Every file converted, side by side; one failure rejects the batch."""
    futures = [await ctx.run(convert, p).options(retry=Never()).spawn() for p in paths]
    return [await f for f in futures]


@function
async def publish(ctx: Context, paths: list[str]) -> str:
    """Convert the files one by one, then wait for the editor's approval, or an hour, whichever is first."""
    for p in paths:
        await ctx.run(convert, p).options(retry=Never())
    reminder = await ctx.timer(3600)
    approval = await ctx.promise(timeout=86400)
    if await ctx.select(approval, reminder) is reminder:
        return "no answer within the hour"
    return f"published {len(paths)} files, approved by {await approval}"


__all__ = ["convert", "convert_all", "publish"]
