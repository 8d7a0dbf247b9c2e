"""Scripted actions: things that happen to a world at given virtual times, from outside it — the
steps a stateful test (``pytest_durable.stateful.DurableMachine``) takes one by one.

A world with a script is still one deterministic run: the script is part of its input, so running
it again (up to a later time, with more actions) repeats everything before.
"""

from __future__ import annotations

from typing import Any

import attrs

#: What an action may do: crash a worker process, crash whichever worker next makes a request (target
#: ``"before settle"``: when and which op), restart a crashed one now (instead of after its drawn
#: downtime), drop the next message on the network, settle a promise from outside.
ACTIONS = ("crash", "crash_next", "restart", "drop", "settle")


@attrs.frozen
class Action:
    """At virtual time ``at``: ``kind`` on ``target`` (a process name, ``"WHEN OP"``, ``request`` or
    ``response``, or a promise id), with ``value`` for a settle."""

    at: float
    kind: str
    target: str
    value: Any = None

    def __attrs_post_init__(self) -> None:
        if self.kind not in ACTIONS:
            raise ValueError(f"Action: kind must be one of {', '.join(ACTIONS)}, got {self.kind!r}")

    def __str__(self) -> str:
        return f"{self.kind}({self.target}) at {self.at:g} s"
