"""A test's worlds: a ``durable`` test's body runs once per world until the first failing world — the
fault-free world, one world per single-fault point of its workflow, then its ``seeds`` as swarm worlds
(``pytest_durable.testing.aiming``; with ``--durable-aim=off`` or a marker's ``plan=``, just its seeds, each
world's seed derived from the test's and the world's index); a marker's ``aim=`` pin runs that one aimed
world. A test without the marker that used ``durable_sim`` ran one world, and is warned that it did."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from sim.kernel.interrupts import keep_interrupts

from ..aiming import TestSweeps
from ..harness import UnmarkedDurableSimWarning, WorldSettings
from ..progress import TestProgress, for_item
from .hash_seed import check_fault_free, check_hash_seed
from .options import aim_cap, aim_on, flag, hash_seed_mode, number, progress_after, setting, store_kind, worlds_of
from .state import STATE, TEST, TestState, derive


def settings_for(item: pytest.Item) -> Callable[[int], WorldSettings]:
    """The settings of the test's worlds (marker > command line > environment > ini), given a world's seed."""
    config = item.config
    marker = item.get_closest_marker("durable")
    faults = setting(config, "faults", marker)
    workers = number(config, "workers", int, marker, minimum=1)
    quiesce = number(config, "quiesce_after", float, marker)
    budget = number(config, "budget", float, marker)
    plan = str(marker.kwargs.get("plan", "")) if marker is not None else ""
    pin = pinned_aim(marker)
    if pin is not None:  # the quiet schedule plus the pinned point (none: the fault-free world)
        plan = "" if pin == "fault-free" else pin
    determinism = flag(config, "check_determinism")
    store = store_kind(config, marker)
    outcomes = marker.kwargs.get("outcomes") if marker is not None else None

    def settings(seed: int) -> WorldSettings:
        return WorldSettings(seed=seed, faults=faults, plan=plan, workers=workers, quiesce_after=quiesce, budget=budget,
                             check_determinism=determinism, store=store, outcomes=outcomes, quiet=pin is not None)

    return settings


def pinned_aim(marker: pytest.Mark | None) -> str | None:
    """The marker's ``aim=`` pin (an ``at(...)`` point or ``fault-free``), if it has one."""
    return str(marker.kwargs["aim"]) if marker is not None and "aim" in marker.kwargs else None


def sweeps_for(item: pytest.Item) -> TestSweeps | None:
    """The test's aimed sweeps, or none: no marker, ``--durable-aim=off``, or a marker that fixes the plan
    (``plan=``) or pins one aimed world (``aim=``)."""
    marker = item.get_closest_marker("durable")
    if marker is None or not aim_on(item.config) or "plan" in marker.kwargs or "aim" in marker.kwargs:
        return None
    return TestSweeps(aim_cap(item.config))


def pytest_runtest_setup(item: pytest.Item) -> None:
    state = item.config.stash[STATE]
    test = TestState(item, derive(state.seed, item.nodeid), settings_for(item), sweeps=sweeps_for(item))
    item.stash[TEST] = test
    state.current = test


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """A ``durable`` test runs its body once per world; the first failing world stops it. An aimed test
    learns how many worlds it runs after world 1 (the fault-free world), from the points it read there."""
    marker = pyfuncitem.get_closest_marker("durable")
    if marker is None:
        return None
    __tracebackhide__ = True
    seeds = worlds_of(pyfuncitem.config, marker)
    test = pyfuncitem.stash[TEST]
    sweeps = test.sweeps
    test.total = 1 if pinned_aim(marker) is not None else None if sweeps is not None else seeds
    args = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
    progress = _progress_for(pyfuncitem, test.total or seeds + 1)
    index = 0
    try:
        with keep_interrupts():  # a Ctrl-C that lands in a finalizer between worlds is not lost
            while test.total is None or index < test.total:
                test.index = index
                if sweeps is not None:
                    sweeps.start(index)
                pyfuncitem.obj(**args)
                if sweeps is not None and test.total is None:  # world 1 passed: read its points
                    test.aimed = sweeps.aimed_worlds()
                    test.total = test.aimed + seeds if test.aimed else seeds
                    if progress is not None:
                        progress.total = test.total
                index += 1
                if progress is not None and progress.due():
                    progress.show(index, sum(not r.ok for r in test.sim.results) if test.sim is not None else 0)
    finally:
        if progress is not None:
            progress.close()
    if flag(pyfuncitem.config, "check_hash_seed"):
        check_hash_seed(test)
    elif hash_seed_mode(pyfuncitem.config) == "fault-free":
        check_fault_free(test)
    return True


def _progress_for(item: pytest.Item, seeds: int) -> TestProgress | None:
    after = progress_after(item.config)
    return None if after is None else for_item(item, seeds, after)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Any:
    """After a test that passed: warn if it used ``durable_sim`` without the marker (in the call, so
    ``-W error::...UnmarkedDurableSimWarning`` fails the test)."""
    __tracebackhide__ = True
    result = yield
    test = item.stash.get(TEST, None)
    if test is not None:
        _warn_unmarked(item, test)
    return result


def _warn_unmarked(item: pytest.Item, test: TestState) -> None:
    """Say how many worlds a test without the marker ran, and why only one seed."""
    runs = test.sim.seeded_runs if test.sim is not None else 0
    if not runs or item.get_closest_marker("durable") is not None:
        return
    calls = f" ({runs} durable_sim.run calls, all in it)" if runs > 1 else ""
    item.warn(UnmarkedDurableSimWarning(
        f"{item.name} has no @pytest.mark.durable, so durable_sim ran 1 world (world seed {test.world_settings().seed})"
        f"{calls}; mark it @pytest.mark.durable to run {_what_marked_runs(item.config)}"))


def _what_marked_runs(config: pytest.Config) -> str:
    """What a marked test runs, in words, for the warning."""
    seeds = worlds_of(config, None)
    if aim_on(config):
        return (f"the fault-free world, one world per single-fault point of its workflow, then {seeds} swarm worlds "
                "(--durable-seeds)")
    return f"{seeds} worlds (--durable-seeds), one per seed"
