"""The actors of a world at work (``sim.scenario.actors`` says what they are): each delivery a task that
sleeps until its time, then sends its request through the network as a client of its own (``actor1``,
``actor2``, ...): drops, duplicates and delays apply to it, crashes and partitions do not (they strike
worker processes). A request the store cannot take yet ("not found": the promise does not exist; or no
answer at all) is sent again with backoff for the actor's ``retry_for`` seconds, then given up."""

from __future__ import annotations

import trio

from pytest_durable.core.errors import NotFound, StoreError, StoreUnavailable, UsageError
from pytest_durable.core.records import PromiseState
from pytest_durable.core.store import TAG_ORIGIN, TAG_SCOPE

from ..kernel import virtual_time
from ..kernel.decisions import Decisions
from ..scenario import Actor, Scenario, SimConfig
from ..scenario.actors import WINDOW_STEPS
from ..trace import Trace
from .network import Network, SimStore

#: An actor's backoff between sends: from this, doubling, up to ``BACKOFF_CAP`` (a webhook sender's).
BACKOFF = 1.0
BACKOFF_CAP = 60.0


class Actors:
    """A world's actors: their deliveries, run in the world's nursery, and what is still to be done."""

    def __init__(self, scenario: Scenario, config: SimConfig, network: Network, decisions: Decisions,
                 trace: Trace) -> None:
        self.scenario = scenario
        self.config = config
        self.network = network
        self.decisions = decisions
        self.trace = trace
        #: Deliveries not yet done (sent and answered, or given up), by the actor's name.
        self.unfinished: dict[str, int] = {}
        self._named: dict[str, Actor] = {}
        self.finished = trio.Event()

    async def run(self) -> None:
        """Draw when each actor acts (in the order the scenario lists them), then carry out every delivery."""
        async with trio.open_nursery() as nursery:
            for n, actor in enumerate(self.scenario.actors, 1):
                name = f"actor{n}"
                times = self._times(actor)
                if not times:
                    self.trace.add(trio.current_time(), name, 0, "actor", actor.id, f"{actor}: never acts (drawn)")
                    continue
                self.unfinished[name] = len(times)
                self._named[name] = actor
                store = self.network.store_for(name, 0)
                for at in times:
                    nursery.start_soon(self._deliver, name, store, actor, at, name=f"{name} {actor}")
        self.finished.set()

    def _times(self, actor: Actor) -> list[float]:
        """When ``actor`` acts, each of its ``times`` (none if it drew not to act at all)."""
        if actor.maybe and self.decisions.choose("actor_acts", 2):
            return []
        first, last = actor.window
        steps = WINDOW_STEPS if last > first else 1
        return sorted(first + (last - first) * self.decisions.choose("actor_at", steps) / max(steps - 1, 1)
                      for _ in range(actor.times))

    def waiting(self) -> list[str]:
        """The actors with deliveries still to do, each as ``actor1 resolve(approval-7)``."""
        return [f"{name} {self._named[name]}" for name, left in self.unfinished.items() if left]

    async def _deliver(self, name: str, store: SimStore, actor: Actor, at: float) -> None:
        await virtual_time.sleep_until(at)
        give_up = trio.current_time() + actor.retry_for
        backoff = BACKOFF
        while True:
            try:
                detail = await self._send(store, actor)
                break
            except NotFound:
                why = "not found"
            except StoreUnavailable:
                why = "no answer"
            except (StoreError, UsageError) as exc:
                detail = f"refused: {exc}"
                break
            if trio.current_time() + backoff > give_up:
                detail = f"{why}; gave up after {actor.retry_for:g} s"
                break
            self.trace.add(trio.current_time(), name, 0, "actor", actor.id, f"{actor}: {why}, again in {backoff:g} s")
            await virtual_time.sleep(backoff)
            backoff = min(backoff * 2, BACKOFF_CAP)
        self.trace.add(trio.current_time(), name, 0, "actor", actor.id, f"{actor}: {detail}")
        self.unfinished[name] -= 1

    async def _send(self, store: SimStore, actor: Actor) -> str:
        """One request, through the network (which retries a lost one up to its attempts); what came of it."""
        if actor.kind == "start":
            timeout = actor.timeout if actor.timeout is not None else self.config.root_timeout
            tags = {TAG_ORIGIN: actor.id, TAG_SCOPE: "global"}
            record = await store.create_promise(actor.id, actor.param, trio.current_time() + timeout, tags,
                                                target=actor.group or self.scenario.group)
            return f"started, {record.state.value}" if record.param == actor.param else "already exists as another call"
        state = PromiseState.RESOLVED if actor.kind == "resolve" else PromiseState.REJECTED
        record = await store.settle_promise(actor.id, state, actor.value)
        done = record.state is state and record.value == actor.value
        return f"{record.state.value}" if done else f"already {record.state.value}"
