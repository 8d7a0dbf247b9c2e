"""README "Stopping, restarting and sharing the work" runs as written: its session starts a worker with a
stable id and a concurrency, runs a workflow, stops the worker with SIGTERM, and the worker's log is what
the section shows."""

from __future__ import annotations

import re
from pathlib import Path

from tests.e2e.test_readme_snippets import README, command_of, run_session, shell

__all__ = ["shell"]  # the fixture, used by the test below

SECTION = "### Stopping, restarting and sharing the work"


def section_blocks(language: str) -> list[str]:
    text = README.read_text()
    assert SECTION in text, f"README.md lost its section {SECTION!r}"
    body = re.split(r"\n##+ ", text.split(SECTION, 1)[1], maxsplit=1)[0]
    return re.findall(rf"```{language}\n(.*?)```", body, re.S)


def test_the_lifecycle_session_runs_as_written_and_the_worker_logs_what_the_readme_shows(
    tmp_path: Path, shell: dict[str, str],
) -> None:
    session, = section_blocks("bash")
    lines = [line for line in session.splitlines() if line.strip()]
    said = run_session(lines, tmp_path, shell)
    assert all(rc == 0 for rc, _ in said.values()), said
    run = next(command for command in said if " run order-8 " in command)
    assert said[run][1] == ['order-8 resolved → "2 reserved; order-8 charged 20; order-8 shipped"']
    transcript, = section_blocks("text")
    command, *shown = transcript.strip().splitlines()
    assert command.startswith("$ ")
    assert (tmp_path / "web-1.log").read_text().splitlines() == shown
    assert command_of(command[2:]) in said
