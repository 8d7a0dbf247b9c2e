"""README "Cancel and retry" (issue 25, item 4): its session runs as written, in one shell with a worker
in the background, and every command prints what the README shows under it."""

from __future__ import annotations

import re
from pathlib import Path

from tests.e2e.test_readme_snippets import README, command_of, run_session, shell

__all__ = ["shell"]  # the fixture, used below by name

SECTION = "### Cancel and retry"


def transcript() -> list[tuple[str, list[str]]]:
    """The section's ``$ command`` lines, each with the lines shown under it."""
    text = README.read_text()
    assert SECTION in text, f"README.md lost its section {SECTION!r}"
    body = re.split(r"\n##", text.split(SECTION, 1)[1], maxsplit=1)[0]
    block, = re.findall(r"```text\n(.*?)```", body, re.S)
    out: list[tuple[str, list[str]]] = []
    for line in block.splitlines():
        if line.startswith("$ "):
            out.append((line[2:], []))
        else:
            out[-1][1].append(line)
    return out


def test_the_cancel_and_retry_session_runs_as_written_and_prints_what_the_readme_shows(
        tmp_path: Path, shell: dict[str, str]) -> None:
    shown = transcript()
    said = run_session([command for command, _ in shown], tmp_path, shell)
    for command, printed in shown:
        rc, out = said[command_of(command)]
        assert out == printed, (command, out)
        assert rc == (1 if "--wait" in command and "batch-1 " in command else 0), (command, rc, out)
    assert len(shown) == 11
