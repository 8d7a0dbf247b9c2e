"""Re-run worlds in a subprocess under another ``PYTHONHASHSEED`` and compare their trace hashes.

All simulated processes share one interpreter and so one string hash seed: a workflow that iterates
a set of strings to decide its children takes the same order in every incarnation, while a restarted
real worker with another hash seed takes another and raises ``NondeterminismError``. The switch
``python -m sim run --check-hash-seed`` (``--durable-check-hash-seed`` in pytest) re-runs a sweep's
worlds, all in one subprocess, under another hash seed: a world whose trace differs depends on str
hash order. The other seed may happen to order a small set the same way, so a pass is not a proof.

Run as ``python -m sim.runner.hashseed`` it is that subprocess: a JSON request on stdin, hashes on stdout.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from typing import Any

import attrs

from pytest_durable.core.errors import UsageError

from ..faults import FaultConfig
from ..kernel.decisions import RecordedDecisions
from ..scenario import SimConfig, build
from ..world import world_store
from .one_world import run_world

HINT = ("it depends on the hash order of strings (it iterates a set of str, or a dict built from one, in an "
        "order that changes with PYTHONHASHSEED); iterate sorted(...) instead")


@attrs.frozen
class Rerun:
    """One world to re-run: by seed, or (a drawn world) by its recorded decisions."""

    seed: int | None
    faults: str
    plan: str
    quiesce_after: float
    trace_hash: str
    decisions: tuple[tuple[str, int], ...] = ()


@attrs.frozen
class Difference:
    """The first job whose world traced differently under the other hash seed."""

    index: int
    job: Rerun
    other_hash: str
    hash_seed: int

    def __str__(self) -> str:
        world = f"seed {self.job.seed}" if self.job.seed is not None else "the drawn world"
        return (f"hash-seed: {world} traced {self.job.trace_hash} here and {self.other_hash} under "
                f"PYTHONHASHSEED={self.hash_seed}: {HINT}")


def other_hash_seed() -> int:
    """A hash seed other than this process's: PYTHONHASHSEED + 1 if it is set, else 0 (this process's
    is then random)."""
    raw = os.environ.get("PYTHONHASHSEED", "")
    return (int(raw) + 1) % 4_294_967_296 if raw.isdigit() else 0


def rerun(spec: dict[str, Any], config: SimConfig, jobs: Sequence[Rerun]) -> list[str]:
    """The trace hashes of ``jobs`` re-run in this process."""
    scenario = build(spec)
    hashes = []
    for job in jobs:
        faults = FaultConfig.parse(job.faults, quiesce_after=job.quiesce_after)
        decisions = RecordedDecisions(list(job.decisions)) if job.seed is None else None
        with world_store(spec.get("store", "memory")) as store:
            result = run_world(scenario, seed=job.seed, decisions=decisions, faults=faults, plan=job.plan,
                               config=config, store=store)
        hashes.append(result.trace_hash)
    return hashes


def first_difference(spec: dict[str, Any], config: SimConfig, jobs: Sequence[Rerun]) -> Difference | None:
    """Re-run ``jobs`` in one subprocess under another hash seed; the first whose trace differs."""
    if not jobs:
        return None
    seed = other_hash_seed()
    request = {"sys_path": sys.path, "spec": spec, "config": attrs.asdict(config),
               "jobs": [attrs.asdict(j) for j in jobs]}
    env = {**os.environ, "PYTHONHASHSEED": str(seed)}
    done = subprocess.run([sys.executable, "-m", "sim.runner.hashseed"], input=json.dumps(request), env=env,
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise UsageError(f"hash-seed check: re-running the worlds under PYTHONHASHSEED={seed} failed: {last}")
    hashes = json.loads(done.stdout)["hashes"]
    for index, (job, other) in enumerate(zip(jobs, hashes, strict=True)):
        if other != job.trace_hash:
            return Difference(index, job, other, seed)
    return None


def main() -> int:
    request = json.load(sys.stdin)
    sys.path[:0] = [p for p in request["sys_path"] if p not in sys.path]
    jobs = [Rerun(**{**j, "decisions": tuple((k, int(v)) for k, v in j["decisions"])}) for j in request["jobs"]]
    hashes = rerun(request["spec"], SimConfig(**request["config"]), jobs)
    json.dump({"hashes": hashes}, sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
