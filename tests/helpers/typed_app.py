"""A workflow with annotated parameters of every kind ``run`` checks (``live.argument_types``)."""

from __future__ import annotations

import dataclasses
from typing import Any

import attrs

from pytest_durable import Context, function


@attrs.frozen
class Item:
    id: int
    name: str


@dataclasses.dataclass(frozen=True)
class Note:
    text: str


@function
async def typed(ctx: Context, n: int, ratio: float, name: str, flag: bool, maybe: int | None, items: list[Item],
                table: dict[str, int], pair: tuple[int, str], note: Note, anything: Any = None) -> int:
    """Its body never runs in the tests: they start it and read what ``run`` said."""
    return n
