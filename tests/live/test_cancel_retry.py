"""``cancel`` and ``retry`` as an operator runs them (issue 25, item 4): a real worker process over SQLite
and over PostgreSQL, the CLI in processes of its own, and the store read afterwards.

- ``cancel`` of a root with 30 children (27 order lines, half of them still working, a timer, an approval
  awaited from outside, a child workflow that keeps making children) while a worker runs it leaves
  nothing pending under it, and no child appears after it: the worker is fenced.
- ``retry`` of a rejected root starts ``ID~2`` and runs again only what had not resolved: each leaf
  body's runs are counted by key.
- Bad input is one line: an unknown id, a settled root for ``cancel``, a pending or resolved root for
  ``retry``.

Nothing is mocked; no time is asserted (the deadlines are liveness bounds).
"""

from __future__ import annotations

import collections
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pytest_durable.core.records import PromiseRecord, PromiseState
from pytest_durable.core.store import TAG_PARENT
from pytest_durable.sdk.reruns import TAG_RETRY_OF
from tests.live.test_rollout import LIVENESS, Fleet, records

APP = "tests.helpers.cancel_app"


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgres":
        from tests.live.test_live_soak import pg_url

        return pg_url(request.getfixturevalue("postgres_dsn"))
    return f"sqlite:///{tmp_path / 'orders.db'}"


@pytest.fixture
def fleet(store_url: str) -> Iterator[Fleet]:
    f = Fleet(store_url)
    try:
        yield f
    finally:
        f.close()


def serve(fleet: Fleet) -> None:
    proc = fleet.worker(APP)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert "serving group 'default': " in line, line


def until(url: str, what: str, holds: Callable[[dict[str, PromiseRecord]], bool]) -> dict[str, PromiseRecord]:
    deadline = time.monotonic() + LIVENESS
    while True:
        seen = records(url)
        if holds(seen):
            return seen
        assert time.monotonic() < deadline, f"never got there: {what}"
        time.sleep(0.02)


def under(seen: dict[str, PromiseRecord], root: str) -> dict[str, PromiseRecord]:
    return {id: r for id, r in seen.items() if id.startswith(root + ".")}


def runs(log: Path) -> collections.Counter[str]:
    return collections.Counter(log.read_text().split()) if log.exists() else collections.Counter()


def test_cancel_of_a_running_30_child_root_leaves_nothing_pending(fleet: Fleet, tmp_path: Path) -> None:
    log = tmp_path / "runs.log"
    serve(fleet)
    started = fleet.command("run", "order-7", f"{APP}:fulfil", f'["{log}", "order-7", 27]')
    assert started.returncode == 0, started

    def busy(seen: dict[str, PromiseRecord]) -> bool:  # every line made, even ones packed, ticker going
        kids = under(seen, "order-7")
        ticks = [id for id in kids if id.startswith("order-7.2.")]
        packed = [id for id, r in kids.items() if r.state is PromiseState.RESOLVED and r.id.count(".") == 1]
        return len(ticks) >= 5 and len(packed) >= 14 and "order-7.29" in kids

    until(fleet.url, "the worker runs order-7 with its children", busy)
    done = fleet.command("cancel", "order-7")
    assert done.returncode == 0, done
    assert done.stderr == ""
    line = done.stdout.strip()
    match = re.fullmatch(r"order-7 canceled: (\d+) promises \(the root, (\d+) children, 1 timer, 1 awaited promise\)",
                         line)
    assert match, line
    seen = records(fleet.url)
    branch = {"order-7": seen["order-7"], **under(seen, "order-7")}
    assert [id for id, r in branch.items() if not r.settled] == []
    canceled = {id for id, r in branch.items() if r.state is PromiseState.REJECTED_CANCELED}
    assert int(match[1]) == len(canceled)
    assert {"order-7", "order-7.0", "order-7.1", "order-7.2"} <= canceled
    assert {f"order-7.{3 + n}" for n in range(1, 27, 2)} <= canceled  # the lines still working
    assert all(branch[f"order-7.{3 + n}"].state is PromiseState.RESOLVED for n in range(0, 27, 2))
    assert int(match[2]) == len(canceled) - 3
    # The worker is fenced: nothing new appears under the root, and the ticker's body stops.
    ticks_then = runs(log)
    time.sleep(1.5)
    later = records(fleet.url)
    assert set(under(later, "order-7")) == set(under(seen, "order-7"))
    assert all(r.settled for r in under(later, "order-7").values())
    assert sum(n for key, n in runs(log).items() if ":tick-" in key) <= sum(
        n for key, n in ticks_then.items() if ":tick-" in key) + 1  # one tick body may have been in flight
    # Cancel again: it was settled, nothing below it is pending.
    again = fleet.command("cancel", "order-7")
    assert again.returncode == 1
    assert again.stdout.strip() == "order-7 was already rejected_canceled; canceled 0 promises still pending below it"
    assert again.stderr.strip() == ("error: cancel order-7: it was already settled (rejected_canceled); "
                                    "it keeps its outcome")


