"""``Context``: what a workflow uses to call children, and the rules that replay them (DESIGN §4).

Every ``ctx.run``/``ctx.rpc`` takes the next child id, looks the child up in the preloaded branch and
either replays its recorded outcome or creates it. Local children run their body here (again, if
they were pending); remote ones are settled elsewhere and a pending one suspends the workflow.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator, Mapping
from typing import Any, Generic, NoReturn, TypeVar

import attrs
import trio

from ..core.clock import Clock
from ..core.codec import decode_call, describe_call, encode, encode_call, encode_error
from ..core.errors import EncodingError, Interrupted, NondeterminismError, PlatformError, UsageError, UserBaseException
from ..core.ids import child_id
from ..core.records import Fence, PromiseRecord, PromiseState
from ..core.store import TAG_ORIGIN, TAG_PARENT, TAG_SCOPE, TAG_TARGET, TAG_TIMER, Store
from .dependencies import dependency, entering, leaving
from .function import DurableFunction, Registry
from .futures import DurableFuture, RemoteFuture
from .retry import DEFAULT_RETRY, RETRY_POLICIES, RetryPolicy, is_final
from .running import current_context, current_promise
from .settlement import Settlement, Suspended, result_of

T = TypeVar("T")

#: Called with (promise id, function) whenever a body starts; see ``Executor``.
BodyHook = Callable[[str, DurableFunction[..., Any]], None]

#: How deep local child workflows (``ctx.run`` of a workflow) may nest in one task. Each level is a
#: few frames of Python stack and a trio nursery; far deeper, Python's recursion limit breaks trio's
#: own bookkeeping and the whole worker with it. Deeper recursion belongs in ``ctx.rpc`` children.
MAX_LOCAL_DEPTH = 100

#: Exceptions that pass every layer of the SDK untouched: interrupts are the user's (DESIGN §5).
INTERRUPTS = (KeyboardInterrupt, Interrupted)


@attrs.define(eq=False)
class Execution:
    """The state of one attempt at one task: the store, the fence, the preloaded branch, and the
    worker's dependencies its bodies read (``pytest_durable.dependency``)."""

    store: Store
    fence: Fence
    registry: Registry
    clock: Clock
    rng: Callable[[], float]
    target: str
    origin: str
    branch: dict[str, PromiseRecord]
    awaiting: dict[str, None] = attrs.field(factory=dict)
    on_body: BodyHook | None = None
    dependencies: Mapping[str, object] = attrs.field(factory=dict)

    async def refresh(self, id: str) -> PromiseRecord:
        record = await self.store.get_promise(id)
        self.branch[id] = record
        return record

    def trio_deadline(self, timeout_at: float) -> float:
        """``timeout_at`` (store time) on trio's clock, which may differ from the store's."""
        if math.isinf(timeout_at):
            return timeout_at
        return trio.current_time() + (timeout_at - self.clock.now())


@attrs.frozen
class Options:
    """Per-call options: ``timeout`` seconds, leaf ``retry`` policy, explicit ``id``, rpc ``target``."""

    timeout: float | None = None
    retry: RetryPolicy | None = None
    id: str | None = None
    target: str | None = None

    def merged(
        self, *, timeout: float | None, retry: RetryPolicy | None, id: str | None, target: str | None
    ) -> Options:
        """These options with every given (not ``None``) value replaced."""
        return Options(
            timeout=self.timeout if timeout is None else timeout,
            retry=self.retry if retry is None else retry,
            id=self.id if id is None else id,
            target=self.target if target is None else target,
        )


def _check_options(where: str, timeout: float | None, retry: object, id: object, target: object) -> None:
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout < 0):
        raise UsageError(f"{where}.options: timeout must be a number of seconds >= 0, got {timeout!r}")
    if retry is not None and not isinstance(retry, RETRY_POLICIES):
        raise UsageError(f"{where}.options: retry must be Exponential, Linear, Constant or Never, got {retry!r}")
    if id is not None and (not isinstance(id, str) or not id or any(c.isspace() for c in id)):
        raise UsageError(f"{where}.options: id must be a non-empty string without white space, got {id!r}")
    if target is not None and (not isinstance(target, str) or not target):
        raise UsageError(f"{where}.options: target must be a non-empty group name, got {target!r}")


