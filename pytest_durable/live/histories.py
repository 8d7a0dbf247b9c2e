"""Histories out of a store and into files, and back: what the deploy check replays new code over.

A store that shows its records (the SQL stores, ``MemoryStore``) gives every root (a promise without
``durable:parent``) with its tree; ``export`` writes each to a file of its own, so a pull request can be
checked against histories sampled from production with no database at hand.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

from ..core.errors import UsageError
from ..core.history import History, histories_of
from ..core.inspection import StoreSnapshot
from ..core.store import TAG_PARENT
from .bookkeeping import is_bookkeeping


class Listing(Protocol):
    """A store that shows every record at one moment (``Inspect.snapshot``)."""

    def snapshot(self, *, apply_due: bool = False) -> StoreSnapshot: ...


def read_histories(store: Listing, *, roots: str | None = None, in_flight: bool = False) -> list[History]:
    """The history of every root of ``store`` whose id matches the glob ``roots`` (all if ``None``), only
    the roots still pending if ``in_flight``; the runtime's own promises (``live.bookkeeping``) are no roots.
    Records are read as the next access would find them: a timeout that fell due applied (a timer that
    fired is resolved, a root past its deadline timed out), without changing the store."""
    promises = store.snapshot(apply_due=True).promises
    chosen = [p.id for p in promises if TAG_PARENT not in p.tags and not is_bookkeeping(p.id)
              and (roots is None or fnmatch.fnmatchcase(p.id, roots)) and not (in_flight and p.settled)]
    return histories_of(promises, chosen)


def file_name(root: str) -> str:
    """``<root id, made file-safe>.json``: characters other than letters, digits, ``.``, ``_`` and ``-``
    become ``_``, and an id that changed gets a short hash of itself, so two roots never share a file."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", root).lstrip(".") or "_"
    if safe != root:
        safe += "-" + hashlib.sha256(root.encode()).hexdigest()[:8]
    return f"{safe}.json"


def write_histories(dir: str | os.PathLike[str], histories: Iterable[History]) -> list[Path]:
    """Write each history to ``dir`` (made if missing), one file per root, each whole or not at all (written
    aside, then renamed); the files written."""
    out = Path(dir)
    if out.exists() and not out.is_dir():
        raise UsageError(f"export --out {out}: is a file; name a directory")
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for history in histories:
        path = out / file_name(history.root)
        partial = path.with_name(path.name + ".partial")  # a kill mid-write leaves no half file as a history
        partial.write_text(history.dumps(), encoding="utf-8")
        os.replace(partial, path)
        written.append(path)
    return written


def load_histories(dir_or_file: str | os.PathLike[str]) -> list[History]:
    """The histories in a file, or in every ``*.json`` file of a directory (by file name); a missing
    path, a directory with none, or a file that is no history is one ``UsageError`` naming it."""
    path = Path(dir_or_file)
    if path.is_dir():
        files = sorted(path.glob("*.json"))
        if not files:
            raise UsageError(f"--histories {path}: no history files (*.json) in this directory; write them with "
                             "`python -m pytest_durable export --out DIR`")
    elif path.is_file():
        files = [path]
    else:
        raise UsageError(f"--histories {path}: no such file or directory")
    out = []
    for file in files:
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"{file}: cannot read it ({exc})") from None
        out.append(History.loads(text, where=str(file)))
    return out


__all__ = ["Listing", "file_name", "load_histories", "read_histories", "write_histories"]
