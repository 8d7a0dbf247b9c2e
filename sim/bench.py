"""``python -m sim bench`` (``scale``): how the cost of one world grows with the fan-out size.

Runs a fault-free fan-out of N leaves in one world for each N and prints wall time per child, the
ratio of each size's per-child cost to the smallest size's (flat ≈ 1.0 means linear growth), and the
simulated steps. The baseline is the smallest size measured in the same run.
"""

from __future__ import annotations

import time

import attrs

from pytest_durable.sdk import Context, function

from .scenario import Scenario
from .world import run_world


@attrs.frozen
class Job:
    id: int


@function
async def bench_leaf(job: Job) -> int:
    return job.id


@function
async def bench_fan_out(ctx: Context, n: int) -> int:
    handles = [await ctx.run(bench_leaf, Job(i)).spawn() for i in range(n)]
    total = 0
    for h in handles:
        total += await h
    return total


def measure(n: int, repeat: int) -> tuple[float, int]:
    """Best wall time of ``repeat`` worlds with a fan-out of ``n``, and the world's step count."""
    scenario = Scenario(bench_fan_out, (n,), functions=(bench_leaf,), expected=n * (n - 1) // 2, workers={"default": 1})
    best = float("inf")
    steps = 0
    for _ in range(repeat):
        start = time.perf_counter()
        result = run_world(scenario, seed=1)
        best = min(best, time.perf_counter() - start)
        if not result.ok:
            raise SystemExit(f"bench: the world of size {n} failed: {result.violations[0]}")
        steps = result.steps
    return best, steps


def isolation_cost(worlds: int = 50, n: int = 10) -> tuple[float, float]:
    """Seconds for ``worlds`` seeds (crash,drop,reject) of a fan-out of ``n``, with this module isolated
    (each process incarnation executes a fresh copy of it, as of a user's module) and without."""
    timings = []
    for isolate in (("sim.bench",), False):
        scenario = Scenario(bench_fan_out, (n,), functions=(bench_leaf,), expected=n * (n - 1) // 2,
                            isolate=isolate)
        start = time.perf_counter()
        for seed in range(worlds):
            run_world(scenario, seed=seed, faults="crash,drop,reject")
        timings.append(time.perf_counter() - start)
    return timings[0], timings[1]


def main(sizes: list[int], *, repeat: int = 3) -> int:
    print(f"{'children':>9} {'seconds':>9} {'µs/child':>9} {'ratio':>6} {'steps':>9} {'steps/child':>11}")
    base: float | None = None
    for n in sorted(sizes):
        seconds, steps = measure(n, repeat)
        per_child = seconds / n
        base = per_child if base is None else base
        print(f"{n:>9} {seconds:>9.3f} {per_child * 1e6:>9.1f} {per_child / base:>6.2f} {steps:>9} {steps / n:>11.1f}")
    print("ratio: cost per child relative to the smallest size in this run (≈1 means cost grows linearly with N)")
    worlds = 50
    isolated, shared = isolation_cost(worlds)
    print(f"fresh module copies per process incarnation: {worlds} worlds (fan-out of 10, crash,drop,reject) took "
          f"{isolated:.2f} s isolated, {shared:.2f} s shared: {(isolated - shared) / worlds * 1e3:.2f} ms per world, "
          f"ratio {isolated / shared:.2f}")
    return 0
