"""Ask two suppliers for a quote, take the first answer and cancel the other: ``ctx.select`` and
``ctx.cancel``.

Each supplier's quote is a child workflow that prices every line on a worker of the ``pricing`` group
(``ctx.rpc``) and then waits out the supplier's answer time (a durable timer). The slower one is canceled
with everything under it: its pending line prices (their tasks, so a worker pricing one is fenced) and
its timer; awaiting it raises ``Canceled``.

    python -m sim run examples.supplier_race:race_scenario --faults all --seeds 200
"""

from __future__ import annotations

import attrs
import trio

from pytest_durable import Canceled, Context, function
from pytest_durable.core.records import PromiseState
from sim import RunResult, Scenario


@attrs.frozen
class Supplier:
    name: str
    answers_in: float
    price_per_line: int


@function
async def price_line(supplier: Supplier, line: int) -> int:
    """One line's price at ``supplier``, which takes a hundredth of its answer time."""
    await trio.sleep(supplier.answers_in / 100)
    return supplier.price_per_line * (line + 1)


@function
async def quote(ctx: Context, supplier: Supplier, lines: int) -> int:
    """``supplier``'s quote for ``lines`` lines, ready once its answer time has passed."""
    priced = [await ctx.rpc(price_line, supplier, n).options(target="pricing").spawn() for n in range(lines)]
    total = sum([await p for p in priced])
    await ctx.sleep(supplier.answers_in)
    return total


@function
async def first_quote(ctx: Context, suppliers: list[Supplier], lines: int) -> str:
    """The first supplier to answer, its quote, and that the others were canceled."""
    asked = [await ctx.run(quote, s, lines).spawn() for s in suppliers]
    first = await ctx.select(*asked)
    winner = suppliers[asked.index(first)]
    canceled = []
    for supplier, future in zip(suppliers, asked, strict=True):
        if future is first:
            continue
        await ctx.cancel(future)
        try:
            await future
        except Canceled:
            canceled.append(supplier.name)
    return f"{winner.name} quoted {await first}; canceled {', '.join(canceled) or 'none'}"


SUPPLIERS = [Supplier("acme", 60.0, 7), Supplier("globex", 5.0, 9), Supplier("initech", 3600.0, 5)]


def outcomes(suppliers: list[Supplier], lines: int) -> tuple[str, ...]:
    """Every value ``first_quote`` may return: faults that stop time for a while (a server restart) may
    let a slower supplier answer first, or before the cancel reaches it (then it keeps its quote)."""
    out = []
    for winner in suppliers:
        total = sum(winner.price_per_line * (n + 1) for n in range(lines))
        others = [s.name for s in suppliers if s is not winner]
        for mask in range(2 ** len(others)):
            canceled = [name for i, name in enumerate(others) if mask >> i & 1]
            out.append(f"{winner.name} quoted {total}; canceled {', '.join(canceled) or 'none'}")
    return tuple(out)


def canceled_as_said(result: RunResult) -> list[str]:
    """Once the root has resolved, nothing below it is pending (a canceled quote took its line prices and
    timer with it), and the quotes it says it canceled are exactly those ``rejected_canceled``."""
    if not isinstance(result.value, str):
        return []
    broken = [f"{p.id} is still pending" for p in result.promises
              if p.id.startswith(f"{result.root_id}.") and not p.settled]
    said = set(result.value.split("; canceled ")[1].split(", ")) - {"none"}
    quotes = {f"{result.root_id}.{i}": s.name for i, s in enumerate(SUPPLIERS)}
    canceled = {quotes[p.id] for p in result.promises if p.id in quotes and p.state is PromiseState.REJECTED_CANCELED}
    if canceled != said:
        broken.append(f"the root says it canceled {sorted(said)}, the store holds {sorted(canceled)} canceled")
    return broken


def race_scenario() -> Scenario:
    return Scenario(first_quote, (SUPPLIERS, 4), root_id="rfq", functions=(quote, price_line),
                    workers={"default": 2, "pricing": 2}, outcomes=outcomes(SUPPLIERS, 4),
                    invariants=(canceled_as_said,))
