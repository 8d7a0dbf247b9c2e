"""A workflow module whose leaf changes module state (a list, a dict, a class attribute mutated in place
and one rebound) as it runs, for the tests of reusing module copies (``sim.kernel.copy_pool``): a copy
one incarnation changed must never serve the next. Durable functions must live at module level."""

from __future__ import annotations

import trio

from pytest_durable import Context, function
from sim import Scenario, ledger

SEEN: list[str] = []
CACHE: dict[str, int] = {}


class Tally:
    hits: list[str] = []  # noqa: RUF012 (state on a class: the point of this module)
    last = ""


def observed() -> str:
    """What this copy of the module holds: ``0/0/0/''`` when fresh."""
    return f"{len(SEEN)}/{len(CACHE)}/{len(Tally.hits)}/{Tally.last!r}"


@function
async def visit(key: str) -> str:
    seen = observed()
    ledger().record(f"saw {seen}")
    SEEN.append(key)
    CACHE[key] = len(CACHE)
    Tally.hits.append(key)
    Tally.last = key
    await trio.sleep(0.5)
    return seen


@function
async def tour(ctx: Context, n: int) -> list[str]:
    return [await ctx.run(visit, f"k{i}") for i in range(n)]


FRESH = "0/0/0/''"


def tour_scenario() -> Scenario:
    return Scenario(tour, (3,), functions=(visit,), root_id="tour")
