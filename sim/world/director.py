"""The director: a script of actions from outside the world, each at its virtual time — crash or
restart a process, crash the next request of an op, drop the next message, settle a promise (a human
approval, a webhook). Tests use scripts to build exact situations; a scripted world is still checked."""

from __future__ import annotations

from collections.abc import Sequence

import trio

from pytest_durable.core.codec import encode
from pytest_durable.core.errors import UsageError
from pytest_durable.core.records import PromiseState

from ..faults import CRASH_OPS, CRASH_WHEN, Injector
from ..kernel import virtual_time
from ..scenario import Action
from ..trace import Trace
from .server import ServerDied, SimServer
from .sim_process import SimProcess


class Director:
    """Carries out a script against a world's processes, injector and server."""

    def __init__(self, script: Sequence[Action], processes: Sequence[SimProcess], injector: Injector,
                 server: SimServer, trace: Trace) -> None:
        names = [p.name for p in processes]
        for action in script:
            if action.kind in ("crash", "restart") and action.target not in names:
                raise UsageError(f"script: {action}: no process {action.target!r}; processes are {', '.join(names)}")
            when, _, op = action.target.partition(" ")
            if action.kind == "crash_next" and (when not in CRASH_WHEN or op not in CRASH_OPS):
                raise UsageError(f"script: {action}: write the target as 'WHEN OP' with WHEN one of "
                                 f"{'/'.join(CRASH_WHEN)} and OP one of {', '.join(CRASH_OPS)}")
        self.script = sorted(script, key=lambda a: a.at)
        self.processes = {p.name: p for p in processes}
        self.injector = injector
        self.server = server
        self.trace = trace

    async def run(self) -> None:
        """Carry out the script, each action at its time."""
        for action in self.script:
            await virtual_time.sleep_until(action.at)
            if action.kind in ("crash", "restart"):
                self._crash_or_restart(action)
            elif action.kind == "crash_next":
                when, _, op = action.target.partition(" ")
                self.injector.forced_crashes.append((when, op))
            elif action.kind == "drop":
                self.injector.forced_drops.append(action.target)
            else:
                self._settle(action)

    def _crash_or_restart(self, action: Action) -> None:
        process = self.processes[action.target]
        if action.kind == "crash" and process.alive:
            self.injector.count("crash")
            process.kill("scripted")
        elif action.kind == "restart" and not process.alive:
            process.wake()

    def _settle(self, action: Action) -> None:
        now = trio.current_time()
        value = encode(action.value, what=f"settle {action.target}")
        try:
            ok, result = self.server.apply("director", 0, "settle", action.target, "settle_promise",
                                           (action.target, PromiseState.RESOLVED, value), {"fence": None})
        except ServerDied:
            ok, result = False, "the server died during the request"
        detail = "resolved" if ok else f"refused: {result}"
        self.trace.add(now, "director", 0, "settle", action.target, detail)