class Context:
    """Handed to a workflow as its first argument; every durable call goes through it."""

    def __init__(self, execution: Execution, id: str, deadline: float, nursery: trio.Nursery, depth: int = 0) -> None:
        self._execution = execution
        self._id = id
        self._deadline = deadline
        self._nursery = nursery
        self._next = 0
        self._asked: set[str] = set()
        self._depth = depth  # local workflows this one is nested in, within its task

    @property
    def id(self) -> str:
        """The id of this workflow's promise."""
        return self._id

    @property
    def deadline(self) -> float:
        """This workflow's deadline (store time); no child may outlive it."""
        return self._deadline

    def _check_here(self, what: str) -> None:
        if current_context.get() is not self:
            raise UsageError(
                f"ctx.{what} on the Context of {self._id} was called outside that workflow's body; "
                "use the ctx your own workflow received"
            )

    def _take_id(self, explicit: str | None) -> str:
        n = self._next
        self._next += 1
        id = explicit if explicit is not None else child_id(self._id, n)
        self._asked.add(id)
        return id

    def _check_all_asked(self) -> None:
        """A workflow that ends must have asked for every child an earlier execution recorded: one that
        makes fewer calls leaves those promises orphaned (a pending one forever)."""
        ex = self._execution
        skipped = [r for r in ex.branch.values() if r.tags.get(TAG_PARENT) == self._id and r.id not in self._asked]
        if skipped:
            first = skipped[0]
            raise NondeterminismError(
                first.id, describe_call(first.param),
                f"nothing (it ended after {len(self._asked)} call(s); {len(skipped)} recorded child(ren) of "
                f"{self._id} were never asked for)",
            )

    def run(self, fn: DurableFunction[..., T], /, *args: Any, **kwargs: Any) -> RunBuilder[T]:
        """A local child: ``await`` it to run it here and wait, or ``await ….spawn()`` to run it
        concurrently on its own trio task."""
        self._check_here("run")
        _check_durable(fn, "ctx.run")
        fn.check_arguments(args, kwargs, where="ctx.run")
        if fn.is_workflow and self._depth >= MAX_LOCAL_DEPTH:
            raise UsageError(
                f"ctx.run({fn.name}) in {self._id}: local child workflows nest at most {MAX_LOCAL_DEPTH} deep in "
                "one task, and this call would go deeper; call it with ctx.rpc (each rpc child runs as its "
                "own task) or make the recursion shallower"
            )
        param = encode_call(fn.name, args, kwargs, names=fn.param_names)
        return RunBuilder(self, fn, args, kwargs, param, Options())

    def rpc(self, fn: DurableFunction[..., T] | str, /, *args: Any, **kwargs: Any) -> RpcBuilder[T]:
        """A remote child: runs as its own task on a worker of the target group (default: this one's)."""
        self._check_here("rpc")
        if isinstance(fn, str):
            name, names = fn, tuple[str, ...]()
            if not fn or fn.startswith("durable."):
                raise UsageError(f"ctx.rpc: function name must be a registered durable function name, got {fn!r}")
        else:
            _check_durable(fn, "ctx.rpc")
            fn.check_arguments(args, kwargs, where="ctx.rpc")
            name, names = fn.name, fn.param_names
        param = encode_call(name, args, kwargs, names=names)
        return RpcBuilder(self, name, param, Options())

    async def sleep(self, seconds: float) -> None:
        """A durable timer: survives crashes; the workflow suspends until it fires. Like any child it
        ends no later than this workflow's deadline: a sleep past it times the workflow out then."""
        self._check_here("sleep")
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0:
            raise UsageError(f"ctx.sleep: seconds must be a number >= 0, got {seconds!r}")
        param = encode_call("durable.sleep", (seconds,), {})
        record = await self._create(self._take_id(None), param, self._child_deadline(seconds),
                                    timer=True, scope="global")
        await RemoteFuture[None](record.id, self, record)

    async def sleep_until(self, when: float) -> None:
        """A durable timer that fires at ``when`` (store-clock epoch seconds, e.g. ``due`` computed from
        ``await ctx.now()`` or from the workflow's arguments), however late its timer promise is made:
        after a crash and a slow recovery it fires on time, or at once if ``when`` has passed, where
        ``ctx.sleep(s)`` counts ``s`` from the moment its timer is created. Capped by this workflow's
        deadline, as ``ctx.sleep`` is."""
        self._check_here("sleep_until")
        if isinstance(when, bool) or not isinstance(when, (int, float)) or not math.isfinite(when):
            raise UsageError(f"ctx.sleep_until: when must be a finite number of epoch seconds, got {when!r}")
        param = encode_call("durable.sleep_until", (when,), {})
        record = await self._create(self._take_id(None), param, min(float(when), self._deadline),
                                    timer=True, scope="global")
        await RemoteFuture[None](record.id, self, record)

    async def promise(self, *, timeout: float, id: str | None = None) -> RemoteFuture[Any]:
        """A promise settled from outside the workflow (an approval, a webhook); await the future."""
        self._check_here("promise")
        _check_options("ctx.promise", timeout, None, id, None)
        param = encode_call("durable.promise", (timeout,), {})
        record = await self._create(self._take_id(id), param, self._child_deadline(timeout), scope="global")
        return RemoteFuture(record.id, self, record)

    def get_dependency(self, name: str) -> Any:
        """The object the worker registered as ``name``: the same as ``pytest_durable.dependency(name)``,
        which leaves (they have no ``Context``) use; spelled as in Resonate's SDK for workflows."""
        self._check_here("get_dependency")
        return dependency(name)

    async def random(self) -> float:
        """A random float in [0, 1), drawn once and replayed from the store after that."""
        self._check_here("random")
        return float(await self._recorded("durable.random", self._execution.rng))  # type: ignore[arg-type]

    async def now(self) -> float:
        """The current time (store clock), read once and replayed from the store after that."""
        self._check_here("now")
        return float(await self._recorded("durable.now", self._execution.clock.now))  # type: ignore[arg-type]

    async def _recorded(self, func: str, draw: Callable[[], float]) -> object:
        param = encode_call(func, (), {})
        record = await self._create(self._take_id(None), param, self._deadline, scope="local")
        if not record.settled:
            record = await self._execution.store.settle_promise(
                record.id, PromiseState.RESOLVED, encode(draw(), what=func), fence=self._execution.fence
            )
            self._execution.branch[record.id] = record
        return result_of(record)

    def _child_deadline(self, timeout: float | None) -> float:
        if timeout is None:
            return self._deadline
        return min(self._execution.clock.now() + timeout, self._deadline)

    async def _create(
        self, id: str, param: str, timeout_at: float, *, scope: str, target: str | None = None,
        timer: bool = False,
    ) -> PromiseRecord:
        """Look child ``id`` up in the branch, or create it; check it is the same call as recorded."""
        ex = self._execution
        record = ex.branch.get(id)
        if record is None:
            tags = {TAG_PARENT: self._id, TAG_ORIGIN: ex.origin, TAG_SCOPE: scope}
            if timer:
                tags[TAG_TIMER] = "true"
            record = await ex.store.create_promise(id, param, timeout_at, tags, target=target, fence=ex.fence)
            ex.branch[id] = record
        if record.param != param:
            raise NondeterminismError(id, describe_call(record.param), describe_call(param), self._id)
        recorded_how = _how(record.tags.get(TAG_SCOPE), record.tags.get(TAG_TARGET), record.tags.get(TAG_TIMER))
        new_how = _how(scope, target, "true" if timer else None)
        if recorded_how != new_how and TAG_SCOPE in record.tags:
            call = describe_call(param)
            raise NondeterminismError(
                id, f"{recorded_how[0]}({call}){recorded_how[1]}", f"{new_how[0]}({call}){new_how[1]}", self._id
            )
        return record


