"""An in-process worker: runs durable functions under trio over any store (``MemoryStore`` by default).

It is the smallest runtime that makes the model usable: it polls the store for due tasks of its
group, acquires them with a lease, heartbeats while it runs them, and lets callers start roots and
await their results.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, Generic, TypeVar

import attrs
import trio

from ..core.clock import Clock, TrioClock
from ..core.codec import describe_call, encode, encode_call, encode_error
from ..core.errors import (
    Fenced,
    MissingDependency,
    NondeterminismError,
    NotFound,
    PlatformError,
    RegistrationError,
    SignalSwallowed,
    TaskFailed,
    TaskStateError,
    UsageError,
    UserBaseException,
)
from ..core.ids import check_root_id
from ..core.memory_store import MemoryStore
from ..core.records import Fence, PromiseRecord, PromiseState, TaskRecord
from ..core.store import TAG_ORIGIN, TAG_SCOPE, Store
from .cancellation import CancelReport, cancel_branch
from .dependencies import check_name
from .drain import Drain
from .execution import BodyHook, EndHook
from .executor import Executor, first_platform_error
from .function import DurableFunction, Registry
from .leases import LeaseKeeper
from .settlement import result_of
from .task_events import Acquired, Failed, TaskHook

T = TypeVar("T")

#: Errors that no retry can fix: the task is left pending in the store and the error is reported.
FATAL = (NondeterminismError, RegistrationError, UserBaseException, MissingDependency, SignalSwallowed)

#: Seconds a worker waits before it asks a store again that could not be reached.
RETRY_UNREACHABLE = 0.5

#: Called with (task id, promise id at fault, error) when a task fails with a ``FATAL`` error.
ErrorHook = Callable[[str, str, BaseException], None]


def culprit(task: TaskRecord, error: BaseException) -> str:
    """The promise a fatal error is about: the workflow whose replay diverged, the body that raised
    a ``BaseException``, or else the task's own promise (e.g. one whose function is unknown)."""
    if isinstance(error, NondeterminismError) and error.workflow:
        return error.workflow
    if isinstance(error, (UserBaseException, MissingDependency, SignalSwallowed)):
        return error.id
    return task.promise_id


@attrs.frozen
class StopReport:
    """What ``Worker.stop`` did: the tasks running when it began, how many of them ended (or suspended)
    within the grace period, and how many it released to the store for another worker."""

    running: int
    finished: int
    released: int


class Handle(Generic[T]):
    """A root workflow started on a worker; ``await handle.result()`` waits for its outcome."""

    def __init__(self, worker: Worker, id: str) -> None:
        self.worker = worker
        self.id = id

    async def record(self) -> PromiseRecord:
        """The root's promise record as the store has it now."""
        return await self.worker.store.get_promise(self.id)

    async def result(self) -> T:
        """The root's value, or its error raised; a fatal worker error in its tree is raised too (met
        by this worker, or recorded on the root's task by a worker in another process: ``TaskFailed``).
        Waiting is the store's long poll (``await_settled``), woken early by this worker's own news."""
        while True:
            record = await self.worker._await_settled(self.id)
            fatal = self.worker.fatal_error(self.id)  # this worker's own news first, as it came first
            if fatal is not None:
                raise fatal
            if record is None:
                continue
            if record.settled:
                return result_of(record)  # type: ignore[return-value]
            with contextlib.suppress(NotFound):  # a promise without a task (settled from outside)
                task = await self.worker.store.get_task(self.id)
                if task.error is not None:  # recorded by whichever worker met it, in any process
                    raise TaskFailed(self.id, task.error, task.failures)


