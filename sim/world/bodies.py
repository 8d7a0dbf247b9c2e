"""What a world sees of the bodies its workers run: each start is traced, and a leaf's start is an
opportunity for an injected transient failure (fault kind ``reject``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pytest_durable.sdk import BodyHook, DurableFunction

from ..faults import InjectedFault, Injector
from ..trace import Trace


def body_hook(trace: Trace, injector: Injector, now: Callable[[], float], process: str,
              incarnation: int) -> BodyHook:
    """The hook the worker of one process incarnation calls as each body starts."""
    def on_body(id: str, fn: DurableFunction[..., Any]) -> None:
        trace.add(now(), process, incarnation, "body", id, fn.name, func=fn.name,
                  workflow="yes" if fn.is_workflow else "")
        if not fn.is_workflow and injector.fire("reject", f"body {id}"):
            trace.add(now(), process, incarnation, "reject", id, fn.name)
            raise InjectedFault(f"injected transient failure in {fn.name} ({id})")

    return on_body
