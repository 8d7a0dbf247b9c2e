"""``Context``: what a workflow uses to call children; the rules that replay them (docs/architecture.md,
"Execution and replay") are its ``Frame``'s.

Every ``ctx.run``/``ctx.rpc`` checks the call and returns a builder; ``await`` on it (or ``.spawn()``)
starts the child. Local children run their body here (again, if they were pending); remote ones are
settled elsewhere and a pending one suspends the workflow. Timers, external promises, recorded
nondeterminism (``ctx.random``, ``ctx.now``, ``ctx.uuid``, ``ctx.patched``), the settling of other promises
(``ctx.resolve``, ``ctx.reject``) and the winner of a ``ctx.select`` are children too.
"""

from __future__ import annotations

import math
from typing import Any, TypeVar
from uuid import UUID

from ..core.codec import encode, encode_call, encode_error
from ..core.errors import NotFound, UsageError
from ..core.records import PromiseState
from .builders import RpcBuilder, RunBuilder
from .cancel_child import cancel_child
from .dependencies import dependency
from .detached import DetachBuilder
from .frame import Frame
from .function import DurableFunction
from .futures import DurableFuture, RemoteFuture
from .options import Options, check_options
from .running import check_here
from .select import check_candidates, select

T = TypeVar("T")
#: A future ``ctx.select`` takes and returns.
F = TypeVar("F", bound="DurableFuture[Any] | RemoteFuture[Any]")

#: How deep local child workflows (``ctx.run`` of a workflow) may nest in one task. Each level is a
#: few frames of Python stack and a trio nursery; far deeper, Python's recursion limit breaks trio's
#: own bookkeeping and the whole worker with it. Deeper recursion belongs in ``ctx.rpc`` children.
MAX_LOCAL_DEPTH = 100


