"""Reproduce lines: a command that runs this interpreter again, quoted for the shell.

A line that says ``pytest …`` or ``python …`` runs whatever the user's PATH finds, which may be another
interpreter without the package (a virtualenv that is not activated). So a reproduce line names the
interpreter that ran it: ``python`` only when that is the one PATH finds, else its path (relative to the
working folder when it lies inside it, as ``.venv/bin/python`` does).
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from collections.abc import Iterable


def interpreter(executable: str | None = None, *, path: str | None = None, cwd: str | None = None) -> str:
    """How to name ``executable`` (default ``sys.executable``) on a command line: ``python`` when the
    ``python`` on ``path`` (default $PATH) is that very file in the same folder, else its path."""
    executable = os.path.abspath(executable or sys.executable or "python")
    found = shutil.which("python", path=path)
    if found is not None:
        found = os.path.abspath(found)
        try:
            same = os.path.dirname(found) == os.path.dirname(executable) and os.path.samefile(found, executable)
        except OSError:
            same = False
        if same:
            return "python"
    here = os.path.abspath(cwd or os.getcwd())
    relative = os.path.relpath(executable, here)
    if relative.startswith(".."):
        return executable
    return relative if os.sep in relative else os.path.join(".", relative)


def python_m(module: str, args: Iterable[str], *, env: Iterable[str] = ()) -> str:
    """``python -m module args…`` for this interpreter, every word quoted for the shell; ``env``
    (``NAME=value`` words) goes in front."""
    words = [*env, interpreter(), "-m", module, *args]
    return " ".join(shlex.quote(w) for w in words)
