"""A job to run on a schedule (README, "Schedules"): each tick's root renders one report.

``python -m pytest_durable schedule create nightly '0 3 * * *' examples.schedules.reports:report '["nightly"]'``
starts ``report("nightly")`` as root ``nightly@2026-12-09T03:00:00Z`` every night; the leaf is keyed by
that root id, so a report is written once per tick whatever crashes in between.
"""

from __future__ import annotations

from pytest_durable import Context, function


@function
async def render(kind: str, tick: str) -> str:
    """The report itself (a real one would query and write somewhere, keyed by ``tick``)."""
    return f"{kind} report for {tick}"


@function
async def report(ctx: Context, kind: str) -> str:
    """A scheduled workflow: its own id names the tick it runs for."""
    return await ctx.run(render, kind, ctx.id)