class Context:
    """Handed to a workflow as its first argument; every durable call goes through it."""

    def __init__(self, frame: Frame) -> None:
        self._frame = frame

    @property
    def id(self) -> str:
        """The id of this workflow's promise."""
        return self._frame.id

    @property
    def deadline(self) -> float:
        """This workflow's deadline (store time); no child may outlive it."""
        return self._frame.deadline

    def run(self, fn: DurableFunction[..., T], /, *args: Any, **kwargs: Any) -> RunBuilder[T]:
        """A local child: ``await`` it to run it here and wait, or ``await ….spawn()`` to run it
        concurrently on its own trio task."""
        check_here(self._frame, "run")
        _check_durable(fn, "ctx.run")
        fn.check_arguments(args, kwargs, where="ctx.run")
        if fn.is_workflow and self._frame.depth >= MAX_LOCAL_DEPTH:
            raise UsageError(
                f"ctx.run({fn.name}) in {self.id}: local child workflows nest at most {MAX_LOCAL_DEPTH} deep in "
                "one task, and this call would go deeper; call it with ctx.rpc (each rpc child runs as its "
                "own task) or make the recursion shallower"
            )
        param = encode_call(fn.name, args, kwargs, names=fn.param_names)
        return RunBuilder(self._frame, fn, args, kwargs, param, Options())

    def rpc(self, fn: DurableFunction[..., T] | str, /, *args: Any, **kwargs: Any) -> RpcBuilder[T]:
        """A remote child: runs as its own task on a worker of the target group (default: this one's)."""
        check_here(self._frame, "rpc")
        if isinstance(fn, str):
            name, names = fn, tuple[str, ...]()
            if not fn or fn.startswith("durable."):
                raise UsageError(f"ctx.rpc: function name must be a registered durable function name, got {fn!r}")
        else:
            _check_durable(fn, "ctx.rpc")
            fn.check_arguments(args, kwargs, where="ctx.rpc")
            name, names = fn.name, fn.param_names
        param = encode_call(name, args, kwargs, names=names)
        return RpcBuilder(self._frame, name, param, Options())

    def detach(self, fn: DurableFunction[..., Any] | str, /, *args: Any, **kwargs: Any) -> DetachBuilder:
        """A detached child: ``await ctx.detach(fn, ...)`` starts it as its own task (as ``ctx.rpc`` does)
        and returns its id at once; this workflow never joins it, and its deadline is its own
        (``.options(timeout=...)``, a day by default), not capped by this workflow's."""
        check_here(self._frame, "detach")
        if isinstance(fn, str):
            name, names = fn, tuple[str, ...]()
            if not fn or fn.startswith("durable."):
                raise UsageError(f"ctx.detach: function name must be a registered durable function name, got {fn!r}")
        else:
            _check_durable(fn, "ctx.detach")
            fn.check_arguments(args, kwargs, where="ctx.detach")
            name, names = fn.name, fn.param_names
        return DetachBuilder(self._frame, name, encode_call(name, args, kwargs, names=names), Options())

    async def sleep(self, seconds: float) -> None:
        """A durable timer: survives crashes; the workflow suspends until it fires. Like any child it
        ends no later than this workflow's deadline: a sleep past it times the workflow out then."""
        check_here(self._frame, "sleep")
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0:
            raise UsageError(f"ctx.sleep: seconds must be a number >= 0, got {seconds!r}")
        frame = self._frame
        param = encode_call("durable.sleep", (seconds,), {})
        record = await frame.create(frame.take_id(None), param, frame.child_deadline(seconds),
                                    timer=True, scope="global")
        await RemoteFuture[None](record.id, frame, record)

    async def sleep_until(self, when: float) -> None:
        """A durable timer that fires at ``when`` (store-clock epoch seconds, e.g. ``due`` computed from
        ``await ctx.now()`` or from the workflow's arguments), however late its timer promise is made:
        after a crash and a slow recovery it fires on time, or at once if ``when`` has passed, where
        ``ctx.sleep(s)`` counts ``s`` from the moment its timer is created. Capped by this workflow's
        deadline, as ``ctx.sleep`` is."""
        check_here(self._frame, "sleep_until")
        if isinstance(when, bool) or not isinstance(when, (int, float)) or not math.isfinite(when):
            raise UsageError(f"ctx.sleep_until: when must be a finite number of epoch seconds, got {when!r}")
        frame = self._frame
        param = encode_call("durable.sleep_until", (when,), {})
        record = await frame.create(frame.take_id(None), param, min(float(when), frame.deadline),
                                    timer=True, scope="global")
        await RemoteFuture[None](record.id, frame, record)

    async def timer(self, seconds: float) -> RemoteFuture[None]:
        """A durable timer as a future: created now, not awaited, so ``ctx.select`` can race it against
        other children (a timeout); ``await`` it to sleep. It fires ``seconds`` from its creation, and
        no later than this workflow's deadline, as ``ctx.sleep`` does."""
        check_here(self._frame, "timer")
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not seconds >= 0:
            raise UsageError(f"ctx.timer: seconds must be a number >= 0, got {seconds!r}")
        frame = self._frame
        param = encode_call("durable.sleep", (seconds,), {})
        record = await frame.create(frame.take_id(None), param, frame.child_deadline(seconds),
                                    timer=True, scope="global")
        return RemoteFuture(record.id, frame, record)

    async def select(self, *futures: F) -> F:
        """The first of ``futures`` to settle (resolved or rejected), once it has: ``await`` it for its
        value or error. Which one won is recorded, so a replay returns the same future even when several
        have settled by then; the others stay usable (select again over the rest). When none can settle
        while this run goes on (remote ones pending, local ones suspended) the workflow suspends until
        the first does."""
        check_here(self._frame, "select")
        check_candidates(self._frame, futures)
        return futures[await select(self._frame, futures)]

    async def promise(self, *, timeout: float, id: str | None = None) -> RemoteFuture[Any]:
        """A promise settled from outside the workflow (an approval, a webhook); await the future."""
        check_here(self._frame, "promise")
        check_options("ctx.promise", timeout, None, id, None)
        frame = self._frame
        param = encode_call("durable.promise", (timeout,), {})
        record = await frame.create(frame.take_id(id), param, frame.child_deadline(timeout), scope="global")
        return RemoteFuture(record.id, frame, record)

    def get_dependency(self, name: str) -> Any:
        """The object the worker registered as ``name``: the same as ``pytest_durable.dependency(name)``,
        which leaves (they have no ``Context``) use; spelled as in Resonate's SDK for workflows."""
        check_here(self._frame, "get_dependency")
        return dependency(name)

    async def random(self) -> float:
        """A random float in [0, 1), drawn once and replayed from the store after that."""
        check_here(self._frame, "random")
        frame = self._frame
        return float(await frame.recorded("durable.random", frame.execution.rng))  # type: ignore[arg-type]

    async def uuid(self) -> UUID:
        """A random UUID (version 4), drawn once from the source ``ctx.random`` draws from (in a simulated
        world, the world's seeded decisions) and replayed from the store after that."""
        check_here(self._frame, "uuid")
        rng = self._frame.execution.rng

        def draw() -> str:
            bits = 0
            for _ in range(5):  # 30 bits a draw (a world's draws are 30-bit), 122 of them random in a UUID4
                bits = (bits << 30) | int(rng() * (1 << 30))
            return str(UUID(int=bits & ((1 << 128) - 1), version=4))

        return UUID(str(await self._frame.recorded("durable.uuid", draw)))

    async def cancel(self, future: DurableFuture[Any] | RemoteFuture[Any]) -> bool:
        """Cancel a child this workflow spawned (a ``.spawn()`` future, a ``ctx.timer``, a ``ctx.promise``)
        and everything under it: its promise and every pending one below it become ``rejected_canceled``,
        a local child's body stops, and awaiting the future raises ``Canceled``. The child's record is
        what a replay reads, so a crash after the cancel cancels nothing twice. True if the child is
        canceled, False if it settled first (then it keeps its outcome)."""
        check_here(self._frame, "cancel")
        return await cancel_child(self._frame, future)

    async def resolve(self, id: str, value: object = None) -> bool:
        """Resolve promise ``id`` (another workflow's ``ctx.promise``: an approval it waits for) with
        ``value``, as a durable step of this workflow: a child that records it, replayed and never sent
        again once recorded (after a crash before that, the settle is sent again, and the store keeps the
        first settle of a promise). True if ``id`` now holds this value, False if it was settled before,
        otherwise. A promise ``id`` that does not exist rejects the step: the await raises a ``Rejected``
        that ``except LookupError`` catches."""
        check_here(self._frame, "resolve")
        payload = encode(value, what=f"ctx.resolve({id!r})'s value")
        return await self._settle_other("resolve", id, PromiseState.RESOLVED, payload)

    async def reject(self, id: str, error: BaseException) -> bool:
        """Reject promise ``id`` with ``error``, as a durable step like ``ctx.resolve``; whoever awaits
        ``id`` can catch ``error`` by its class. True if ``id`` now holds this rejection."""
        check_here(self._frame, "reject")
        if not isinstance(error, Exception):
            raise UsageError(f"ctx.reject({id!r}, ...): error must be an Exception instance, got {error!r}")
        return await self._settle_other("reject", id, PromiseState.REJECTED, encode_error(error))

    async def _settle_other(self, how: str, id: str, state: PromiseState, payload: str) -> bool:
        frame = self._frame
        if not isinstance(id, str) or not id:
            raise UsageError(f"ctx.{how}: id must be the id of a promise (a non-empty str), got {id!r}")
        if id == frame.id:
            raise UsageError(f"ctx.{how}({id!r}) in {id}: that is this workflow's own promise; return a value "
                             "or raise instead")
        ex = frame.execution

        async def act() -> tuple[PromiseState, str]:
            try:
                target = await ex.store.settle_promise(id, state, payload, fence=ex.fence)
            except NotFound:
                error = LookupError(f"ctx.{how}({id!r}) in {frame.id}: no promise with id {id!r} exists")
                return (PromiseState.REJECTED, encode_error(error))
            return (PromiseState.RESOLVED, encode(target.state is state and target.value == payload, what=how))

        return bool(await frame.recorded_step(encode_call(f"durable.{how}", (id, payload), {}), act))

    async def patched(self, id: str) -> bool:
        """Whether this execution takes the new path of a change guarded by patch ``id``: False for one
        recorded by code without the patch (every replay of it takes the old path), True for the rest,
        recorded once in a marker that numbers no child, so both kinds keep their children's ids::

            if await ctx.patched("refund-before-email"):
                await ctx.run(refund, order)      # the new path
            await ctx.run(email, order)

        Once no execution in flight takes the old path (``python -m pytest_durable check-patch``), the
        old path and the call may go."""
        check_here(self._frame, "patched")
        if not isinstance(id, str) or not id or any(c.isspace() or c in "./" for c in id):
            raise UsageError(f"ctx.patched: id must be a non-empty str without white space, '.' or '/', got {id!r}; "
                             "name the change, e.g. 'refund-before-email'")
        return await self._frame.patched(id)

    async def now(self) -> float:
        """The current time (store clock), read once and replayed from the store after that."""
        check_here(self._frame, "now")
        frame = self._frame
        return float(await frame.recorded("durable.now", frame.execution.clock.now))  # type: ignore[arg-type]


def _check_durable(fn: object, where: str) -> None:
    if not isinstance(fn, DurableFunction):
        name = getattr(fn, "__qualname__", repr(fn))
        raise UsageError(f"{where}: {name} is not a durable function; decorate it with @pytest_durable.function")
