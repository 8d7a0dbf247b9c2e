"""``@pytest.mark.durable``: declared to pytest, and its arguments checked at collection, so a typo or
a bad value fails the run before any world with one line naming the test and the argument."""

from __future__ import annotations

import math

import pytest

from sim import FaultConfig, FaultPlan
from sim.faults import AimAt
from sim.scenario import checked_outcomes
from sim.world import STORE_KINDS

from ...core.errors import UsageError

#: Each argument the marker takes, and the type its value must have (``object``: checked on its own).
MARKER_ARGS = {"seeds": int, "faults": str, "workers": int, "quiesce_after": float, "budget": float, "plan": str,
               "store": str, "outcomes": object, "aim": str}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "durable(seeds=N, faults='crash,drop', workers=N, quiesce_after=S, budget=S, "
        "plan='crash(w1, after_create, x.1)', store='memory|sqlite|postgres', outcomes=('done', 'refunded'), "
        "aim='at(crash, await pay.0)'): run the test once per simulated world: the fault-free world, one world per "
        "single-fault point, then N swarm worlds; aim= runs just that aimed world (pytest-durable)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        marker = item.get_closest_marker("durable")
        if marker is not None:
            check_marker(item, marker)


def check_marker(item: pytest.Item, marker: pytest.Mark) -> None:
    """Keyword arguments only, each a known one of the right type; faults, plan and store readable."""
    where = f"{item.nodeid}: @pytest.mark.durable"
    if marker.args:
        raise pytest.UsageError(f"{where} takes keyword arguments only ({', '.join(MARKER_ARGS)}), got {marker.args!r}")
    for key, value in marker.kwargs.items():
        cast = MARKER_ARGS.get(key)
        if cast is None:
            raise pytest.UsageError(f"{where}: unknown argument {key!r}; it takes {', '.join(MARKER_ARGS)}")
        if cast is object:  # outcomes: several values or a predicate (sim.scenario.outcomes)
            _check_outcomes(value, where)
            continue
        ok = isinstance(value, str) if cast is str else (
            isinstance(value, (int, float)) and not isinstance(value, bool) and value >= (1 if cast is int else 0)
            and (cast is float or isinstance(value, int)) and math.isfinite(value)
        )
        if not ok:
            raise pytest.UsageError(f"{where}: {key}={value!r} is not valid; {key} must be a "
                                    f"{'string' if cast is str else 'positive ' + cast.__name__}")
    try:
        if "faults" in marker.kwargs:
            FaultConfig.parse(marker.kwargs["faults"])
        if "plan" in marker.kwargs:
            FaultPlan.parse(marker.kwargs["plan"])
    except Exception as exc:
        raise pytest.UsageError(f"{where}: {exc}") from None
    if "aim" in marker.kwargs:
        _check_aim(marker, where)
    if "store" in marker.kwargs and marker.kwargs["store"] not in STORE_KINDS:
        raise pytest.UsageError(f"{where}: store must be one of {'|'.join(STORE_KINDS)}, "
                                f"got {marker.kwargs['store']!r}")


def _check_aim(marker: pytest.Mark, where: str) -> None:
    """``aim=``: one ``at(...)`` point (as a failing aimed world's report prints it) or ``fault-free``, and no
    ``plan=`` beside it (the pin is the world's whole plan)."""
    text = marker.kwargs["aim"]
    if "plan" in marker.kwargs:
        raise pytest.UsageError(f"{where}: give aim= (one aimed world) or plan= (fault points over seeded worlds), "
                                "not both")
    if text == "fault-free":
        return
    try:
        points = FaultPlan.parse(text).points
    except Exception as exc:
        points, why = (), f" ({exc})"
    else:
        why = ""
    if len(points) != 1 or not isinstance(points[0], AimAt):
        raise pytest.UsageError(f"{where}: aim={text!r} is not one aimed point; aim= takes what a failing aimed "
                                f"world's report prints, e.g. aim=\"at(crash, await pay.0)\", or aim=\"fault-free\""
                                f"{why}")


def _check_outcomes(value: object, where: str) -> None:
    try:
        checked_outcomes(value, where)
    except UsageError as exc:
        raise pytest.UsageError(str(exc)) from None
