"""``DetachBuilder``: a child started by ``ctx.detach`` that its parent does not join (a dispatch
workflow a checkout starts and forgets).

Like ``ctx.rpc`` it runs as its own task on a worker of a target group, and its id derives from the
parent's (``{parent}.{n}``), so a replay of the parent finds it recorded and never starts it twice.
Unlike an rpc child, its deadline is its own (``timeout`` from now, never capped by the parent's: it
may outlive its parent), and the parent gets its id, not a future: nothing waits for it.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from ..core.errors import UsageError
from .frame import Frame
from .options import Options, check_options
from .running import check_here

#: A detached child's timeout when none is given: a day, as a root's (``Worker(root_timeout=...)``).
DETACHED_TIMEOUT = 86_400.0


class DetachBuilder:
    """A detached child call, not yet started: ``await b`` creates its promise and task and returns its id."""

    def __init__(self, frame: Frame, name: str, param: str, options: Options) -> None:
        self._frame = frame
        self._name = name
        self._param = param
        self._options = options
        self._started = False
        frame.built(self, f"ctx.detach({name}, ...)")

    def options(self, *, timeout: float | None = None, id: str | None = None,
                target: str | None = None) -> DetachBuilder:
        """A copy with these options: ``timeout`` (seconds from now, its own deadline), ``id``, ``target`` group."""
        self._frame.handled(self)  # its call goes on in the copy (or fails here, said by the error)
        check_options("ctx.detach", timeout, None, id, target)
        return DetachBuilder(self._frame, self._name, self._param,
                             self._options.merged(timeout=timeout, retry=None, id=id, target=target))

    def __await__(self) -> Generator[Any, None, str]:
        return self._start().__await__()

    async def _start(self) -> str:
        frame = self._frame
        frame.handled(self)
        check_here(frame, "detach")
        if self._started:
            raise UsageError(f"ctx.detach({self._name}) was already started; call ctx.detach again for another child")
        self._started = True
        options = self._options
        timeout = DETACHED_TIMEOUT if options.timeout is None else options.timeout
        record = await frame.create(
            frame.take_id(options.id), self._param, frame.execution.clock.now() + timeout, scope="global",
            target=options.target or frame.execution.target, detached=True,
        )
        return record.id
