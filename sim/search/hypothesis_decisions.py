"""``HypothesisDecisions``: a world's choices taken from a Hypothesis test case, so Hypothesis
generates worlds and shrinks a failing one. The faults are drawn first, aimed at named
opportunities; the schedule choices follow as the world asks, read from one block of drawn bytes
(0 = first in order / shortest delay) and past its end from a seeded stream."""

from __future__ import annotations

import random
import zlib
from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import hypothesis
import hypothesis.strategies as st
import trio

from ..faults import FaultConfig
from .details import DETAIL_TABLES, DETAILS
from .draws import Draw, blocks, integers
from .known_worlds import Known, KnownWorlds
from .schedules import FaultKey, Point, fault_schedules

#: Schedule choices drawn from Hypothesis per world before a seeded stream takes over: one block of
#: this many bytes, each choice taking the bytes its range needs (one below 256).
DEFAULT_BUDGET = 256

#: Said under Hypothesis's "inconsistent data generation" error, which a drawn world raises when the
#: same choices do not give the same world.
FLAKY_NOTE = (
    "durable: the same choices gave a different world, so Hypothesis cannot replay or shrink it: the workflow "
    "(or a leaf) reads time, randomness or other state outside ctx; --durable-check-determinism shows where "
    "two runs of one world part"
)


