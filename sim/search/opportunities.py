"""Where a scenario's worlds can go wrong: every fault opportunity by name, found by running the
scenario once with nothing going wrong and naming the rest after the promises and groups it met."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from pytest_durable.core.codec import encode_call

from ..faults import FaultConfig
from ..scenario import Scenario, SimConfig
from .schedules import Point


class KeyRecorder:
    """Decisions for a quiet world (every draw 0, no fault) that note each opportunity it meets,
    in order, and how many times each came up before."""

    def __init__(self) -> None:
        self.log: list[tuple[str, int]] = []
        self.timeline: dict[str, list[Point]] = {}
        self._seen: dict[tuple[str, str], int] = {}

    def choose(self, kind: str, n: int) -> int:
        return 0

    def flip(self, kind: str, rate: float, where: str = "") -> bool:
        if rate > 0:
            n = self._seen.get((kind, where), 0)
            self._seen[(kind, where)] = n + 1
            self.timeline.setdefault(kind, []).append((where, n))
        return False


@attrs.frozen
class Opportunities:
    """Where a scenario's worlds can go wrong: ``every`` opportunity per fault kind by name (the
    quiet world's first), the quiet world's ``timeline`` of them, and how long it ran (``span``)."""

    every: dict[str, list[str]]
    timeline: dict[str, list[Point]]
    span: float


_KEYS: dict[tuple[Any, ...], Opportunities] = {}

#: The fault kinds met at each request (named ``"{op} {id}"``), and the requests a worker may send
#: about a promise or its task (``dispatch`` names a group instead).
REQUEST_KINDS = ("crash", "drop", "duplicate", "delay", "store_error")
PROMISE_OPS = ("create", "settle", "get")
#: Requests about a task: only a root or an rpc child has one (a local child runs in its parent's).
TASK_OPS = ("acquire", "heartbeat", "release", "branch", "fulfill", "suspend")


def _scenario_key(scenario: Scenario) -> tuple[Any, ...]:
    """What makes two scenarios run the same world (a test may build an equal one per example)."""
    fn = scenario.workflow
    return (fn.name, encode_call(fn.name, scenario.args, scenario.kwargs), scenario.root_id, scenario.group,
            tuple(sorted(scenario.workers.items())), tuple(f.name for f in scenario.all_functions()),
            tuple(a.key() for a in scenario.actors))


def opportunity_keys(scenario: Scenario, faults: FaultConfig, config: SimConfig | None) -> dict[str, list[str]]:
    """The fault opportunities a world of ``scenario`` can reach, per kind: first those of the world
    with nothing going wrong, in the order they come up (the likely ones, where shrinking goes), then
    every other one named after the promises and groups it has: each request op about each promise
    (a heartbeat, a release, a fulfill a quiet world never sends), an ``await`` in each body, each
    body for ``reject``, and every chaos tick until ``quiesce_after``. Cached per scenario."""
    return opportunities(scenario, faults, config).every


def opportunities(scenario: Scenario, faults: FaultConfig, config: SimConfig | None) -> Opportunities:
    """``opportunity_keys``, the quiet world's timeline of them, and how long it ran."""
    from ..runner import run_world

    key = (_scenario_key(scenario), str(faults), config)
    cached = _KEYS.get(key)
    if cached is None:
        recorder = KeyRecorder()
        quiet_world = run_world(scenario, faults=faults, config=config, decisions=recorder)
        quiet = {kind: list(dict.fromkeys(where for where, _ in points))
                 for kind, points in recorder.timeline.items()}
        reachable = _reachable(scenario, faults, config, quiet)
        every: dict[str, list[str]] = {}
        for kind in faults.kinds:
            ordered = dict.fromkeys(quiet.get(kind, []))
            ordered.update(dict.fromkeys(reachable.get(kind, [])))
            every[kind] = list(ordered)
        cached = _KEYS[key] = Opportunities(every, recorder.timeline, quiet_world.virtual_time)
    return cached


def _reachable(scenario: Scenario, faults: FaultConfig, config: SimConfig | None,
               quiet: Mapping[str, Sequence[str]]) -> dict[str, list[str]]:
    """Every opportunity per kind named after the promises, tasks and groups the quiet world met
    (``quiet``: its opportunities by kind), whether or not the quiet world reached it."""
    ids: dict[str, None] = {scenario.root_id: None}
    tasks: dict[str, None] = {scenario.root_id: None}
    groups: dict[str, None] = {scenario.group: None}
    for names in quiet.values():
        for name in names:
            what, _, about = name.partition(" ")
            if what == "dispatch":
                groups[about] = None
            elif what != "tick" and about:
                ids[about] = None
                if what in TASK_OPS:
                    tasks[about] = None
    ticks = int(faults.quiesce_after / (config or SimConfig()).fault_tick)
    requests = ([f"dispatch {g}" for g in groups] + [f"{op} {i}" for i in ids for op in PROMISE_OPS]
                + [f"{op} {t}" for t in tasks for op in TASK_OPS])
    reachable: dict[str, list[str]] = {kind: requests for kind in REQUEST_KINDS}
    reachable["crash"] = requests + [f"await {i}" for i in ids]
    reachable["reject"] = [f"body {i}" for i in ids]
    reachable["partition"] = reachable["server_restart"] = [f"tick {n}" for n in range(1, ticks + 1)]
    return reachable


def aimed(keys: Mapping[str, Sequence[str]], ops: Sequence[str], ids: Sequence[str]) -> dict[str, list[str]]:
    """The opportunity names left once faults may only strike ``ops`` requests about ``ids`` (an
    ``await`` in a body is no request: with ``ops`` given it is left out)."""

    def allowed(name: str) -> bool:
        what, _, about = name.partition(" ")
        if what == "tick":
            return True
        return (not ops or what == "body" or what in ops) and (not ids or about in ids)

    return {kind: [name for name in names if allowed(name)] for kind, names in keys.items()}
