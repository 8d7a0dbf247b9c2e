"""The choices text of a pinned world: the non-zero draws of its decision log as ``INDEX:VALUE``
pairs (``12:1,13:2``; every other draw was 0), short enough to paste into a test."""

from __future__ import annotations

from collections.abc import Sequence

from pytest_durable.core.errors import UsageError


def choices_text(log: Sequence[tuple[str, int]]) -> str:
    """The non-zero draws of a decision log as ``index:value`` pairs (all others were 0)."""
    return ",".join(f"{i}:{v}" for i, (_, v) in enumerate(log) if v)


def parse_choices(text: str) -> dict[int, int]:
    """The draws ``choices_text`` wrote, by index; bad text is a ``UsageError`` naming the part."""
    values: dict[int, int] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        index, sep, value = part.partition(":")
        if not sep or not index.isdigit() or not value.isdigit():
            raise UsageError(f"choices: cannot read {part!r}; write INDEX:VALUE pairs separated by commas, "
                             "e.g. 12:1,13:2")
        values[int(index)] = int(value)
    return values
