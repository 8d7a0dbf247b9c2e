"""A simulated worker process: the real SDK ``Worker`` over the simulated network, with a name, a
group and an incarnation. A crash cancels everything it runs and throws its memory away; after a
drawn downtime it restarts as a new incarnation."""

from __future__ import annotations

from typing import TYPE_CHECKING

import trio

from pytest_durable.core.clock import TrioClock
from pytest_durable.core.codec import class_modules
from pytest_durable.sdk.worker import Worker

from ..kernel.isolation import FreshModules, FreshRegistry, isolated_modules
from ..scenario.factories import make_dependencies
from ..trace.ledger import set_process
from .network import SimStore

if TYPE_CHECKING:
    from .world import World


class SimProcess:
    """One worker process and its incarnations."""

    def __init__(self, world: World, name: str, group: str) -> None:
        self.world = world
        self.name = name
        self.group = group
        self.incarnation = 0
        self.alive = False
        self._scope: trio.CancelScope | None = None
        self._wake = trio.Event()

    async def run(self) -> None:
        world = self.world
        config = world.config
        while True:
            self.incarnation += 1
            self.alive = True
            world.trace.add(trio.current_time(), self.name, self.incarnation, "start", "", self.group)
            # a fresh process: its own copies of the user's modules (made when first needed), and values
            # decode to their classes
            fresh = FreshModules(isolated_modules(world.scenario))
            worker = Worker(
                SimStore(world, self.name, self.incarnation, self),
                group=self.group,
                id=f"{self.name}#{self.incarnation}",
                ttl=config.ttl,
                poll_interval=config.poll_interval,
                root_timeout=config.root_timeout,
                clock=TrioClock(),
                rng=world.random,
                on_body=world.body_hook(self),
                sweeps=False,
                on_error=world.error_hook(self),
                registry=FreshRegistry(fresh, world.scenario.all_functions()),
            )
            set_process(f"{self.name}#{self.incarnation}")  # tasks the worker spawns inherit it
            class_modules.set(fresh.get)
            for name, obj in make_dependencies(world.scenario, fresh).items():
                worker.set_dependency(name, obj)
            with trio.CancelScope() as scope:
                self._scope = scope
                await worker.serve()
            self.alive = False
            self._wake = trio.Event()
            with trio.move_on_after(config.restart_delay * world.injector.amount("restart")):
                await self._wake.wait()

    def kill(self, why: str, **data: str) -> None:
        """Crash this incarnation from outside (a scripted crash): cancel everything it runs.
        ``data`` says where, for the trace's structured fields (``when="await", about=id``)."""
        self.world.trace.add(trio.current_time(), self.name, self.incarnation, "crash", "", why, **data)
        self.alive = False
        assert self._scope is not None
        self._scope.cancel()

    def wake(self) -> None:
        """Restart a crashed process now instead of after its downtime."""
        self._wake.set()

    async def crash_now(self, where: str, **data: str) -> None:
        """Crash this incarnation here: every task of the process is cancelled, its memory dropped.
        ``data`` says where, for the trace's structured fields (``when``, ``op``, ``about``)."""
        self.world.trace.add(trio.current_time(), self.name, self.incarnation, "crash", "", where, **data)
        self.alive = False
        assert self._scope is not None
        self._scope.cancel()
        await trio.lowlevel.checkpoint()  # raises Cancelled: the calling task unwinds with the rest
