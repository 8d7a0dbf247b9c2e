"""README "Schedules" (issue 25, item 7): its shell session runs as written over ``examples/schedules/reports.py``
and each command prints what the section shows, the tick instants aside (they are the day's)."""

from __future__ import annotations

import re
from pathlib import Path

from tests.e2e.test_readme_snippets import README, command_of, run_session, shell

__all__ = ["shell"]  # the fixture, used by name below

SECTION = "### Schedules"
INSTANT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


def section_blocks(language: str) -> list[str]:
    text = README.read_text()
    assert SECTION in text, f"README.md lost its section {SECTION!r}"
    body = re.split(r"\n##+ ", text.split(SECTION, 1)[1], maxsplit=1)[0]
    return re.findall(rf"```{language}\n(.*?)```", body, re.S)


def masked(lines: list[str]) -> list[str]:
    return [INSTANT.sub("<instant>", line) for line in lines]


def test_the_schedules_session_runs_as_written_and_prints_what_the_readme_shows(tmp_path: Path,
                                                                               shell: dict[str, str]) -> None:
    session, = section_blocks("bash")
    lines = [line for line in session.splitlines() if line.strip()]
    said = run_session(lines, tmp_path, shell)
    assert all(rc == 0 for rc, _ in said.values()), said
    transcript, = section_blocks("text")
    shown: list[tuple[str, list[str]]] = []
    for line in transcript.splitlines():
        if line.startswith("$ "):
            shown.append((line[2:], []))
        else:
            shown[-1][1].append(line)
    assert len(shown) == 3
    for command, printed in shown:
        command = command_of(command)
        assert command in said, f"the README shows {command!r}, which its session does not run"
        assert masked(said[command][1]) == masked(printed), (command, said[command])
    assert (tmp_path / "reports.db").exists()
