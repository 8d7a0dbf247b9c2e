"""What the plugin's hooks share: the session's durable state (the run seed, what ran, the test running
now) and each test's (its seed, the world running now, its ``DurableSim``), kept in pytest's stashes."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import attrs
import pytest

from ..aiming import TestSweeps
from ..harness import DurableSim, WorldSettings


@attrs.define
class RunState:
    """The session's durable state: the run seed, what ran, and the test running now."""

    seed: int
    worlds: int = 0
    failing_traces: list[str] = attrs.field(factory=list)
    failing_pages: list[str] = attrs.field(factory=list)
    current: TestState | None = None
    #: The subprocess under another hash seed the fault-free worlds are re-run in (started when first needed).
    hash_seed: Any = None


@attrs.define
class TestState:
    """One test: its seed, the index of the world running now, its ``DurableSim``, and its aimed sweeps
    (``None`` with ``--durable-aim=off``, a marker's ``plan=`` or ``aim=`` pin, or no marker)."""

    item: pytest.Item
    test_seed: int
    settings: Callable[[int], WorldSettings]
    sim: DurableSim | None = None
    index: int = 0
    sweeps: TestSweeps | None = None
    #: How many worlds the test runs, once known (an aimed test learns it after world 1), and how many of
    #: them are the aimed phase (the fault-free world and the single-fault ones).
    total: int | None = None
    aimed: int = 0
    runs: list[tuple[Any, Any, int]] = attrs.field(factory=list)  # (WorldSettings, Scenario, world index) of
    # each run, for --durable-check-hash-seed
    differs: tuple[Any, int] | None = None  # (RunResult, world index): the world that check found

    def world_settings(self) -> WorldSettings:
        return self.settings(derive(self.test_seed, str(self.index)))

    def durable_sim(self) -> DurableSim:
        """The test's ``DurableSim``, made when the test first uses it."""
        if self.sim is None:
            module = getattr(getattr(self.item, "module", None), "__name__", "")
            self.sim = DurableSim(self.world_settings, self.item.config.hook, self.item, module, self.sweeps)
        return self.sim


STATE = pytest.StashKey[RunState]()
TEST = pytest.StashKey[TestState]()


def derive(seed: int, *parts: str) -> int:
    """A 32-bit seed from ``seed`` and ``parts``: the same on every machine and process."""
    digest = hashlib.sha256("/".join([str(seed), *parts]).encode()).digest()
    return int.from_bytes(digest[:4], "big")
