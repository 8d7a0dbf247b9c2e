"""A durable test's progress on pytest's terminal line: worlds done and failing so far.

It is drawn after what pytest already wrote on the line (the file's dots, or the test's name under
``-v``) and erased with backspaces before pytest writes the outcome, so the line ends as it would have,
colours included, and the test's captured output never sees it (capture is suspended while it draws).
It is drawn only on a terminal, only when pytest's own output owns the line (not under ``-s``, live
logging, or in an xdist worker, which has no terminal), and only for a test still running ``after``
seconds after it started; then redrawn at most every ``every`` seconds. The clock is wall time: it
reports on the test from outside its worlds, which never read it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

#: Fewer free columns than this at the end of the line: draw nothing rather than a stub.
MIN_ROOM = 12
#: Seconds between two drawings of a test's progress (a test's conftest may set it to 0 to see every world).
EVERY = 0.25


class TestProgress:
    """When and what to draw for one test running ``total`` worlds; ``write`` puts text on the terminal
    as it is, ``room`` is how many columns are free at the end of the line."""

    __test__ = False  # not a test class, despite its name

    def __init__(self, total: int, write: Callable[[str], None], room: Callable[[], int], *,
                 after: float = 1.0, every: float = 0.25, clock: Callable[[], float] = time.monotonic) -> None:
        self.total = total
        self.write = write
        self.room = room
        self.after = after
        self.every = every
        self.clock = clock
        self.start = clock()
        self._drawn = 0  # columns of text of ours on the line now
        self._drawn_at: float | None = None

    def due(self) -> bool:
        """Whether to draw now: ``after`` seconds into the test, then every ``every`` seconds."""
        now = self.clock()
        if now - self.start < self.after:
            return False
        return self._drawn_at is None or now - self._drawn_at >= self.every

    def text(self, done: int, failing: int) -> str:
        return f"[durable {done}/{self.total} worlds, {failing} failing, {self.clock() - self.start:.0f} s]"

    def show(self, done: int, failing: int) -> None:
        """Replace what this drew before by the count now (cut to the room left on the line)."""
        self._drawn_at = self.clock()
        room = self.room()
        text = self.text(done, failing)
        if room < MIN_ROOM:
            self.close()
            return
        text = " " + text[: room - 1]
        self.write(self._erasure() + text)
        self._drawn = len(text)

    def close(self) -> None:
        """Erase what this drew, leaving the cursor where pytest left it."""
        if self._drawn:
            self.write(self._erasure())
            self._drawn = 0

    def _erasure(self) -> str:
        n = self._drawn
        return "\b" * n + " " * n + "\b" * n if n else ""


def for_item(item: Any, total: int, after: float) -> TestProgress | None:
    """A ``TestProgress`` drawing on the terminal of ``item``'s session, or None where it must not draw."""
    config = item.config
    if total < 2 or getattr(config, "workerinput", None) is not None:
        return None
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    writer = getattr(reporter, "_tw", None)
    capture = config.pluginmanager.get_plugin("capturemanager")
    if writer is None or capture is None or not _isatty(reporter):
        return None
    if config.getoption("capture", "fd") == "no":  # -s: the test's own output shares the line
        return None
    if config.getoption("log_cli_level", None) is not None or config.getini("log_cli"):
        return None

    def write(text: str) -> None:
        with capture.global_and_fixture_disabled():
            writer.write_raw(text, flush=True)

    def room() -> int:
        return int(writer.fullwidth) - int(writer.width_of_current_line) - 1

    return TestProgress(total, write, room, after=after, every=EVERY)


def _isatty(reporter: Any) -> bool:
    isatty = getattr(reporter, "isatty", False)  # a method, or (older pytest) a bool
    return bool(isatty() if callable(isatty) else isatty)
