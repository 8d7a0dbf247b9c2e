"""A twin of ``examples/supplier_race.py`` that stops the slower quotes with ``DurableFuture.abort``
instead of ``ctx.cancel``: their promises stay pending, so the example's invariant must say so."""

from __future__ import annotations

from examples.supplier_race import SUPPLIERS, Supplier, canceled_as_said, price_line, quote
from pytest_durable import Context, JoinError, function
from sim import Scenario


@function
async def first_quote_aborting(ctx: Context, suppliers: list[Supplier], lines: int) -> str:
    asked = [await ctx.run(quote, s, lines).spawn() for s in suppliers]
    first = await ctx.select(*asked)
    stopped = []
    for supplier, future in zip(suppliers, asked, strict=True):
        if future is not first:
            future.abort()
            try:
                await future
            except JoinError:
                stopped.append(supplier.name)
    return f"{suppliers[asked.index(first)].name} quoted {await first}; canceled {', '.join(stopped) or 'none'}"


def aborting_scenario() -> Scenario:
    return Scenario(first_quote_aborting, (SUPPLIERS, 4), root_id="rfq", functions=(quote, price_line),
                    workers={"default": 2, "pricing": 2}, invariants=(canceled_as_said,))
