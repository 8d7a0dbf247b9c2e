"""``python -m sim bench`` (``scale``): how the cost of one world grows with the fan-out size.

Runs a fault-free fan-out of N leaves in one world for each N, each size in a fresh process, and prints
wall time per child, the ratio of each size's per-child cost to the smallest size's (flat ≈ 1.0 means
linear growth), the peak memory per child and the simulated steps. The baseline is the smallest size
measured in the same run.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import attrs

from pytest_durable.sdk import Context, function

from ..runner import run_world
from ..scenario import Scenario, SimConfig


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


#: Wall seconds after which a size stops repeating its world (a 50,000-child world runs once by default).
REPEAT_WITHIN = 20.0


def measure(n: int, repeat: int) -> tuple[float, float, int, int]:
    """Best wall time and best CPU time (of this thread) of up to ``repeat`` worlds with a fan-out of
    ``n`` (no more once they took ``REPEAT_WITHIN`` seconds), the world's step count and the runs made.
    CPU time is what other programs on the machine disturb least."""
    scenario = Scenario(bench_fan_out, (n,), functions=(bench_leaf,), expected=n * (n - 1) // 2, workers={"default": 1})
    best = best_cpu = float("inf")
    steps = runs = 0
    began = time.perf_counter()
    while runs < repeat and (runs == 0 or time.perf_counter() - began < REPEAT_WITHIN):
        runs += 1
        start, start_cpu = time.perf_counter(), time.thread_time()
        result = run_world(scenario, seed=1, config=SimConfig(max_promises=n + 1))  # the fan-out and its root
        best_cpu = min(best_cpu, time.thread_time() - start_cpu)
        best = min(best, time.perf_counter() - start)
        if not result.ok:
            raise SystemExit(f"bench: the world of size {n} failed: {result.violations[0]}")
        steps = result.steps
    return best, best_cpu, steps, runs


@attrs.frozen
class Size:
    """One size measured in a fresh process: best wall and CPU seconds, simulated steps, and how much
    the process's peak resident memory grew while its worlds ran (bytes)."""

    n: int
    seconds: float
    cpu: float
    steps: int
    peak_growth: int
    runs: int


def _peak_rss() -> int:
    """The process's peak resident memory so far, in bytes (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def _current_rss() -> int:
    """The process's resident memory now, in bytes (the peak where /proc is missing)."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * resource.getpagesize()
    except OSError:
        return _peak_rss()


def measure_here(n: int, repeat: int) -> Size:
    """Measure size ``n`` in this process: a small world first (imports and first-use costs are not
    the size's), then ``repeat`` worlds of ``n`` children. The memory figure is the growth of the peak
    resident memory over the resident memory before them, so a fresh process gives a clean one."""
    measure(10, 1)
    before = max(_current_rss(), _peak_rss())
    seconds, cpu, steps, runs = measure(n, repeat)
    return Size(n, seconds, cpu, steps, max(0, _peak_rss() - before), runs)


def measure_fresh(n: int, repeat: int) -> Size:
    """``measure_here`` in a fresh Python process, so no size inherits another's heap or peak memory."""
    root = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, (root, os.environ.get("PYTHONPATH"))))}
    code = ("import json, attrs; from sim.bench.scale import measure_here; "
            f"print(json.dumps(attrs.asdict(measure_here({n}, {repeat}))))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    if done.returncode != 0:
        lines = (done.stderr.strip() or done.stdout.strip() or f"exit code {done.returncode}").splitlines()
        raise SystemExit(f"bench: the world of size {n} failed: {lines[-1]}")
    return Size(**json.loads(done.stdout.strip().splitlines()[-1]))


def isolation_cost(worlds: int = 50, n: int = 10) -> tuple[float, float]:
    """Seconds for ``worlds`` seeds (crash,drop,reject) of a fan-out of ``n``, with this module isolated
    (each process incarnation executes a fresh copy of it, as of a user's module) and without."""
    timings = []
    for isolate in (("sim.bench.scale",), False):
        scenario = Scenario(bench_fan_out, (n,), functions=(bench_leaf,), expected=n * (n - 1) // 2,
                            isolate=isolate)
        start = time.perf_counter()
        for seed in range(worlds):
            run_world(scenario, seed=seed, faults="crash,drop,reject")
        timings.append(time.perf_counter() - start)
    return timings[0], timings[1]


def main(sizes: list[int], *, repeat: int = 3) -> int:
    print(f"each size runs in a fresh process, up to --repeat times while its runs took under {REPEAT_WITHIN:g} s; "
          "seconds: the best wall time of its runs; cpu: the best CPU time (µs/child and ratio use it); peak: how "
          "much its peak resident memory grew", flush=True)
    print(f"{'children':>9} {'runs':>4} {'seconds':>9} {'cpu s':>8} {'µs/child':>9} {'ratio':>6} {'peak MB':>8} "
          f"{'KB/child':>9} {'steps':>9} {'steps/child':>11}", flush=True)
    base: float | None = None
    measured: list[Size] = []
    for n in sorted(set(sizes)):
        size = measure_fresh(n, repeat)
        measured.append(size)
        per_child = size.cpu / n
        base = per_child if base is None else base
        print(f"{n:>9} {size.runs:>4} {size.seconds:>9.3f} {size.cpu:>8.3f} {per_child * 1e6:>9.1f} "
              f"{per_child / base:>6.2f} {size.peak_growth / 1e6:>8.1f} {size.peak_growth / n / 1e3:>9.2f} "
              f"{size.steps:>9} {size.steps / n:>11.1f}", flush=True)
    print("ratio: cost per child relative to the smallest size in this run (≈1 means cost grows linearly with N)")
    largest, smallest = measured[-1], measured[0]
    if len(measured) > 1:
        ratio = (largest.cpu / largest.n) / (smallest.cpu / smallest.n)
        print(f"the {largest.n}-child world ran and passed its checks in {largest.seconds:.2f} s ({largest.cpu:.2f} s "
              f"CPU); per child it cost "
              f"{ratio:.2f}x the {smallest.n}-child world's and {largest.peak_growth / largest.n / 1e3:.2f} KB")
    worlds = 50
    isolated, shared = isolation_cost(worlds)
    print(f"fresh module copies per process incarnation: {worlds} worlds (fan-out of 10, crash,drop,reject) took "
          f"{isolated:.2f} s isolated, {shared:.2f} s shared: {(isolated - shared) / worlds * 1e3:.2f} ms per world, "
          f"ratio {isolated / shared:.2f}")
    return 0
