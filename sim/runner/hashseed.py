"""Re-run worlds in a subprocess under another ``PYTHONHASHSEED`` and compare their trace hashes.

All simulated processes share one interpreter and so one string hash seed: a workflow that iterates
a set of strings to decide its children takes the same order in every incarnation, while a restarted
real worker with another hash seed takes another and raises ``NondeterminismError``. The switch
``python -m sim run --check-hash-seed`` (``--durable-check-hash-seed`` in pytest) re-runs a sweep's
worlds, all in one subprocess, under another hash seed: a world whose trace differs depends on str
hash order. The other seed may happen to order a small set the same way, so a pass is not a proof.

Run as ``python -m sim.runner.hashseed`` it is that subprocess: a JSON request on stdin, hashes on stdout.
With ``--serve`` it stays up and answers one request per line (``Service``): the pytest plugin starts one
per test session (or xdist worker) and re-runs each durable test's fault-free world in it, so a check
costs that world, not an interpreter's start.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from typing import IO, Any

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
    env = {**os.environ, "PYTHONHASHSEED": str(seed)}
    done = subprocess.run([sys.executable, "-m", "sim.runner.hashseed"], input=json.dumps(_request(spec, config, jobs)),
                          env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise UsageError(f"hash-seed check: re-running the worlds under PYTHONHASHSEED={seed} failed: {last}")
    return _differs(jobs, json.loads(done.stdout)["hashes"], seed)


def _differs(jobs: Sequence[Rerun], hashes: Sequence[str], seed: int) -> Difference | None:
    for index, (job, other) in enumerate(zip(jobs, hashes, strict=True)):
        if other != job.trace_hash:
            return Difference(index, job, other, seed)
    return None


def _request(spec: dict[str, Any], config: SimConfig, jobs: Sequence[Rerun]) -> dict[str, Any]:
    return {"sys_path": sys.path, "spec": spec, "config": attrs.asdict(config), "jobs": [attrs.asdict(j) for j in jobs]}


class Service:
    """One subprocess under another hash seed that re-runs worlds on request, started when first asked and
    kept until ``close()``: one per test session (or xdist worker), whatever the number of tests."""

    def __init__(self) -> None:
        self.seed = other_hash_seed()
        self._process: subprocess.Popen[str] | None = None
        self._errors: IO[str] | None = None

    def first_difference(self, spec: dict[str, Any], config: SimConfig, jobs: Sequence[Rerun]) -> Difference | None:
        """Re-run ``jobs`` in the subprocess; the first whose trace differs from this process's."""
        if not jobs:
            return None
        process = self._started()
        assert process.stdin is not None and process.stdout is not None
        try:
            process.stdin.write(json.dumps(_request(spec, config, jobs)) + "\n")
            process.stdin.flush()
            line = process.stdout.readline()
        except OSError:
            line = ""
        answer = json.loads(line) if line else {"error": self._last_error()}
        if "error" in answer:
            raise UsageError(f"hash-seed check: re-running the worlds under PYTHONHASHSEED={self.seed} failed: "
                             f"{answer['error']}")
        return _differs(jobs, answer["hashes"], self.seed)

    def close(self) -> None:
        """End the subprocess (it ends by itself when its input closes)."""
        process, self._process = self._process, None
        if process is not None:
            if process.stdin is not None:
                process.stdin.close()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            if process.stdout is not None:
                process.stdout.close()
        if self._errors is not None:
            self._errors.close()
            self._errors = None

    def _started(self) -> subprocess.Popen[str]:
        if self._process is None or self._process.poll() is not None:
            self.close()
            self._errors = tempfile.TemporaryFile("w+")  # noqa: SIM115 (kept open for the process's life; close() closes it)
            env = {**os.environ, "PYTHONHASHSEED": str(self.seed)}
            self._process = subprocess.Popen([sys.executable, "-m", "sim.runner.hashseed", "--serve"], env=env,
                                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._errors,
                                             text=True)
        return self._process

    def _last_error(self) -> str:
        if self._errors is None:
            return "(no output)"
        self._errors.seek(0)
        return (self._errors.read().strip().splitlines() or ["the process ended with no output"])[-1]


def _answer(request: dict[str, Any]) -> dict[str, Any]:
    sys.path[:0] = [p for p in request["sys_path"] if p not in sys.path]
    jobs = [Rerun(**{**j, "decisions": tuple((k, int(v)) for k, v in j["decisions"])}) for j in request["jobs"]]
    return {"hashes": rerun(request["spec"], SimConfig(**request["config"]), jobs)}


def main(argv: Sequence[str] | None = None) -> int:
    if "--serve" in (sys.argv[1:] if argv is None else argv):
        for line in sys.stdin:  # one request per line, until the input closes
            try:
                answer = _answer(json.loads(line))
            except Exception as exc:  # said to the asking process, which reports it; the next may work
                answer = {"error": f"{type(exc).__name__}: {exc}"}
            sys.stdout.write(json.dumps(answer) + "\n")
            sys.stdout.flush()
        return 0
    json.dump(_answer(json.load(sys.stdin)), sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