def _how(scope: str | None, target: str | None, timer: str | None) -> tuple[str, str]:
    """How a child was called, from its tags: ("ctx.run" or "ctx.rpc", " on target 'g'" or "")."""
    if scope == "local":
        return ("ctx.run", "")
    if timer == "true":
        return ("ctx.sleep", "")
    return ("ctx.rpc", f" on target {target!r}" if target is not None else "")


def _check_durable(fn: object, where: str) -> None:
    if not isinstance(fn, DurableFunction):
        name = getattr(fn, "__qualname__", repr(fn))
        raise UsageError(f"{where}: {name} is not a durable function; decorate it with @pytest_durable.function")


class RunBuilder(Generic[T]):
    """A local child call, not yet started. Start it once: ``await b`` or ``await b.spawn()``."""

    def __init__(
        self, ctx: Context, fn: DurableFunction[..., T], args: tuple[Any, ...], kwargs: dict[str, Any],
        param: str, options: Options,
    ) -> None:
        self._ctx = ctx
        self._fn = fn
        self._args = args
        self._kwargs = kwargs
        self._param = param
        self._options = options
        self._started = False

    def options(
        self, *, timeout: float | None = None, retry: RetryPolicy | None = None, id: str | None = None,
        target: str | None = None,
    ) -> RunBuilder[T]:
        """A copy with these options: ``timeout`` (seconds), ``retry`` (leaves only), ``id``."""
        _check_options("ctx.run", timeout, retry, id, target)
        if target is not None:
            raise UsageError("ctx.run(...).options: target applies to ctx.rpc only; a local child runs here")
        if retry is not None and self._fn.is_workflow:
            raise UsageError(
                f"ctx.run({self._fn.name}).options: retry applies to leaves only; a workflow is replayed, not retried"
            )
        opts = self._options.merged(timeout=timeout, retry=retry, id=id, target=None)
        return RunBuilder(self._ctx, self._fn, self._args, self._kwargs, self._param, opts)

    async def _start(self) -> PromiseRecord:
        self._ctx._check_here("run")
        if self._started:
            raise UsageError(
                f"ctx.run({self._fn.name}) was already started; call ctx.run again for another child"
            )
        self._started = True
        ctx = self._ctx
        return await ctx._create(
            ctx._take_id(self._options.id), self._param, ctx._child_deadline(self._options.timeout), scope="local"
        )

    def __await__(self) -> Generator[Any, None, T]:
        return self._run().__await__()

    async def _run(self) -> T:
        record = await self._start()
        record = await run_child(self._ctx._execution, self._fn, record, self._args, self._kwargs, self._options)
        return result_of(record)  # type: ignore[return-value]

    async def spawn(self) -> DurableFuture[T]:
        """Create the child's promise (before returning), start its body on its own trio task."""
        record = await self._start()
        future: DurableFuture[T] = DurableFuture(record.id, self._ctx)
        if record.settled:
            future._finish(record)
        else:
            self._ctx._nursery.start_soon(
                _spawned, future, self._ctx._execution, self._fn, record, self._args, self._kwargs,
                self._options, name=f"durable child {record.id}",
            )
        return future


