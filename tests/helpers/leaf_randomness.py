"""Workflows whose leaves draw randomness (legitimate: a leaf's value is recorded) and a buggy twin whose
body does (a replay draws other values than recorded). Used by tests/sim/test_leaf_randomness.py."""

from __future__ import annotations

import os
import random
import secrets
import uuid

import attrs

from pytest_durable import Context, function
from sim import Scenario, ledger

from .random_ids import message_id, request_id


@attrs.frozen
class Drawn:
    """Every kind of randomness one leaf drew."""

    uuid: str
    number: float
    pick: int
    raw: str
    token: str
    instance: float
    library: str


@function
async def draw_everything(n: int) -> Drawn:
    """A leaf that draws from every source a world seeds; first a library's ``choice``, bound before the
    world began, which must draw the world's seed itself."""
    library = f"{message_id()} {request_id()}"
    deck = list(range(10))
    random.shuffle(deck)
    return Drawn(uuid=str(uuid.uuid4()), number=random.random(), pick=random.choice(deck) + random.randint(0, 5) * n,
                 raw=os.urandom(4).hex(), token=secrets.token_hex(4), instance=random.Random().random(),
                 library=library)


@function
async def notify(message_id: str, text: str) -> str:
    """A leaf with a side effect keyed by a random id (the provider deduplicates by it)."""
    ledger().record(f"notify:{text}", idempotency_key=message_id)
    return message_id


@function
async def send_with_new_id(text: str) -> str:
    """A leaf that makes a fresh id for its message: at-least-once, so a retry may send with another id."""
    return str(uuid.uuid4())


@function
async def leaves_draw(ctx: Context, n: int) -> list[Drawn]:
    """Correct: every random value comes from a leaf, so a replay reads it from the record."""
    drawn = [await ctx.run(draw_everything, i) for i in range(n)]
    key = await ctx.run(send_with_new_id, "welcome")
    await ctx.run(notify, key, "welcome")
    return drawn


@function
async def body_draws(ctx: Context, n: int) -> list[str]:
    """BUG: the body makes the message id itself, so a replay passes the child another id than recorded."""
    sent = []
    for i in range(n):
        key = str(uuid.uuid4())
        sent.append(await ctx.run(notify, key, f"welcome {i}"))
    return sent


def leaves_scenario(n: int = 2) -> Scenario:
    return Scenario(leaves_draw, (n,), functions=(draw_everything, send_with_new_id, notify), root_id="ids")


def body_scenario(n: int = 2) -> Scenario:
    return Scenario(body_draws, (n,), functions=(notify,), root_id="ids")


_SALT = random.getrandbits(32)  # drawn when a process's copy of this module is made: one world's value


@function
async def salted(n: int) -> int:
    """A leaf that reads a value its module drew at import."""
    return _SALT + n


@function
async def salts(ctx: Context) -> int:
    return await ctx.run(salted, 1)


def salt_scenario() -> Scenario:
    return Scenario(salts, (), functions=(salted,), root_id="salt")
