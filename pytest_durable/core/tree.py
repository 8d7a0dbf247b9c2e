"""The execution tree as text, like ``resonate tree``: every promise under the parent that made it,
with its call, state and value. The simulator's reports and the live ``tree`` command both print it;
a caller that knows more about a promise (the simulator: which process ran its body, how often, what
it did) passes it in as notes, so this module stays free of where the promises came from."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from .codec import describe_call
from .display import outcome_text
from .records import PromiseRecord, PromiseState
from .store import TAG_DETACHED, TAG_PARENT

#: States whose name says all a promise without a value holds.
_SAID_BY_STATE = (PromiseState.REJECTED_CANCELED, PromiseState.REJECTED_TIMEDOUT)


def _value_text(record: PromiseRecord, width: int, as_data: bool) -> str:
    if record.value is None and record.state in _SAID_BY_STATE:  # "rejected_canceled → canceled" says it twice
        return ""
    shown = outcome_text(record) if as_data else (record.value or "")
    if not shown:
        return ""
    text = shown if len(shown) <= width else shown[: width - 1] + "…"
    return f" → {text}"


#: How many levels below a root the tree shows; deeper promises are counted on one line.
MAX_DEPTH = 60


def _count_below(first: PromiseRecord, children: Mapping[str | None, list[PromiseRecord]]) -> int:
    """How many promises the siblings starting at ``first`` and everything under them hold (iteratively)."""
    siblings = children.get(first.tags.get(TAG_PARENT), [first])
    stack, count = list(siblings), 0
    while stack:
        count += 1
        stack.extend(children.get(stack.pop().id, []))
    return count


def tree(promises: Iterable[PromiseRecord], *, mark: Iterable[str] = (), width: int = 60,
         suffix: Mapping[str, str] | None = None, notes: Mapping[str, Sequence[str]] | None = None,
         max_depth: int = MAX_DEPTH, as_data: bool = False) -> str:
    """The execution tree, like ``resonate tree``: each promise under its parent, with its call and
    state; promises in ``mark`` are flagged with ``<<``. ``suffix`` adds text to a promise's line and
    ``notes`` adds lines under it (above its children), both by promise id. Promises more than
    ``max_depth`` levels below a root are counted on one line, not shown. With ``as_data`` calls and values
    are read as data (``codec.decode(..., as_data=True)``: no class imported) and shown as
    ``core.display`` does, errors as ``Type: message``; otherwise values are shown as stored."""
    suffix = suffix or {}
    notes = notes or {}
    records = list(promises)
    marked = set(mark)
    by_id = {r.id: r for r in records}
    children: dict[str | None, list[PromiseRecord]] = {}
    for r in records:
        parent = r.tags.get(TAG_PARENT)
        children.setdefault(parent if parent in by_id else None, []).append(r)
    lines: list[str] = []
    # Depth first with a stack of its own, not recursion: a chain of children thousands deep is a tree
    # too (a workflow that calls itself), and below MAX_DEPTH levels one line says how many are left.
    stack: list[tuple[PromiseRecord, str, bool, int]] = [(r, "", True, 0) for r in reversed(children.get(None, []))]
    while stack:
        record, prefix, last, depth = stack.pop()
        branch = "" if depth == 0 else ("└── " if last else "├── ")
        if depth > max_depth:
            lines.append(f"{prefix}{branch}… {_count_below(record, children)} deeper promise(s) under "
                         f"{record.tags.get(TAG_PARENT)} not shown (below {max_depth} levels)")
            continue
        flag = "  <<" if record.id in marked else ""
        detached = "  (detached)" if record.tags.get(TAG_DETACHED) == "true" else ""
        lines.append(
            f"{prefix}{branch}{record.id}  {describe_call(record.param, as_data=as_data)}{detached}  "
            f"{record.state.value}{_value_text(record, width, as_data)}{suffix.get(record.id, '')}{flag}"
        )
        kids = children.get(record.id, [])
        below = prefix + ("" if depth == 0 else ("    " if last else "│   "))
        for note in notes.get(record.id, ()):
            lines.append(f"{below}{'│' if kids else ' '}   {note}".rstrip())
        if depth == max_depth and kids:
            stack.append((kids[0], below, True, depth + 1))  # one line for all of them
            continue
        stack.extend((kid, below, i == len(kids) - 1, depth + 1) for i, kid in reversed(list(enumerate(kids))))
    return "\n".join(lines)


__all__ = ["tree"]
