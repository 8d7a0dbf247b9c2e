"""README "Seeing the fleet: `ls`, `get`, `tree`" runs as written (issue 25, item 6): its commands run in one
shell in an empty folder, the example as a script (so its classes are ``__main__``'s), and each command the
section shows prints what it shows, but for the times, which are the clock's."""

from __future__ import annotations

import re
from pathlib import Path

from tests.e2e.test_readme_snippets import README, command_of, run_session, shell

__all__ = ["shell"]  # the fixture, used by name

SECTION = "### Seeing the fleet: `ls`, `get`, `tree`"
TIME = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")


def section_blocks(language: str) -> list[str]:
    """The ``language`` blocks of the section, up to the next heading."""
    text = README.read_text()
    assert SECTION in text, f"README.md lost its section {SECTION!r}"
    body = re.split(r"\n#{2,3} ", text.split(SECTION, 1)[1], maxsplit=1)[0]
    return re.findall(rf"```{language}\n(.*?)```", body, re.S)


def test_the_fleet_section_runs_as_written_and_prints_what_it_shows(tmp_path: Path, shell: dict[str, str]) -> None:
    (tmp_path / "examples").symlink_to(README.parent / "examples")
    session, = section_blocks("bash")
    lines = [line for line in session.splitlines() if line.strip()]
    said = run_session(lines, tmp_path, shell)
    assert all(rc == 0 for rc, _ in said.values()), said
    shown: list[tuple[str, list[str]]] = []
    for line in section_blocks("text")[0].splitlines():
        if line.startswith("$ "):
            shown.append((line[2:], []))
        else:
            shown[-1][1].append(line)
    assert len(shown) == 5
    for command, printed in shown:
        assert command_of(command) in said, f"the README shows {command!r}, which its session does not run"
        got = said[command_of(command)][1]
        assert [TIME.sub("T", line) for line in got] == [TIME.sub("T", line) for line in printed], (command, got)
    assert said["python examples/fan_out_fan_in.py 3"][1] == [f"Processed: item-{i} (item #{i})" for i in range(3)]
