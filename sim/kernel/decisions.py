"""``Decisions``: the one object that makes every nondeterministic choice in a simulated world.

Every draw is an integer in ``[0, n)`` where 0 means "no fault, first in order, shortest delay", so a
search that shrinks draws towards 0 shrinks a failing world towards fewer, earlier faults and a
straighter schedule. Each implementation keeps a log of its draws so a world can be replayed.

The replaying ones (``RecordedDecisions``, ``PinnedDecisions``) never raise when the world asks for
something the recording does not hold: many draws happen inside trio's scheduler, which cannot unwind
an exception without abandoning the world's tasks. They note where the world left the recording in
``diverged``, draw 0 from there on, and ``run_world`` reports it as a determinism violation.
"""

from __future__ import annotations

import random
from typing import Protocol

import attrs


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
    """Replays a recorded log draw by draw; where the world asks for something else, ``diverged``
    says so (the first place only) and every draw from there on is 0."""

    recording: list[tuple[str, int]]
    log: list[tuple[str, int]] = attrs.field(factory=list)
    diverged: str = ""

    def _next(self, kind: str, n: int) -> int:
        i = len(self.log)
        value = 0
        if not self.diverged:
            self.diverged = self._mismatch(i, kind, n)
            value = 0 if self.diverged else self.recording[i][1]
        self.log.append((kind, value))
        return value

    def _mismatch(self, i: int, kind: str, n: int) -> str:
        """Why draw ``i`` of ``kind`` in ``[0, n)`` cannot come from the recording, or ""."""
        if i >= len(self.recording):
            return f"draw {i} ({kind}) is past the end of the recording ({len(self.recording)} draws)"
        recorded_kind, value = self.recording[i]
        if recorded_kind != kind:
            return f"draw {i}: the recording has {recorded_kind!r} where the world asks for {kind!r}"
        if not 0 <= value < n:
            return f"draw {i} ({kind}): recorded {value} is not in [0, {n})"
        return ""

    def choose(self, kind: str, n: int) -> int:
        if n <= 1:
            return 0
        return self._next(kind, n)

    def flip(self, kind: str, rate: float, where: str = "") -> bool:
        if rate <= 0:
            return False
        return self._next(kind, 2) == 1


@attrs.define
class PinnedDecisions:
    """Replays the non-zero draws of a world (``{index: value}``); every other draw is 0. This is the
    form a shrunk world is pinned in: its few faults, and the first-in-order, shortest everything else."""

    values: dict[int, int]
    log: list[tuple[str, int]] = attrs.field(factory=list)
    diverged: str = ""

    def _next(self, kind: str, n: int, what: str) -> int:
        i = len(self.log)
        value = 0 if self.diverged else self.values.get(i, 0)
        if not 0 <= value < n:
            self.diverged, value = f"draw {i} ({kind}): pinned {value} is not {what}", 0
        self.log.append((kind, value))
        return value

    def choose(self, kind: str, n: int) -> int:
        if n <= 1:
            return 0
        return self._next(kind, n, f"in [0, {n})")

    def flip(self, kind: str, rate: float, where: str = "") -> bool:
        if rate <= 0:
            return False
        return self._next(kind, 2, "a fault flag (0 or 1)") == 1