class HypothesisDecisions:
    """A world's choices from a Hypothesis test case. The faults — which opportunity of each kind
    fires, and its details — are drawn first (``begin``), then the schedule: one block of ``budget``
    bytes from which every other choice (batch order, latency, ``ctx.random()``) is read as the world
    asks, and past its end a seeded stream whose seed Hypothesis draws.

    The schedule is one draw, not one per choice, so that every world's choice sequence has the same
    shape: Hypothesis ranks worlds by their faults alone (fewer, then earlier), and its generator,
    which copies values between draws of the same kind, spends its tries on other faults rather than
    on copying one schedule choice over another of the same world."""

    def __init__(self, draw: Draw, *, budget: int = DEFAULT_BUDGET) -> None:
        self.log: list[tuple[str, int]] = []
        self.schedule: dict[str, dict[FaultKey, int]] = {}
        self.budget = budget
        self.fallback_seed: int | None = None
        #: What a draw raised (Hypothesis stops a test case with an exception when its choices run
        #: out). It cannot unwind through trio's scheduler, so the world goes on with zeros and
        #: ``raise_stopped`` re-raises it once the world is over.
        self.stopped: BaseException | None = None
        self._draw = draw
        self._block = b""
        self._used = 0
        self._rng: random.Random | None = None
        self._seen: dict[tuple[str, FaultKey], int] = {}
        self._details: dict[str, int] = {}
        #: The questions the world asked (``log`` holds the answers), to know it again (``known``).
        self.asked: list[tuple[Any, ...]] = []

    def begin(self, faults: FaultConfig, keys: Mapping[str, Sequence[str]], *,
              timeline: Mapping[str, Sequence[Point]] | None = None, span: float | None = None) -> None:
        """Draw where the faults fall and the schedule block, before the world makes any choice."""
        try:
            self.schedule = self._draw(fault_schedules(faults, keys, timeline=timeline, span=span))
            self._block = self._draw(blocks(self.budget))
        except BaseException as exc:  # handed back to Hypothesis by raise_stopped
            self.stopped = exc

    def seal(self) -> None:
        """Draw, as a choice with one possible value, a fingerprint of every choice the world asked
        for. Hypothesis replays a world to shrink it; when the same choices make another world (the
        workflow reads time or state outside ctx), the fingerprint differs and Hypothesis reports
        inconsistent data generation (with ``FLAKY_NOTE``) instead of shrinking a moving target."""
        if self.stopped is not None:
            return
        fingerprint = zlib.crc32(repr(self.log).encode())
        try:
            self._draw(st.integers(fingerprint, fingerprint))
        except BaseException as exc:  # handed back to Hypothesis by raise_stopped
            self.stopped = exc

    def raise_stopped(self) -> None:
        """Hand back to Hypothesis what a draw raised, if one did (its inconsistent-data error with
        ``FLAKY_NOTE`` under it)."""
        if self.stopped is None:
            return
        if isinstance(self.stopped, hypothesis.errors.FlakyStrategyDefinition) and FLAKY_NOTE not in getattr(
                self.stopped, "__notes__", ()):
            self.stopped.add_note(FLAKY_NOTE)
        raise self.stopped

    def _int(self, upper: int) -> int:
        """A schedule choice from 0 to ``upper``: read from the block while it lasts, then from a
        seeded stream whose seed is drawn once (and said with ``note()``)."""
        size = max(1, (upper.bit_length() + 7) // 8)
        if self._used + size <= len(self._block):
            value = int.from_bytes(self._block[self._used:self._used + size], "big") % (upper + 1)
            self._used += size
            return value
        if self._rng is None:
            self._used = len(self._block)
            if self.fallback_seed is None:  # drawn once: a look-up in known worlds may have drawn it
                try:
                    self.fallback_seed = self._draw(integers((1 << 32) - 1))
                except BaseException as exc:  # handed back to Hypothesis by raise_stopped
                    self.stopped = exc
                    self.fallback_seed = 0
            self._rng = random.Random(self.fallback_seed)
            hypothesis.note(f"durable: this world needed more than {self.budget} bytes of schedule choices; the "
                            f"rest came from a seeded stream (seed {self.fallback_seed})")
        return self._rng.randrange(upper + 1)

    def choose(self, kind: str, n: int) -> int:
        """One of ``n`` ways (0 when there is one), noted in ``asked`` to know the world again."""
        if n <= 1:
            return 0
        self.asked.append(("choose", kind, n))
        return self._choose(kind, n)

    def flip(self, kind: str, rate: float, where: str = "") -> bool:
        """Whether a fault of ``kind`` strikes opportunity ``where`` now: one planned there does."""
        if rate <= 0:
            return False
        try:
            now = trio.current_time()
        except RuntimeError:  # asked outside a world (a test of these decisions alone)
            now = 0.0
        self.asked.append(("flip", kind, where, now))
        return self._flip(kind, where, now)

    def _choose(self, kind: str, n: int) -> int:
        """A detail digit of the fault that just fired (``DETAILS``), or a schedule choice."""
        if kind in DETAILS:
            family, digit = DETAILS[kind]
            nibble = self._details.get(family, 0) >> 4 * digit & 15
            table = DETAIL_TABLES.get(kind)
            value = (table[nibble] if table is not None else nibble) % n
        else:
            value = self._int(n - 1)
        self.log.append((kind, value))
        return value

    def _flip(self, kind: str, where: str, now: float) -> bool:
        """Count this occurrence of ``where`` for each fault planned there; fire the first whose turn it is."""
        detail = None
        planned = self.schedule.get(kind)
        if planned:
            for key, value in planned.items():
                aim, nth, after = key if len(key) == 3 else (*key, 0.0)  # (where, nth) as a test may plant it
                if aim != where or now < after:
                    continue
                seen = self._seen.get((kind, key), 0)
                self._seen[(kind, key)] = seen + 1
                if seen == nth and detail is None:
                    detail = value
        if detail is not None:
            self._details[kind] = detail
        self.log.append((kind, int(detail is not None)))
        return detail is not None

    def _answer(self, question: tuple[Any, ...]) -> int:
        """The answer these choices give a question a known world asked (``KnownWorlds.find``)."""
        if question[0] == "choose":
            return self._choose(question[1], question[2])
        return int(self._flip(question[1], question[2], question[3]))

    def known(self, worlds: KnownWorlds, key: Hashable, owner: object) -> Known | None:
        """The end of a world run before whose every question these choices answer the same way (so
        running it again gives that world, if the workflow is deterministic), or None. Unless that
        world is ``verified``, the choices start afresh for a run (a fallback seed drawn meanwhile is
        kept: the run draws no second one)."""
        found = worlds.find(key, owner, self._answer)
        if found is None or not found.verified or self.stopped is not None:
            self.log, self.asked, self._used, self._rng, self._seen, self._details = [], [], 0, None, {}, {}
        else:
            self.asked = []  # the questions are those of the world found
        return found
