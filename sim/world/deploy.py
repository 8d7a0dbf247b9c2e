"""A world's deploy of a second version (``Scenario(upgrade=...)``, ``sim.scenario.upgrade``): when it
starts (drawn from the world's decisions in its window, and not before its ``after`` promise settled),
which workers stay on the old version, and the rolling restarts it makes. Each restart is a stop like a
crash (``crash`` in the trace, ``when="deploy"``): what the stopped incarnation held is gone, its lease
runs out, and the process comes back at once on the new version.
"""

from __future__ import annotations

from collections.abc import Sequence

import trio

from ..kernel import virtual_time
from ..kernel.decisions import Decisions
from ..scenario import Upgrade, Version
from ..scenario.actors import WINDOW_STEPS
from ..trace import Trace
from .server import SimServer
from .sim_process import SimProcess


class Deploy:
    """The deploy of ``upgrade`` in one world: its instant and its fleet are drawn when the world is
    built, so the same seed gives the same deploy."""

    def __init__(self, upgrade: Upgrade, old: Version, new: Version, processes: Sequence[SimProcess],
                 decisions: Decisions, trace: Trace, server: SimServer) -> None:
        self.upgrade = upgrade
        self.old = old
        self.new = new
        self.processes = list(processes)
        self.trace = trace
        self.server = server
        first, last = upgrade.window
        steps = WINDOW_STEPS if last > first else 1
        self.at = first + (last - first) * decisions.choose("upgrade_at", steps) / max(steps - 1, 1)
        count = len(self.processes)
        fleet = upgrade.fleet
        stay = fleet if isinstance(fleet, int) else decisions.choose("upgrade_fleet", count) if fleet == "mixed" else 0
        #: The workers that stay on the old version for the rest of the world.
        self.staying = frozenset(p.name for p in self.processes[count - stay:]) if stay else frozenset()
        #: Whether the deploy has started: from then on, an incarnation that starts runs the new version.
        self.started = False

    def version(self, process: str) -> int:
        """The version an incarnation of ``process`` that starts now runs."""
        return 2 if self.started and process not in self.staying else 1

    async def run(self) -> None:
        """Wait for the deploy's instant (and its ``after`` promise), then move the fleet."""
        upgrade = self.upgrade
        await virtual_time.sleep_until(self.at)
        if upgrade.after is not None:
            await self.server.until_settled(upgrade.after)
        self.started = True
        self.trace.add(trio.current_time(), "deploy", 0, "deploy", "", self.new.label, to=self.new.module,
                       old=self.old.label, staying=",".join(sorted(self.staying)))
        if upgrade.fleet == "restarts":
            return
        moving = [p for p in self.processes if p.name not in self.staying]
        for i, process in enumerate(moving):
            if i:
                await virtual_time.sleep(upgrade.gap)
            if process.alive and process.version == 1:  # one down or already restarted comes back on v2 anyway
                process.redeploy()
