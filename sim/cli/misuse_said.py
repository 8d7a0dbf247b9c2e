"""How ``python -m sim`` says a misuse warning (``pytest_durable.core.misuse``): one plain line on stderr,
``python -m sim run: warning: ...``, instead of Python's file-and-line form pointing into the simulator."""

from __future__ import annotations

import sys
import warnings
from typing import Any, TextIO

from pytest_durable.core.misuse import MisuseWarning


def say_misuse_plainly(command: str) -> None:
    """From now on, a ``MisuseWarning`` shown by Python's warnings machinery is one line naming ``command``;
    every other warning is shown as before."""
    previous = warnings.showwarning
    if getattr(previous, "durable_plain", False):
        return

    def show(message: Warning | str, category: type[Warning], filename: str, lineno: int, file: TextIO | None = None,
             line: str | None = None) -> None:
        if issubclass(category, MisuseWarning):
            print(f"python -m sim {command}: warning: {message}", file=file or sys.stderr)
        else:
            previous(message, category, filename, lineno, file, line)

    marked: Any = show
    marked.durable_plain = True
    warnings.showwarning = marked
