"""The sweep's progress line on stderr (``python -m sim run --seeds N``): how many worlds ran, how
many failed and for how long, so a long sweep shows it is alive without flooding a log."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO


class Progress:
    """A progress bar on stderr: redrawn in place on a terminal (each hundredth), a line per tenth
    otherwise; and in either case at least every ``every`` seconds of wall-clock time, so a slow
    sweep piped into a log still shows it is alive. ``clock`` is the CLI's own (it reports on the
    sweep from outside the worlds, which never read it); tests pass a fake one."""

    def __init__(self, total: int, stream: TextIO = sys.stderr, *, every: float = 5.0,
                 clock: Callable[[], float] = time.perf_counter) -> None:
        self.total = total
        self.stream = stream
        self.tty = stream.isatty()
        self.every = every
        self.clock = clock
        self.start = clock()
        self._shown = -1
        self._shown_at = self.start

    def update(self, done: int, failing: int) -> None:
        """``done`` worlds ran, ``failing`` of them failed: redraw the line if it is due (never for a
        sweep of fewer than 20 worlds)."""
        if self.total < 20:
            return
        step = max(1, self.total // (100 if self.tty else 10))
        now = self.clock()
        if done != self.total and done // step == self._shown and now - self._shown_at < self.every:
            return
        self._shown = done // step
        self._shown_at = now
        width = 30
        filled = width * done // self.total
        bar = "#" * filled + "." * (width - filled)
        line = f"[{bar}] {done}/{self.total} worlds, {failing} failing, {now - self.start:.1f} s"
        if self.tty:
            self.stream.write("\r" + line + ("\n" if done == self.total else ""))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()
