"""``Decisions``: the one object that makes every nondeterministic choice in a simulated world.

Every draw is an integer in ``[0, n)`` where 0 means "no fault, first in order, shortest delay", so a
search that shrinks draws towards 0 shrinks a failing world towards fewer, earlier faults and a
straighter schedule. Each implementation keeps a log of its draws so a world can be replayed.
"""

from __future__ import annotations

import random
from typing import Protocol

import attrs


class DivergedError(Exception):
    """A replay asked for a different draw than the recording holds: the world is not the same."""


class Decisions(Protocol):
    """The source of every choice; ``log`` holds (kind, value) for each draw made."""

    log: list[tuple[str, int]]

    def choose(self, kind: str, n: int) -> int:
        """A value in ``[0, n)``; 0 is the no-fault / first / shortest choice."""
        ...

    def flip(self, kind: str, rate: float, where: str = "") -> bool:
        """True (a fault) with probability ``rate``; a rate of 0 draws nothing. ``where`` names the
        opportunity (``"settle job.1"``, ``"tick 3"``) for implementations that aim faults by it."""
        ...


@attrs.define
class SeededDecisions:
    """Draws from a PRNG seeded with ``seed``: the same seed, the same world."""

    seed: int
    log: list[tuple[str, int]] = attrs.field(factory=list)
    _rng: random.Random = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def choose(self, kind: str, n: int) -> int:
        if n <= 1:
            return 0
        value = self._rng.randrange(n)
        self.log.append((kind, value))
        return value

    def flip(self, kind: str, rate: float, where: str = "") -> bool:
        if rate <= 0:
            return False
        value = 1 if self._rng.random() < rate else 0
        self.log.append((kind, value))
        return value == 1


@attrs.define
class RecordedDecisions:
    """Replays a recorded log draw by draw and fails loudly when the world asks for something else."""

    recording: list[tuple[str, int]]
    log: list[tuple[str, int]] = attrs.field(factory=list)

    def _next(self, kind: str) -> int:
        i = len(self.log)
        if i >= len(self.recording):
            raise DivergedError(f"draw {i} ({kind}) is past the end of the recording ({len(self.recording)} draws)")
        rec_kind, value = self.recording[i]
        if rec_kind != kind:
            raise DivergedError(f"draw {i}: the recording has {rec_kind!r} where the world asks for {kind!r}")
        self.log.append((kind, value))
        return value

    def choose(self, kind: str, n: int) -> int:
        if n <= 1:
            return 0
        value = self._next(kind)
        if not 0 <= value < n:
            raise DivergedError(f"draw {len(self.log) - 1} ({kind}): recorded {value} is not in [0, {n})")
        return value

    def flip(self, kind: str, rate: float, where: str = "") -> bool:
        if rate <= 0:
            return False
        return self._next(kind) == 1


@attrs.define
class PinnedDecisions:
    """Replays the non-zero draws of a world (``{index: value}``); every other draw is 0. This is the
    form a shrunk world is pinned in: its few faults, and the first-in-order, shortest everything else."""

    values: dict[int, int]
    log: list[tuple[str, int]] = attrs.field(factory=list)

    def choose(self, kind: str, n: int) -> int:
        if n <= 1:
            return 0
        value = self.values.get(len(self.log), 0)
        if value >= n:
            raise DivergedError(f"draw {len(self.log)} ({kind}): pinned {value} is not in [0, {n})")
        self.log.append((kind, value))
        return value

    def flip(self, kind: str, rate: float, where: str = "") -> bool:
        if rate <= 0:
            return False
        value = self.values.get(len(self.log), 0)
        if value not in (0, 1):
            raise DivergedError(f"draw {len(self.log)} ({kind}): pinned {value} is not a fault flag (0 or 1)")
        self.log.append((kind, value))
        return value == 1
