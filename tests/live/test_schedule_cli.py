"""``python -m pytest_durable schedule create|ls|delete`` over a SQLite file (issue 25, item 7): what each
prints, bad input as one line naming what is at fault (exit 2), and the schedules' own promises kept out
of the listings of a user's promises and roots."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_durable.live import open_store
from pytest_durable.live.cli import main
from pytest_durable.live.histories import read_histories

APP = "tests.helpers.schedule_app"


@pytest.fixture
def store(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'app.db'}"


def run(capsys: pytest.CaptureFixture[str], store: str, *argv: str) -> tuple[int, str, str]:
    code = main(["--store", store, "schedule", *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_create_ls_delete(capsys: pytest.CaptureFixture[str], store: str) -> None:
    code, out, err = run(capsys, store, "create", "nightly", "0 3 * * *", f"{APP}:tick", "[7]")
    assert (code, err) == (0, "") and out.startswith("nightly created: '0 3 * * *' tick [7] on group 'default'; "
                                                     "next root nightly@"), out
    assert out.rstrip().endswith(f"T03:00:00Z ({store})")
    code, again, _ = run(capsys, store, "create", "nightly", "0  3 * * *", f"{APP}:tick", '{"args": [7]}')
    assert code == 0 and again.startswith("nightly exists: "), "the same definition again is the one stored"
    code, out, _ = run(capsys, store, "ls")
    assert code == 0 and out.startswith("nightly active: '0 3 * * *' tick [7] on group 'default'; last root none "
                                        "in the last 3600s; next tick "), out
    code, out, _ = run(capsys, store, "delete", "nightly")
    assert (code, out) == (0, "nightly deleted: no tick starts any more; the roots it started stay\n")
    code, out, err = run(capsys, store, "delete", "nightly")
    assert (code, err) == (1, "error: schedule delete nightly: it was already deleted; nothing changed\n")
    code, out, _ = run(capsys, store, "ls", "--store", store)
    assert (code, out) == (0, "nightly deleted: '0 3 * * *' tick [7] on group 'default'\n")


def test_the_schedules_own_promises_are_no_users(capsys: pytest.CaptureFixture[str], store: str) -> None:
    assert run(capsys, store, "create", "beat", "@every 10s", f"{APP}:tick", "[1]")[0] == 0
    assert main(["--store", store, "ls", "--all"]) == 0
    assert capsys.readouterr().out == "0 promises; no more\n", "no root, no child: the schedule's are the runtime's"
    opened = open_store(store)
    try:
        assert read_histories(opened.store) == []  # type: ignore[attr-defined]
    finally:
        opened.close()


@pytest.mark.parametrize(("argv", "says"), [
    (["create", "x", "61 * * * *", f"{APP}:tick", "[1]"],
     "error: schedule create: CRON '61 * * * *' is not a cron expression ([61 * * * *] is not acceptable, out of "
     "range); write 5 fields (minute hour day-of-month month day-of-week, e.g. '0 3 * * *'), 6 with seconds "
     "first ('*/10 * * * * *'), or an interval ('@every 30s')"),
    (["create", "x", "@every 1s", f"{APP}:nope", "[1]"],
     f"error: schedule create: 'nope' in module {APP!r} is not defined"),
    (["create", "x", "@every 1s", "no_such_module:tick"],
     "error: schedule create: no module named 'no_such_module' (run from the directory that holds it, or put it "
     "on PYTHONPATH)"),
    (["create", "a b", "@every 1s", f"{APP}:tick", "[1]"],
     "error: schedule create: id must be a non-empty string without white space, got 'a b'; name the schedule "
     "after what it starts, e.g. 'nightly-report'"),
    (["create", "durable:x", "@every 1s", f"{APP}:tick", "[1]"],
     "error: schedule create: schedule id 'durable:x' may neither start with 'durable:' nor hold '@' (its roots "
     "are named ID@INSTANT); e.g. 'nightly-report'"),
    (["create", "a@b", "@every 1s", f"{APP}:tick", "[1]"],
     "error: schedule create: schedule id 'a@b' may neither start with 'durable:' nor hold '@' (its roots are "
     "named ID@INSTANT); e.g. 'nightly-report'"),
    (["create", "x", "@every 1s", f"{APP}:tick", "[1, 2]"],
     "error: schedule create: tick(n: 'int'): too many positional arguments"),
    (["create", "x", "@every 1s", f"{APP}:tick", "[1"], "error: schedule create: ARGS is not JSON ("),
    (["create", "x", "@every 1s", f"{APP}:tick", '["a"]'],
     "error: schedule create: tick: parameter 'n' expects int, got str"),
    (["create", "x", "@every 1s", f"{APP}:tick", "[1]", "--catch-up", "0"],
     "error: schedule create: --catch-up must be a positive number of seconds, got 0"),
    (["create", "x", "@every 1s", f"{APP}:tick", "[1]", "--group", "durable:schedules"],
     "error: schedule create: --group 'durable:schedules' is not a worker group; e.g. --group default"),
    (["delete", "ghost"], "error: schedule delete: no schedule 'ghost'; `schedule ls` lists them"),
])
def test_bad_input_is_one_line(capsys: pytest.CaptureFixture[str], store: str, argv: list[str], says: str) -> None:
    code, out, err = run(capsys, store, *argv)
    assert code == 2 and out == "" and err.startswith(says) and err.count("\n") == 1, err
    assert run(capsys, store, "ls") == (0, "", ""), "nothing was written"


def test_an_id_names_one_schedule(capsys: pytest.CaptureFixture[str], store: str) -> None:
    assert run(capsys, store, "create", "beat", "@every 1s", f"{APP}:tick", "[1]")[0] == 0
    code, _, err = run(capsys, store, "create", "beat", "@every 2s", f"{APP}:tick", "[1]")
    assert (code, err) == (2, "error: schedule create: schedule 'beat' exists as beat active: '@every 1s' tick [1] "
                              "on group 'default', catch-up 3600s; delete it first, or pick another id\n")
    assert run(capsys, store, "delete", "beat")[0] == 0
    code, _, err = run(capsys, store, "create", "beat", "@every 1s", f"{APP}:tick", "[1]")
    assert (code, err) == (2, "error: schedule create: schedule 'beat' was deleted; an id names one schedule for "
                              "good (its roots keep it), so pick another id\n")
