"""A simulated worker process: the real SDK ``Worker`` over the simulated network, with a name, a
group and an incarnation. A crash cancels everything it runs and throws its memory away; after a
drawn downtime it restarts as a new incarnation."""

from __future__ import annotations

from collections.abc import Callable

import attrs
import trio

from pytest_durable.core.clock import TrioClock
from pytest_durable.core.codec import class_modules
from pytest_durable.sdk import BodyHook, EndHook, ErrorHook, Worker

from ..faults import Injector
from ..kernel import copy_pool
from ..kernel.isolation import FreshModules, FreshRegistry
from ..scenario import Scenario, SimConfig, Version, make_dependencies
from ..trace import Trace, set_process
from .network import Network


@attrs.frozen
class Surroundings:
    """What a process gets from its world: the scenario it serves, the settings, the trace, the network
    to the server, the injector (for its downtime), randomness for ``ctx.random()``, and the hooks its
    worker calls when a body starts or a task fails for good (each made for one incarnation), and when a
    workflow body ends with a settlement (one for the world). ``versions`` are the scenario's versions of
    its code (one, or two with an upgrade) and ``version_of`` the one an incarnation of a process that
    starts now runs (``sim.world.deploy``)."""

    scenario: Scenario
    config: SimConfig
    trace: Trace
    network: Network
    injector: Injector
    rng: Callable[[], float]
    body_hook: Callable[[str, int], BodyHook]
    error_hook: Callable[[str, int], ErrorHook]
    end_hook: EndHook
    versions: tuple[Version, ...]
    version_of: Callable[[str], int]


class SimProcess:
    """One worker process and its incarnations."""

    def __init__(self, name: str, group: str, around: Surroundings) -> None:
        self.name = name
        self.group = group
        self.around = around
        self.incarnation = 0
        #: The version of the code the current incarnation runs (1 unless the scenario has an upgrade).
        self.version = 1
        self.alive = False
        self._redeployed = False  # stopped by a deploy: back at once, with no drawn downtime
        self._scope: trio.CancelScope | None = None
        self._wake = trio.Event()

    async def run(self) -> None:
        around = self.around
        config = around.config
        while True:
            self.incarnation += 1
            self.alive = True
            if len(around.versions) > 1:  # which version this incarnation runs: the checks name it
                self.version = around.version_of(self.name)
                around.trace.add(trio.current_time(), self.name, self.incarnation, "start", "", self.group,
                                 version=str(self.version))
            else:
                around.trace.add(trio.current_time(), self.name, self.incarnation, "start", "", self.group)
            worker, fresh = self._worker()
            try:
                with trio.CancelScope() as scope:
                    self._scope = scope
                    await worker.serve()
            finally:  # the incarnation has ended: nothing runs in its module copies any more
                copy_pool.give_back(fresh)
            self.alive = False
            self._wake = trio.Event()
            if self._redeployed:
                self._redeployed = False
                continue
            with trio.move_on_after(config.restart_delay * around.injector.amount("restart")):
                await self._wake.wait()

    def _worker(self) -> tuple[Worker, FreshModules]:
        """This incarnation's worker: a fresh process, with its own copies of the user's modules (made when
        first needed, or ones an ended incarnation left unchanged since fresh: ``copy_pool``) of the
        version it runs, values decoding to their classes, and its own dependencies."""
        around, config, name, incarnation = self.around, self.around.config, self.name, self.incarnation
        version = around.versions[self.version - 1]
        fresh = copy_pool.take(version.isolated)
        worker = Worker(
            around.network.store_for(name, incarnation, self.crash_now),
            group=self.group,
            id=f"{name}#{incarnation}",
            ttl=config.ttl,
            poll_interval=config.poll_interval,
            root_timeout=config.root_timeout,
            clock=TrioClock(),
            rng=around.rng,
            on_body=around.body_hook(name, incarnation),
            on_end=around.end_hook,
            sweeps=False,
            on_error=around.error_hook(name, incarnation),
            registry=FreshRegistry(fresh, version.functions),
        )
        set_process(f"{name}#{incarnation}")  # tasks the worker spawns inherit it
        class_modules.set(fresh.get)
        for dep_name, obj in make_dependencies(around.scenario, fresh).items():
            worker.set_dependency(dep_name, obj)
        return worker, fresh

    def kill(self, why: str, **data: str) -> None:
        """Crash this incarnation from outside (a scripted crash): cancel everything it runs.
        ``data`` says where, for the trace's structured fields (``when="await", about=id``)."""
        self.around.trace.add(trio.current_time(), self.name, self.incarnation, "crash", "", why, **data)
        self.alive = False
        assert self._scope is not None
        self._scope.cancel()

    def redeploy(self) -> None:
        """Stop this incarnation for a deploy (like a crash: it loses what it held) and start the next at
        once; it runs the version the deploy says."""
        self._redeployed = True
        self.kill("deploy", when="deploy")

    def wake(self) -> None:
        """Restart a crashed process now instead of after its downtime."""
        self._wake.set()

    async def crash_now(self, where: str, **data: str) -> None:
        """Crash this incarnation here: every task of the process is cancelled, its memory dropped.
        ``data`` says where, for the trace's structured fields (``when``, ``op``, ``about``)."""
        self.around.trace.add(trio.current_time(), self.name, self.incarnation, "crash", "", where, **data)
        self.alive = False
        assert self._scope is not None
        self._scope.cancel()
        await trio.lowlevel.checkpoint()  # raises Cancelled: the calling task unwinds with the rest