class RpcBuilder(Generic[T]):
    """A remote child call, not yet started: ``await b`` or ``await b.spawn()``."""

    def __init__(self, ctx: Context, name: str, param: str, options: Options) -> None:
        self._ctx = ctx
        self._name = name
        self._param = param
        self._options = options
        self._started = False

    def options(
        self, *, timeout: float | None = None, retry: RetryPolicy | None = None, id: str | None = None,
        target: str | None = None,
    ) -> RpcBuilder[T]:
        """A copy with these options: ``timeout`` (seconds), ``id``, ``target`` group."""
        _check_options("ctx.rpc", timeout, retry, id, target)
        if retry is not None:
            raise UsageError(
                f"ctx.rpc({self._name}).options: a remote leaf retries by its own @function(retry=...)"
            )
        opts = self._options.merged(timeout=timeout, retry=None, id=id, target=target)
        return RpcBuilder(self._ctx, self._name, self._param, opts)

    async def spawn(self) -> RemoteFuture[T]:
        """Create the child's promise and its task, and return without waiting for it."""
        self._ctx._check_here("rpc")
        if self._started:
            raise UsageError(f"ctx.rpc({self._name}) was already started; call ctx.rpc again for another child")
        self._started = True
        ctx = self._ctx
        target = self._options.target or ctx._execution.target
        record = await ctx._create(
            ctx._take_id(self._options.id), self._param, ctx._child_deadline(self._options.timeout),
            scope="global", target=target,
        )
        return RemoteFuture(record.id, ctx, record)

    def __await__(self) -> Generator[Any, None, T]:
        return self._run().__await__()

    async def _run(self) -> T:
        future: RemoteFuture[T] = await self.spawn()
        return await future


# -- running bodies --------------------------------------------------------------------------------


