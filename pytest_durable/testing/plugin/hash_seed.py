"""``--durable-check-hash-seed``: each world a test runs is recorded (its settings and scenario, through
our own hooks); after the test's worlds pass, they run again in a subprocess under another
``PYTHONHASHSEED``, and a world whose trace differs fails the test (code that iterates a set of strings)."""

from __future__ import annotations

import json
from typing import Any

import attrs
import pytest

from sim import SimConfig
from sim.runner import hashseed
from sim.scenario import scenario_spec

from .options import flag
from .state import TEST, TestState


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
