"""Every CLI error is one line with a hint (issue 25, item 8): the command line argparse cannot read, an id
the store does not hold, a group no worker may serve, a store file that cannot be opened."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_durable.live.cli import main


def said(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """The exit status and stderr of the CLI run in this process (argparse's errors exit by ``SystemExit``)."""
    try:
        code = main(argv)
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    assert out.out == "", out.out
    return code, out.err


@pytest.mark.parametrize(("argv", "line"), [
    ([], "error: the following arguments are required: command (see python -m pytest_durable --help)"),
    (["ls", "--state", "done"], "error: ls: argument --state: invalid choice: 'done' (choose from 'pending', "
     "'resolved', 'rejected', 'rejected_canceled', 'rejected_timedout') (see python -m pytest_durable ls --help)"),
    (["run", "x", "tests.helpers.fleet_app:order", '["x"]', "--group", ""],
     "error: run: argument --group: '' is not a group name; name one, e.g. --group billing "
     "(see python -m pytest_durable run --help)"),
    (["worker", "tests.helpers.fleet_app", "--group", "durable:sweeper"],
     "error: worker: argument --group: 'durable:sweeper': groups named durable:... are the workers' own; name "
     "another (see python -m pytest_durable worker --help)"),
    (["get"], "error: get: the following arguments are required: id (see python -m pytest_durable get --help)"),
])
def test_a_command_line_that_cannot_be_read_is_one_line(argv: list[str], line: str, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    assert said(["--store", f"sqlite:///{tmp_path / 'app.db'}", *argv], capsys) == (2, line + "\n")


def test_an_unknown_id_names_the_command_and_the_store_and_says_how_to_see_the_ids(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = f"sqlite:///{tmp_path / 'app.db'}"
    for command in ("get", "tree", "resolve"):
        assert said(["--store", store, command, "order-7"], capsys) == (
            2, f"error: {command}: no promise with id 'order-7' in {store}; `python -m pytest_durable ls --all` lists "
               "the ids it holds\n")


def test_a_store_file_that_cannot_be_opened_says_what_to_check(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "no-such-folder" / "app.db"
    assert said(["--store", f"sqlite:///{path}", "ls"], capsys) == (
        1, f"error: SchemaError: SqliteStore('{path}'): cannot open the file: unable to open database file (does "
           "its folder exist, and may this user write there?)\n")