async def run_workflow(
    ex: Execution, fn: DurableFunction[..., Any], record: PromiseRecord, args: tuple[Any, ...],
    kwargs: dict[str, Any], depth: int | None = None,
) -> Settlement:
    """Run a workflow body from the top; join every local child it spawned before returning.

    Raises ``Suspended`` (after the join) when the body or a child awaited a pending remote promise.
    ``depth`` is how many local workflows it runs inside (by default: counted from the calling one).
    """
    suspended = False
    settlement: Settlement
    if depth is None:
        parent = current_context.get()  # the workflow whose ctx.run started this one, in this task
        depth = 0 if parent is None else parent._depth + 1
    async with trio.open_nursery() as nursery:
        ctx = Context(ex, record.id, record.timeout_at, nursery, depth)
        token = current_context.set(ctx)
        promise_token = current_promise.set(record.id)
        deps_token = entering(fn.name, ex.dependencies)
        try:
            if ex.on_body is not None:
                ex.on_body(record.id, fn)
            value = await fn.body(ctx, *args, **kwargs)
        except Suspended:
            suspended = True
        except Exception as exc:
            settlement = (PromiseState.REJECTED, encode_error(exc))
        except BaseException as exc:
            converted = user_base_exception(record.id, exc)
            if converted is None:
                raise
            raise converted from exc
        else:
            settlement = _resolve(fn, value)
        finally:
            leaving(deps_token)
            current_promise.reset(promise_token)
            current_context.reset(token)
    if suspended:
        raise Suspended()
    ctx._check_all_asked()
    return settlement


#: The function name of the record of a failed leaf attempt (see ``run_leaf``).
ATTEMPT = "durable.attempt"


class AttemptInterrupted(Exception):
    """The error a recorded leaf attempt is settled with when its process stopped before the
    attempt's own error was written."""


def recorded_attempts(ex: Execution, leaf: str) -> list[PromiseRecord]:
    """The failed attempts of ``leaf`` recorded in the branch: children ``{leaf}.0``, ``{leaf}.1``, …"""
    out: list[PromiseRecord] = []
    while True:
        record = ex.branch.get(child_id(leaf, len(out)))
        if record is None or record.tags.get(TAG_PARENT) != leaf or decode_call(record.param).func != ATTEMPT:
            return out
        out.append(record)


async def _record_attempt(ex: Execution, leaf: PromiseRecord, n: int, error: BaseException) -> PromiseRecord:
    """Write failed attempt ``n`` (from 0) of ``leaf``: a child promise rejected with its error."""
    id = child_id(leaf.id, n)
    param = encode_call(ATTEMPT, (n + 1,), {})
    tags = {TAG_PARENT: leaf.id, TAG_ORIGIN: ex.origin, TAG_SCOPE: "local"}
    record = await ex.store.create_promise(id, param, leaf.timeout_at, tags, fence=ex.fence)
    if record.param != param:
        raise NondeterminismError(id, describe_call(record.param), describe_call(param))
    if not record.settled:
        record = await ex.store.settle_promise(id, PromiseState.REJECTED, encode_error(error), fence=ex.fence)
    ex.branch[id] = record
    return record


async def run_leaf(
    ex: Execution, fn: DurableFunction[..., Any], record: PromiseRecord, args: tuple[Any, ...],
    kwargs: dict[str, Any], retry: RetryPolicy | None,
) -> Settlement:
    """Run a leaf body, retrying by its policy while its deadline allows.

    Every failed attempt that is retried is recorded durably (``_record_attempt``), so a re-run after
    a crash counts the attempts already made and waits out the policy's delay after the last one:
    ``max_retries`` bounds the attempts across crashes. A first attempt that succeeds writes nothing
    extra; an error that ``is_final`` rejects the leaf at once.
    """
    policy = retry or fn.retry or DEFAULT_RETRY
    token = current_context.set(None)
    promise_token = current_promise.set(record.id)
    deps_token = entering(fn.name, ex.dependencies)
    try:
        attempts = recorded_attempts(ex, record.id)
        failures = len(attempts)
        if attempts:  # a re-run: carry on after the attempts an earlier run made
            last = attempts[-1]
            if not last.settled:
                lost = AttemptInterrupted(f"the process stopped before attempt {failures} of {record.id} "
                                          "recorded its error")
                last = await ex.store.settle_promise(last.id, PromiseState.REJECTED, encode_error(lost),
                                                     fence=ex.fence)
                ex.branch[last.id] = last
            delay = policy.delay_before(failures)
            if delay is None:
                return (PromiseState.REJECTED, last.value or encode_error(AttemptInterrupted("no attempt left")))
            if last.created_on + delay >= record.timeout_at:
                await _until_deadline()
            await trio.sleep_until(ex.trio_deadline(last.created_on + delay))
        while True:
            try:
                if ex.on_body is not None:
                    ex.on_body(record.id, fn)  # may raise to inject a failed attempt
                value = await fn.body(*args, **kwargs)
            except Exception as exc:
                failures += 1
                delay = None if is_final(policy, exc) else policy.delay_before(failures)
                if delay is None:
                    return (PromiseState.REJECTED, encode_error(exc))
                attempt = await _record_attempt(ex, record, failures - 1, exc)
                if attempt.created_on + delay >= record.timeout_at:
                    await _until_deadline()
                await trio.sleep_until(ex.trio_deadline(attempt.created_on + delay))
            else:
                return _resolve(fn, value)
    finally:
        leaving(deps_token)
        current_promise.reset(promise_token)
        current_context.reset(token)


