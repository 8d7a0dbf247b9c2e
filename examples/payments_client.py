"""A leaf that calls a payment API through an injected client, not a client it builds itself.

``charge`` asks its worker for the ``"bank"`` dependency: production gives the worker a real client
(``worker.set_dependency("bank", client)``), the simulator a fake that records every charge in the
world's ledger (``Scenario(dependencies={"bank": LedgerBank})``, one fresh fake per process incarnation,
as a restarted process builds a new client). The workflow code is the same in both.

Run it: ``python examples/payments_client.py`` (an in-process worker and an in-memory bank), or in the
simulator: ``python -m sim run examples/payments_client.py:scenario --seeds 200 --faults crash,drop``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import attrs
import trio

from pytest_durable import Context, Worker, dependency, function

if TYPE_CHECKING:
    from sim import Scenario


@attrs.frozen
class Order:
    id: str
    account: str
    amount: int


class Bank(Protocol):
    """What the workflow needs of a payment API: a charge deduplicated by its idempotency key."""

    def charge(self, account: str, amount: int, *, idempotency_key: str) -> str: ...


class MemoryBank:
    """A plain client for running the example without a network: it keeps charges by idempotency key
    and, like a real payment API, answers a repeated key with the first receipt instead of charging."""

    def __init__(self) -> None:
        self.charges: dict[str, tuple[str, int]] = {}

    def charge(self, account: str, amount: int, *, idempotency_key: str) -> str:
        self.charges.setdefault(idempotency_key, (account, amount))
        return f"receipt {idempotency_key}"


class LedgerBank:
    """The simulator's fake: every charge the API would make is recorded in the world's ledger, which
    survives crashes, so a test can assert each order was charged exactly once."""

    def charge(self, account: str, amount: int, *, idempotency_key: str) -> str:
        from sim import ledger

        ledger().record(f"charge:{account}", idempotency_key=idempotency_key)
        return f"receipt {idempotency_key}"


@function
async def reserve(order: Order) -> str:
    return f"reserved {order.id}"


@function
async def charge(order: Order) -> str:
    # A leaf is at-least-once (a crash after the call, before its promise settles, runs it again), so
    # the call carries an idempotency key the payment API deduplicates by: the order id.
    bank: Bank = dependency("bank")
    return bank.charge(order.account, order.amount, idempotency_key=f"charge-{order.id}")


@function
async def ship(order: Order) -> str:
    return f"shipped {order.id}"


@function
async def checkout(ctx: Context, order: Order) -> list[str]:
    reserved = await ctx.run(reserve, order)
    receipt = await ctx.run(charge, order)
    shipped = await ctx.run(ship, order)
    return [reserved, receipt, shipped]


ORDER = Order("order-42", "acct-7", 1999)
EXPECTED = ["reserved order-42", "receipt charge-order-42", "shipped order-42"]


async def main(bank: Bank) -> list[str]:
    """Check out ``ORDER`` on an in-process worker whose bodies use ``bank``."""
    worker = Worker()
    worker.set_dependency("bank", bank)
    worker.register(checkout, reserve, charge, ship)
    async with worker.running():
        handle = await worker.run("checkout", checkout, ORDER)
        return await handle.result()


def production(worker: Worker) -> None:
    """Give a worker process its clients: ``python -m pytest_durable worker payments_client --setup
    payments_client:production`` (a real deployment would build its payment API client here)."""
    worker.set_dependency("bank", MemoryBank())


if __name__ == "__main__":
    bank = MemoryBank()
    print(trio.run(main, bank))
    print(bank.charges)


def scenario() -> Scenario:
    """The simulator's view: the fake bank, one per process incarnation, and every charge exactly once."""
    from sim import Scenario, exactly_once

    return Scenario(checkout, (ORDER,), functions=(reserve, charge, ship), root_id="checkout", expected=EXPECTED,
                    dependencies={"bank": LedgerBank}, invariants=(exactly_once("charge:"),))
