"""``RunBuilder`` and ``RpcBuilder``: a child call made by ``ctx.run``/``ctx.rpc``, not yet started.

A builder takes its options, then starts once (``await b`` or ``await b.spawn()``); it reaches the
workflow's replay state through the public methods of its ``Frame``.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any, Generic, TypeVar

import trio

from ..core.errors import UsageError
from ..core.records import PromiseRecord
from .frame import Frame
from .function import DurableFunction
from .futures import DurableFuture, RemoteFuture
from .options import Options, check_options
from .retry import RetryPolicy
from .running import check_here
from .settlement import Suspended

T = TypeVar("T")


class RunBuilder(Generic[T]):
    """A local child call, not yet started. Start it once: ``await b`` or ``await b.spawn()``."""

    def __init__(
        self, frame: Frame, fn: DurableFunction[..., T], args: tuple[Any, ...], kwargs: dict[str, Any],
        param: str, options: Options,
    ) -> None:
        self._frame = frame
        self._fn = fn
        self._args = args
        self._kwargs = kwargs
        self._param = param
        self._options = options
        self._started = False
        frame.built(self, f"ctx.run({fn.name}, ...)")

    def options(
        self, *, timeout: float | None = None, retry: RetryPolicy | None = None, id: str | None = None,
        target: str | None = None,
    ) -> RunBuilder[T]:
        """A copy with these options: ``timeout`` (seconds), ``retry`` (leaves only), ``id``."""
        self._frame.handled(self)  # its call goes on in the copy (or fails here, said by the error)
        check_options("ctx.run", timeout, retry, id, target)
        if target is not None:
            raise UsageError("ctx.run(...).options: target applies to ctx.rpc only; a local child runs here")
        if retry is not None and self._fn.is_workflow:
            raise UsageError(
                f"ctx.run({self._fn.name}).options: retry applies to leaves only; a workflow is replayed, not retried"
            )
        opts = self._options.merged(timeout=timeout, retry=retry, id=id, target=None)
        return RunBuilder(self._frame, self._fn, self._args, self._kwargs, self._param, opts)

    async def _start(self) -> PromiseRecord:
        self._frame.handled(self)
        check_here(self._frame, "run")
        if self._started:
            raise UsageError(
                f"ctx.run({self._fn.name}) was already started; call ctx.run again for another child"
            )
        self._started = True
        frame = self._frame
        return await frame.create(
            frame.take_id(self._options.id), self._param, frame.child_deadline(self._options.timeout), scope="local"
        )

    def __await__(self) -> Generator[Any, None, T]:
        return self._run().__await__()

    async def _run(self) -> T:
        record = await self._start()
        try:
            record = await self._frame.run_child(self._fn, record, self._args, self._kwargs, self._options)
        except (Suspended, trio.Cancelled) as exc:
            self._frame.note_signal(exc)
            raise
        return self._frame.outcome(record)  # type: ignore[return-value]

    async def spawn(self) -> DurableFuture[T]:
        """Create the child's promise (before returning), start its body on its own trio task."""
        record = await self._start()
        spawned = self._frame.spawn_child(self._fn, record, self._args, self._kwargs, self._options)
        return DurableFuture(record.id, self._frame, spawned)


class RpcBuilder(Generic[T]):
    """A remote child call, not yet started: ``await b`` or ``await b.spawn()``."""

    def __init__(self, frame: Frame, name: str, param: str, options: Options) -> None:
        self._frame = frame
        self._name = name
        self._param = param
        self._options = options
        self._started = False
        frame.built(self, f"ctx.rpc({name}, ...)")

    def options(
        self, *, timeout: float | None = None, retry: RetryPolicy | None = None, id: str | None = None,
        target: str | None = None,
    ) -> RpcBuilder[T]:
        """A copy with these options: ``timeout`` (seconds), ``id``, ``target`` group."""
        self._frame.handled(self)  # its call goes on in the copy (or fails here, said by the error)
        check_options("ctx.rpc", timeout, retry, id, target)
        if retry is not None:
            raise UsageError(
                f"ctx.rpc({self._name}).options: a remote leaf retries by its own @function(retry=...)"
            )
        opts = self._options.merged(timeout=timeout, retry=None, id=id, target=target)
        return RpcBuilder(self._frame, self._name, self._param, opts)

    async def spawn(self) -> RemoteFuture[T]:
        """Create the child's promise and its task, and return without waiting for it."""
        self._frame.handled(self)
        check_here(self._frame, "rpc")
        if self._started:
            raise UsageError(f"ctx.rpc({self._name}) was already started; call ctx.rpc again for another child")
        self._started = True
        frame = self._frame
        target = self._options.target or frame.execution.target
        record = await frame.create(
            frame.take_id(self._options.id), self._param, frame.child_deadline(self._options.timeout),
            scope="global", target=target,
        )
        return RemoteFuture(record.id, frame, record)

    def __await__(self) -> Generator[Any, None, T]:
        return self._run().__await__()

    async def _run(self) -> T:
        future: RemoteFuture[T] = await self.spawn()
        return await future