async def _until_deadline() -> NoReturn:
    """The leaf's deadline comes before its next retry: wait for it, so the leaf times out (its parent
    sees ``TimedOut``, not the last attempt's error, which its attempt record keeps). Every caller of
    ``run_leaf`` runs it under the leaf's deadline (``move_on_at``), which ends this wait."""
    await trio.sleep_forever()
    raise AssertionError("unreachable: sleep_forever returned")


def user_base_exception(id: str, exc: BaseException) -> UserBaseException | None:
    """What a ``BaseException`` raised by the body of ``id`` becomes: None for the platform's own
    signals (suspension, cancellation, platform errors) and interrupts, which go on as they are; for
    anything else the user's code raised (``SystemExit``, ``GeneratorExit``, a class of its own, a
    group of those) a ``UserBaseException`` naming the promise, fatal for the task, not the worker."""
    passing = (*INTERRUPTS, PlatformError, Suspended, trio.Cancelled)
    if isinstance(exc, BaseExceptionGroup):
        if exc.subgroup(passing) is not None:
            return None
    elif isinstance(exc, passing):
        return None
    return UserBaseException(id, exc)


def _resolve(fn: DurableFunction[..., Any], value: object) -> Settlement:
    try:
        return (PromiseState.RESOLVED, encode(value, what=f"the value returned by {fn.name}"))
    except EncodingError as exc:
        return (PromiseState.REJECTED, encode_error(exc))


async def run_child(
    ex: Execution, fn: DurableFunction[..., Any], record: PromiseRecord, args: tuple[Any, ...],
    kwargs: dict[str, Any], options: Options,
) -> PromiseRecord:
    """A local child: replay it if settled, else run its body (bounded by its deadline) and settle."""
    if record.settled:
        return record
    with trio.move_on_at(ex.trio_deadline(record.timeout_at)) as scope:
        if fn.is_workflow:
            state, value = await run_workflow(ex, fn, record, args, kwargs)
        else:
            try:
                state, value = await run_leaf(ex, fn, record, args, kwargs, options.retry)
            except BaseException as exc:
                converted = user_base_exception(record.id, exc)
                if converted is None:
                    raise
                raise converted from exc
    if scope.cancelled_caught:
        record = await ex.refresh(record.id)
        if not record.settled:  # the store's clock lags trio's: report the deadline all the same
            return attrs.evolve(record, state=PromiseState.REJECTED_TIMEDOUT)
        return record
    record = await ex.store.settle_promise(record.id, state, value, fence=ex.fence)
    ex.branch[record.id] = record
    return record


async def _spawned(
    future: DurableFuture[Any], ex: Execution, fn: DurableFunction[..., Any], record: PromiseRecord,
    args: tuple[Any, ...], kwargs: dict[str, Any], options: Options,
) -> None:
    """The body of a spawned child's trio task; a child that ends here unsettled was dropped."""
    with future._scope:
        try:
            settled = await run_child(ex, fn, record, args, kwargs, options)
        except Suspended:
            future._finish(None, suspended=True)
        else:
            future._finish(settled)
        return
    future._finish(None)  # only reached when abort() cancelled this child's own scope