def test_retry_of_a_rejected_root_runs_again_only_what_had_not_resolved(fleet: Fleet, tmp_path: Path) -> None:
    log, broken = tmp_path / "runs.log", tmp_path / "broken"
    broken.write_text("leaf-3 part1-2\n")
    serve(fleet)
    args = f'["{log}", "{broken}", 6, 3]'
    first = fleet.command("run", "batch-1", f"{APP}:assemble", args, "--wait")
    assert first.returncode == 1, first
    assert first.stdout.startswith("batch-1 rejected: RuntimeError: 2 failed"), first.stdout
    assert runs(log) == collections.Counter({f"leaf-{i}": 1 for i in range(6)} | {
        f"part{p}-{i}": 1 for p in range(3) for i in range(3)})
    broken.write_text("")  # the fix
    retried = fleet.command("retry", "batch-1")
    assert retried.returncode == 0, retried
    # below batch-1: 6 leaves, 3 parts and their 9 steps; kept: 5 leaves, 2 parts, 2 steps of the part that rejected
    assert retried.stdout.strip() == ("batch-1~2 started: retries batch-1 (rejected); kept 9 of 18 promises below it "
                                      "(resolved), the rest runs again")
    outcome = fleet.command("get", "batch-1~2", "--wait")
    assert outcome.stdout.strip() == "batch-1~2 resolved → 15", outcome
    assert runs(log) == collections.Counter({f"leaf-{i}": 1 for i in range(6)} | {
        f"part{p}-{i}": 1 for p in range(3) for i in range(3)} | {"leaf-3": 2, "part1-2": 2})
    seen = records(fleet.url)
    assert seen["batch-1~2"].tags[TAG_RETRY_OF] == "batch-1"
    assert seen["batch-1~2.0"].tags[TAG_PARENT] == "batch-1~2"
    assert seen["batch-1"].state is PromiseState.REJECTED  # a settled promise never changes
    # A retry of the retry is batch-1~3; a resolved root is refused.
    refused = fleet.command("retry", "batch-1~2")
    assert (refused.returncode, refused.stdout) == (1, "")
    assert refused.stderr.strip() == "error: retry batch-1~2: it resolved; there is nothing to retry"


def test_bad_input_is_one_line(fleet: Fleet, tmp_path: Path) -> None:
    for command in ("cancel", "retry"):
        out = fleet.command(command, "no-such-order")
        assert (out.returncode, out.stdout) == (2, ""), out
        said = out.stderr.strip()
        assert said.startswith(f"error: {command}: no promise with id 'no-such-order' in "), said
        assert said.endswith("; `python -m pytest_durable ls --all` lists the ids it holds") and "\n" not in said
    log = tmp_path / "runs.log"
    started = fleet.command("run", "order-8", f"{APP}:fulfil", f'["{log}", "order-8", 1]')  # no worker: pending
    assert started.returncode == 0, started
    pending = fleet.command("retry", "order-8")
    assert (pending.returncode, pending.stdout) == (1, "")
    assert pending.stderr.strip() == ("error: retry order-8: it is still pending; cancel it first (cancel order-8) "
                                      "or wait for it")
    assert fleet.command("cancel", "order-8").stdout.strip() == "order-8 canceled: 1 promise (the root)"
    again = fleet.command("retry", "order-8")  # a canceled root may be retried
    assert again.stdout.strip() == ("order-8~2 started: retries order-8 (rejected_canceled); kept 0 of 0 promises "
                                    "below it (resolved), the rest runs again"), again
