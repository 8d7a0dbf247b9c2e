"""Worlds run again under another ``PYTHONHASHSEED``: a world whose trace differs fails the test (code that
iterates a set of strings to decide its children).

By default (``--durable-hash-seed=fault-free``) each durable test's fault-free world is re-run, after its
worlds pass, in one subprocess per session (or xdist worker) that stays up (``hashseed.Service``): a test
pays one world, not an interpreter's start. ``--durable-check-hash-seed`` re-runs every passing world of
the test instead, recorded through our own hooks (its settings and scenario)."""

from __future__ import annotations

import json
from typing import Any

import attrs
import pytest

from sim import SimConfig
from sim.aim.sweep import FAULT_FREE
from sim.runner import hashseed
from sim.scenario import scenario_spec

from ...core.errors import UsageError
from .options import flag
from .state import STATE, TEST, TestState


def check_fault_free(test: TestState) -> None:
    """The default check: the test's passing fault-free worlds (one per call position) re-run in the
    session's subprocess under another hash seed. A world another process cannot build (a function or a
    dependency factory not importable by name) is left out, and the session's summary says so."""
    __tracebackhide__ = True
    sim, sweeps = test.sim, test.sweeps
    if sim is None or sweeps is None:
        return
    state = test.item.config.stash[STATE]
    settings = test.world_settings()
    same, skipped = 0, ""
    for result in sim.results:
        planned = sweeps.planned_of(result)
        scenario = sim.scenario_of(result)
        if planned is None or planned.phase != FAULT_FREE or not result.ok or scenario is None:
            continue
        try:
            spec = scenario_spec(scenario, dependencies=True)
        except UsageError as exc:
            skipped = str(exc).removeprefix("hash-seed check: ")
            continue
        spec["store"] = settings.store
        config = settings.config or SimConfig(budget=settings.budget)
        job = hashseed.Rerun(None, result.faults, result.plan, result.quiesce_after, result.trace_hash,
                             tuple(result.decisions))  # as it ran: a hook may have added fault points
        if state.hash_seed is None:
            state.hash_seed = hashseed.Service()
        found = state.hash_seed.first_difference(spec, config, [job])
        if found is not None and sim.rerun(result).trace_hash != result.trace_hash:
            skipped = ("its fault-free world traces differently from run to run in one process (it reads something "
                       "no world supplies); --durable-check-determinism shows where")
            continue
        if found is not None:
            test.differs = (result, 0)  # the failure report describes this world, not the last
            raise AssertionError(f"hash-seed: the fault-free world traced {found.job.trace_hash} here and "
                                 f"{found.other_hash} under PYTHONHASHSEED={found.hash_seed}: {hashseed.HINT} (rerun "
                                 f"with PYTHONHASHSEED={found.hash_seed} to see it here)")
        same += 1
    seed = state.hash_seed.seed if state.hash_seed is not None else hashseed.other_hash_seed()
    test.item.user_properties.append(("durable_hash_seed", json.dumps([same, seed, skipped])))


@pytest.hookimpl(trylast=True)
def pytest_durable_configure_world(item: pytest.Item, world: Any) -> None:
    test = item.stash.get(TEST, None)
    if test is not None and flag(item.config, "check_hash_seed"):
        test.runs.append((world, None, test.index))


@pytest.hookimpl(tryfirst=True)
def pytest_durable_fault_points(item: pytest.Item, scenario: Any) -> Any:
    test = item.stash.get(TEST, None)
    if test is not None and test.runs and test.runs[-1][1] is None:
        world, _, index = test.runs[-1]
        test.runs[-1] = (world, scenario, index)
    return None


def check_hash_seed(test: TestState) -> None:
    """Re-run the test's passing worlds under another hash seed, one subprocess per scenario, and fail on
    the first whose trace differs."""
    __tracebackhide__ = True
    results = test.sim.results if test.sim is not None else []
    batches: dict[str, tuple[dict[str, Any], SimConfig, list[Any], list[tuple[Any, int]]]] = {}
    for (settings, scenario, index), result in zip(test.runs, results, strict=False):
        if scenario is None or not result.ok:
            continue
        spec = scenario_spec(scenario, dependencies=True)
        spec["store"] = settings.store
        config = settings.config or SimConfig()
        key = json.dumps([spec, attrs.asdict(config)], sort_keys=True)
        job = hashseed.Rerun(result.seed, settings.faults, settings.plan, settings.quiesce_after, result.trace_hash,
                           tuple(result.decisions) if result.seed is None else ())
        batch = batches.setdefault(key, (spec, config, [], []))
        batch[2].append(job)
        batch[3].append((result, index))
    for spec, config, jobs, worlds in batches.values():
        found = hashseed.first_difference(spec, config, jobs)
        if found is not None:
            test.differs = worlds[found.index]  # the failure report describes this world, not the last
            name = test.sim.name_of(test.differs[0]) if test.sim is not None else "the world"
            raise AssertionError(f"hash-seed: {name} traced {found.job.trace_hash} here and {found.other_hash} under "
                                 f"PYTHONHASHSEED={found.hash_seed}: {hashseed.HINT} (rerun with "
                                 f"PYTHONHASHSEED={found.hash_seed} to see it here)")