class Worker:
    """Runs the durable functions registered on it, for tasks of its ``group``.

    ``ttl`` is the lease a task is held with (heartbeats every ``ttl/3``, so a refused heartbeat gets
    a second try before the lease ends); ``poll_interval`` the longest one long poll for due tasks
    (``Store.dispatch(..., wait=)``) waits before it asks again: the store answers as soon as a task is
    due, so it bounds only how long a store that missed a change keeps a worker waiting. With
    ``sweeps`` the worker also asks the store to apply due timeouts before each poll (a store with its
    own sweeper, like the simulator's server or a live fleet's, needs not).
    ``on_error`` is called with (task id, promise id, error) whenever a task fails with an error no
    retry can fix (nondeterminism, an unknown function, a missing dependency, a ``BaseException`` from a
    body); the error is also kept in ``errors`` and raised by ``Handle.result()``. Objects the bodies
    need (clients) are given with ``set_dependency``. ``registry`` is where it looks functions up (a
    simulated process passes one that loads its functions when first asked). ``on_body`` and ``on_end``
    are the executor's hooks (``Executor``). ``on_task`` is told what happens to each task it runs
    (``sdk/task_events.py``: acquired, taken over, started, ended, failed), for logs and metrics.
    ``concurrency`` is the most tasks it runs at once: it asks
    the store for at most its free slots and does not poll while full, so idle workers take their
    share (``None``: no limit, up to 64 taken per poll). With ``reclaim`` it first takes back the tasks
    whose lease its ``id`` still holds (a restart under a stable id: ``Store.reclaim_tasks``).
    ``stop(grace)`` stops it cleanly, releasing what it holds. Start it with
    ``async with worker.running():``.
    """

    def __init__(
        self,
        store: Store | None = None,
        *,
        group: str = "default",
        id: str = "worker",
        ttl: float = 30.0,
        poll_interval: float = 5.0,
        root_timeout: float = 86_400.0,
        clock: Clock | None = None,
        rng: Callable[[], float] | None = None,
        on_body: BodyHook | None = None,
        on_end: EndHook | None = None,
        sweeps: bool = True,
        on_error: ErrorHook | None = None,
        registry: Registry | None = None,
        concurrency: int | None = None,
        reclaim: bool = False,
        on_task: TaskHook | None = None,
    ) -> None:
        for name, value in (("ttl", ttl), ("poll_interval", poll_interval), ("root_timeout", root_timeout)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise UsageError(f"Worker: {name} must be a number of seconds > 0, got {value!r}")
        if concurrency is not None and (isinstance(concurrency, bool) or not isinstance(concurrency, int)
                                        or concurrency < 1):
            raise UsageError(f"Worker: concurrency must be a whole number of tasks >= 1 (or None: no limit), "
                             f"got {concurrency!r}")
        self.concurrency = concurrency
        self.reclaim = reclaim
        self.clock: Clock = clock if clock is not None else TrioClock()
        self.store: Store = store if store is not None else MemoryStore(self.clock)
        self.group = group
        self.id = id
        self.ttl = float(ttl)
        self.poll_interval = float(poll_interval)
        self.root_timeout = float(root_timeout)
        self.sweeps = sweeps
        self.registry = registry if registry is not None else Registry()
        self.dependencies: dict[str, object] = {}
        self.drain = Drain()
        self.executor = Executor(
            self.store, self.registry, self.clock,
            rng=rng if rng is not None else random.Random().random, on_body=on_body,
            on_end=on_end, dependencies=self.dependencies, drain=self.drain, on_task=on_task,
        )
        self.on_task = on_task
        self.errors: list[tuple[str, BaseException]] = []
        self.on_error = on_error
        self._fatal: dict[str, BaseException] = {}
        self._running: set[str] = set()
        self._executions: dict[str, tuple[Fence, trio.CancelScope]] = {}  # task id -> its fence and scope
        self._polling: trio.CancelScope | None = None  # the poll loop of ``serve``, while it runs
        self._stopped: trio.Event | None = None  # set when ``stop`` has released what it holds
        self._released: set[str] = set()  # tasks ``stop`` cancelled, to be released by their runners
        self._gave_back: set[str] = set()  # of those, the ones the store took back
        #: How many tasks ``serve`` took back on start (``reclaim``).
        self.reclaimed = 0
        self.leases = LeaseKeeper(self.store, self.ttl, self.id)
        self._changed = trio.Event()

    # -- set-up --------------------------------------------------------------------------------------

    def register(self, *fns: DurableFunction[..., Any]) -> None:
        """Make ``fns`` runnable by this worker (roots and rpc children are looked up by name)."""
        for fn in fns:
            self.registry.register(fn)

    def set_dependency(self, name: str, obj: object) -> None:
        """Hand ``obj`` (a payment client, a connection pool) to the bodies this worker runs: any body
        reads it with ``pytest_durable.dependency(name)``, a workflow also with ``ctx.get_dependency``.
        It lives in this process only (never in the store); each name is set once."""
        check_name(name, "Worker.set_dependency")
        if name in self.dependencies:
            raise UsageError(f"Worker.set_dependency: {name!r} is already set on worker {self.id!r}; a worker has "
                             "one object per name, so pick another name or set it once")
        self.dependencies[name] = obj

    # -- starting roots and settling promises from outside -------------------------------------------

    async def run(self, id: str, fn: DurableFunction[..., T], /, *args: Any, **kwargs: Any) -> Handle[T]:
        """Start root ``id`` running ``fn(*args, **kwargs)`` (or find it, if ``id`` exists) and
        return its handle. The call is encoded before anything is written."""
        check_root_id(id, where="Worker.run")
        if not isinstance(fn, DurableFunction):
            raise UsageError(
                f"Worker.run: {getattr(fn, '__qualname__', fn)!r} is not a durable function; "
                "decorate it with @pytest_durable.function"
            )
        if self.registry.get(fn.name) is not fn:
            raise RegistrationError(
                f"Worker.run: the name {fn.name!r} is registered for another function; register this one"
            )
        fn.check_arguments(args, kwargs, where="Worker.run")
        param = encode_call(fn.name, args, kwargs, names=fn.param_names)
        tags = {TAG_ORIGIN: id, TAG_SCOPE: "global"}
        record = await self.store.create_promise(
            id, param, self.clock.now() + self.root_timeout, tags, target=self.group
        )
        if record.param != param:
            raise UsageError(root_conflict(id, record.param, param, where="Worker.run"))
        self._notify()
        return Handle(self, id)

    def handle(self, id: str) -> Handle[Any]:
        """A handle on an existing root, e.g. one started before a crash."""
        return Handle(self, check_root_id(id, where="Worker.handle"))

    async def resolve(self, id: str, value: object = None) -> PromiseRecord:
        """Settle promise ``id`` (e.g. one made by ``ctx.promise``) with ``value``."""
        record = await self.store.settle_promise(id, PromiseState.RESOLVED, encode(value, what=f"the value for {id}"))
        self._notify()
        return record

    async def reject(self, id: str, error: BaseException) -> PromiseRecord:
        """Settle promise ``id`` as rejected with ``error``."""
        record = await self.store.settle_promise(id, PromiseState.REJECTED, encode_error(error))
        self._notify()
        return record

    async def cancel(self, id: str) -> CancelReport:
        """Cancel promise ``id`` and everything under it: each pending promise of its branch (children,
        timers, promises awaited from outside) is settled ``rejected_canceled``, and a worker running it
        is fenced at its next write (``sdk/cancellation.py``). ``report.record`` is ``id``'s record after."""
        report = await cancel_branch(self.store, id)
        self._notify()
        return report

    # -- serving -------------------------------------------------------------------------------------

    @asynccontextmanager
    async def running(self) -> AsyncIterator[Worker]:
        """Serve in the background for the duration of the block; leaving it stops the worker.

        An error raised in the block comes out as itself, not wrapped in an exception group.
        """
        raised: BaseException | None = None
        async with trio.open_nursery() as nursery:
            await nursery.start(self.serve)
            try:
                yield self
            except BaseException as exc:
                raised = exc
            finally:
                nursery.cancel_scope.cancel()
        if raised is not None:
            raise raised

    async def serve(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Take due tasks and run them until cancelled or stopped (``stop``): one long poll at a time, so
        an idle worker costs its store one request per ``poll_interval`` and a due task starts at once."""
        async with trio.open_nursery() as nursery:
            self.leases.serve_in(nursery)
            self._stopped = trio.Event()
            if self.reclaim:
                await self._reclaim(nursery)
            task_status.started()
            await self._poll(nursery)
            await self._stopped.wait()  # ``stop`` cancelled the polling: wait until it has released all
            nursery.cancel_scope.cancel()

    async def _reclaim(self, nursery: trio.Nursery) -> None:
        """Take back, with a new lease, the tasks this worker's id held before a restart, and run them."""
        sent = trio.current_time()
        try:
            reclaimed = await self.store.reclaim_tasks(self.group, self.id, self.ttl)
        except PlatformError:  # unreachable: their leases run out, and they are dispatched as any other
            return
        self.reclaimed = len(reclaimed)
        for task in reclaimed:
            self._start(nursery, task, sent + self.ttl, reclaimed=True)

    async def _poll(self, nursery: trio.Nursery) -> None:
        """Long polls for due tasks, each acquired and started, until ``stop`` begins (it cancels only a
        poll's wait, never an acquire, so no task is taken and then left unrun)."""
        while not self.drain.stopping:
            limit = 64 if self.concurrency is None else self.concurrency - len(self._running)
            if limit <= 0:  # full: ask for nothing until a task ends
                await self._wait_for_change(self.poll_interval)
                continue
            asked = trio.current_time()
            due: list[TaskRecord] | None = []
            with trio.CancelScope() as self._polling:
                try:
                    if self.sweeps:
                        await self.store.sweep()
                    due = await self.store.dispatch(self.group, limit=limit, wait=self.poll_interval)
                except PlatformError:  # the store is unreachable: a worker outlives it, and asks again
                    due = None
            self._polling = None
            for task in due or ():
                if task.id in self._fatal or task.id in self._running or self.drain.stopping:
                    continue
                sent = trio.current_time()
                try:
                    acquired = await self.store.acquire_task(task.id, self.id, self.ttl)
                except (TaskStateError, NotFound):
                    continue
                except PlatformError:
                    break
                self._start(nursery, acquired, sent + self.ttl)
            if self.drain.stopping:
                break
            if due is None or (not due and trio.current_time() < asked + self.poll_interval):
                # unreachable, or a store that answered "nothing" before its wait was up: never spin
                await self._wait_for_change(min(self.poll_interval, RETRY_UNREACHABLE))

    def _start(self, nursery: trio.Nursery, task: TaskRecord, lease_until: float, *, reclaimed: bool = False) -> None:
        self._running.add(task.id)
        if self.on_task is not None:
            self.on_task(Acquired(task, reclaimed=reclaimed))
        nursery.start_soon(self._run_task, task, lease_until, name=f"durable task {task.id}")

    @property
    def running_tasks(self) -> int:
        """How many tasks this worker is running now."""
        return len(self._running)

    async def stop(self, grace: float) -> StopReport:
        """Stop cleanly: take no more work at once; give the running executions ``grace`` seconds to end
        or reach their next durable boundary (a running leaf records its result; no body starts); then
        cancel what is left and release its tasks, due at once, so another worker takes them without
        waiting out a lease. Returns when every task is released; ``serve`` then returns."""
        if isinstance(grace, bool) or not isinstance(grace, (int, float)) or not grace >= 0:
            raise UsageError(f"Worker.stop: grace must be a number of seconds >= 0, got {grace!r}")
        running = len(self._running)
        self.drain.begin()
        if self._polling is not None:
            self._polling.cancel()
        self._notify()  # a poll loop waiting for a free slot looks again, and ends
        with trio.move_on_after(grace):
            async with trio.open_nursery() as waiting:
                async def all_done() -> None:
                    while self._running:
                        await self._changed.wait()
                    waiting.cancel_scope.cancel()

                async def quiet() -> None:
                    await self.drain.quiet.wait()
                    waiting.cancel_scope.cancel()
                waiting.start_soon(all_done)
                waiting.start_soon(quiet)
        finished = running - len(self._running)
        for task_id, (_, scope) in list(self._executions.items()):
            self._released.add(task_id)
            scope.cancel()
        while self._running:
            await self._changed.wait()
        released = len(self._released & self._gave_back)
        if self._stopped is not None:
            self._stopped.set()
        return StopReport(running=running, finished=finished, released=released)

    async def _run_task(self, task: TaskRecord, lease_until: float) -> None:
        fence = Fence(task.id, task.version)
        error: BaseException | None = None
        try:
            try:
                with trio.CancelScope() as execution:  # cancelled by the lease keeper if the lease may be lost
                    self._executions[task.id] = (fence, execution)
                    if self.drain.stopping:  # started as the worker began to stop: give it back unrun
                        self._released.add(task.id)
                        execution.cancel()
                    lease = self.leases.hold(fence, lease_until, execution)
                    try:
                        await self.executor.execute(task)
                    except (*FATAL, PlatformError) as exc:
                        error = exc
                    finally:
                        self.leases.drop(lease)
            except BaseExceptionGroup as group:
                # Cancellation (self-fencing, or the worker stopping) met a child's store call that was
                # already being refused (a store call that does not suspend cannot be cancelled). The
                # platform error is this task's; only the rest (the outer cancellation) goes on up.
                platform, rest = group.split(PlatformError)
                if rest is not None:
                    found = None if platform is None else first_platform_error(platform)
                    if found is not None:
                        self.errors.append((task.id, found))
                    raise rest from None
                error = first_platform_error(group)
            if error is None:
                return
            self.errors.append((task.id, error))
            if self.on_task is not None:
                self.on_task(Failed(task, error, culprit(task, error), isinstance(error, FATAL),
                                    released=not isinstance(error, Fenced)))
            if isinstance(error, FATAL):
                self._fatal[task.id] = error
                if self.on_error is not None:
                    self.on_error(task.id, culprit(task, error), error)
            if not isinstance(error, Fenced):  # a fenced worker's lease is gone: the holder carries on
                # A fatal error goes into the store, so every process sees it, and the task waits longer
                # and longer before any worker tries it again (core.store.failure_delay).
                fatal = None
                if isinstance(error, FATAL):
                    fatal = f"{type(error).__name__} at {culprit(task, error)}: {error}"
                await self._release(fence, error=fatal)
        finally:
            self._executions.pop(task.id, None)
            if task.id in self._released and error is None:  # cancelled by ``stop``: give it back at once
                with trio.move_on_after(self.ttl) as releasing:  # by then the lease has run out anyway
                    releasing.shield = True
                    if await self._release(fence):
                        self._gave_back.add(task.id)
            self._running.discard(task.id)
            self._notify()

    async def _release(self, fence: Fence, *, error: str | None = None) -> bool:
        """Release the task; ``False`` if the store refused (fenced) or could not be reached: then its
        lease expires instead."""
        try:
            await self.store.release_task(fence, error=error)
        except PlatformError:
            return False
        return True

    # -- waiting -------------------------------------------------------------------------------------

    def fatal_error(self, root: str) -> BaseException | None:
        """A fatal error (nondeterminism, unknown function) of a task in ``root``'s tree, if any."""
        for task_id, exc in self._fatal.items():
            if task_id == root or task_id.startswith(root + "."):
                return exc
        return None

    def _notify(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    async def _wait_for_change(self, timeout: float) -> None:
        with trio.move_on_after(timeout):
            await self._changed.wait()

    async def _await_settled(self, id: str) -> PromiseRecord | None:
        """``id``'s record once settled or after a long poll's wait, or ``None`` when this worker's own
        news (a task of it failed for good) came first."""
        if self.fatal_error(id) is not None:
            return None
        changed = self._changed
        found: list[PromiseRecord] = []
        async with trio.open_nursery() as nursery:
            async def settled() -> None:
                found.append(await self.store.await_settled(id, wait=self.poll_interval))
                nursery.cancel_scope.cancel()
            nursery.start_soon(settled)
            await changed.wait()
            nursery.cancel_scope.cancel()
        return found[0] if found else None



def root_conflict(id: str, recorded: str, new: str, *, where: str) -> str:
    """The error for starting root ``id`` as call ``new`` when the store holds it as call ``recorded``: an id
    means one execution, so a second start with another function or other arguments is refused."""
    return (f"{where}: root {id!r} already exists as {describe_call(recorded)}; it cannot also start "
            f"{describe_call(new)}: give this run another id, or wait for the existing one")

__all__ = ["Handle", "StopReport", "Worker"]
