"""The executor: one attempt at one task, running its function from the top (docs/architecture.md,
"Execution and replay")."""

from __future__ import annotations

import enum
import random
from collections.abc import Callable, Mapping
from typing import Any

import trio

from ..core.clock import Clock
from ..core.codec import decode_call
from ..core.errors import PlatformError
from ..core.records import Fence, PromiseRecord, SuspendResult, TaskRecord
from ..core.store import Store
from .drain import Drain
from .engine import INTERRUPTS, run_leaf, run_workflow, user_base_exception
from .execution import BodyHook, EndHook, Execution
from .function import DurableFunction, Registry
from .settlement import Settlement, Suspended
from .task_events import Ended, Started, TaskHook


class Outcome(enum.Enum):
    """How an attempt at a task ended."""

    FULFILLED = "fulfilled"  # the function returned or raised; its promise is settled
    SUSPENDED = "suspended"  # it awaits a pending remote promise; the store resumes it later
    GONE = "gone"  # its promise was already settled (e.g. timed out); nothing to do


def first_platform_error(group: BaseExceptionGroup[BaseException]) -> PlatformError | None:
    """The first platform error in a (nested) exception group, in the group's order."""
    for exc in group.exceptions:
        if isinstance(exc, PlatformError):
            return exc
        if isinstance(exc, BaseExceptionGroup):
            found = first_platform_error(exc)
            if found is not None:
                return found
    return None


class Executor:
    """Runs tasks for one worker: replays what the store recorded, runs what is pending.

    ``on_body`` is called with a promise id and the function each time a function body starts; the simulator and
    the tests use it to check that no settled child's body runs again. For a leaf it is called
    inside the attempt, so an ``Exception`` it raises counts as a failed attempt (fault injection).
    ``on_end`` is called with a ``WorkflowEnd`` each time a workflow body ends with a settlement (what it
    asked for and read); the simulator compares it with the final record. ``on_task`` is the worker's
    hook (``sdk/task_events.py``): told once per attempt when the body starts and how the attempt ended.
    """

    def __init__(
        self,
        store: Store,
        registry: Registry,
        clock: Clock,
        *,
        rng: Callable[[], float] | None = None,
        on_body: BodyHook | None = None,
        on_end: EndHook | None = None,
        dependencies: Mapping[str, object] | None = None,
        drain: Drain | None = None,
        on_task: TaskHook | None = None,
    ) -> None:
        self.store = store
        self.on_task = on_task
        self.registry = registry
        self.clock = clock
        self.rng: Callable[[], float] = rng if rng is not None else random.Random().random
        self.on_body = on_body
        self.on_end = on_end
        #: What bodies read with ``pytest_durable.dependency``; the worker's own dict, so later
        #: ``set_dependency`` calls are seen.
        self.dependencies: Mapping[str, object] = dependencies if dependencies is not None else {}
        #: The worker's stop (``sdk/drain.py``): once it begins, no body starts and running leaves finish.
        self.drain = drain

    async def execute(self, task: TaskRecord) -> Outcome:
        """Run ``task`` (acquired by the caller) until its promise is settled or it suspends.

        Platform errors propagate unwrapped (a plain ``PlatformError``, not a group) so the caller
        can release the task; user errors settle the promise as rejected.
        """
        try:
            return await self._execute(task)
        except BaseExceptionGroup as group:
            if group.subgroup(INTERRUPTS) is not None:
                raise  # an interrupt stops everything; it is never taken for a platform error
            platform = first_platform_error(group)
            if platform is not None and not _has_cancelled(group):
                raise platform from None
            raise

    async def _execute(self, task: TaskRecord) -> Outcome:
        fence = Fence(task.id, task.version)
        tell = self.on_task
        started = False
        while True:
            records = await self.store.get_branch(task.promise_id)
            root = records[0]
            if root.settled:
                if tell is not None:
                    tell(Ended(task, root))
                return Outcome.GONE
            call = decode_call(root.param)
            fn = self.registry.get(call.func)
            if tell is not None and not started:  # once per attempt, not again after a redirect
                started = True
                tell(Started(task, root, fn.name))
            ex = Execution(
                store=self.store, fence=fence, registry=self.registry, clock=self.clock, rng=self.rng,
                target=task.target, origin=root.tags.get("durable:origin", root.id),
                branch={r.id: r for r in records}, on_body=self.on_body, on_end=self.on_end,
                dependencies=self.dependencies, drain=self.drain,
            )
            args, kwargs = tuple(call.args), dict(call.kwargs)
            if fn.is_workflow or self.drain is None:
                outcome = await self._attempt(ex, fn, task, root, args, kwargs)
            else:
                with self.drain.leaf():  # a stopping worker waits for a root leaf until its result is recorded
                    outcome = await self._attempt(ex, fn, task, root, args, kwargs)
            if outcome is not None:
                return outcome

    async def _attempt(
        self, ex: Execution, fn: DurableFunction[..., Any], task: TaskRecord, root: PromiseRecord,
        args: tuple[Any, ...], kwargs: dict[str, Any],
    ) -> Outcome | None:
        """One run of the root's function from the top: how the task ended, or ``None`` to run it again
        (a suspend answered *redirect*)."""
        fence = ex.fence
        tell = self.on_task
        settlement: Settlement | None = None
        try:
            with trio.move_on_at(ex.trio_deadline(root.timeout_at)):
                if fn.is_workflow:
                    settlement = await run_workflow(ex, fn, root, args, kwargs)
                else:
                    settlement = await self._run_root_leaf(ex, fn, root, args, kwargs)
        except Suspended:
            answer = await self.store.suspend_task(fence, list(ex.awaiting))
            if answer is SuspendResult.REDIRECT:
                return None
            if tell is not None:
                tell(Ended(task, None))
            return Outcome.SUSPENDED
        if settlement is None:  # the root's deadline passed; the store times it out
            timed_out = await self.store.get_promise(root.id)
            if tell is not None:
                tell(Ended(task, timed_out))
            return Outcome.GONE
        state, value = settlement
        settled = await self.store.fulfill_task(fence, state, value)
        if tell is not None:
            tell(Ended(task, settled, settled_here=True))
        return Outcome.FULFILLED


    @staticmethod
    async def _run_root_leaf(
        ex: Execution, fn: DurableFunction[..., Any], root: PromiseRecord, args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Settlement:
        try:
            return await run_leaf(ex, fn, root, args, kwargs, None)  # the leaf's own retry policy
        except BaseException as exc:  # SystemExit & co. from the body: fatal for the task, not the worker
            converted = user_base_exception(root.id, exc)
            if converted is None:
                raise
            raise converted from exc


def _has_cancelled(group: BaseExceptionGroup[BaseException]) -> bool:
    return group.subgroup(trio.Cancelled) is not None

