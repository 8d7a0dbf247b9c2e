"""The execution tree as text, like ``resonate tree``: every promise under the parent that made it,
with its call, state and value. The simulator's reports and the live ``tree`` command both print it;
a caller that knows more about a promise (the simulator: which process ran its body, how often, what
it did) passes it in as notes, so this module stays free of where the promises came from."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from .codec import describe_call
from .records import PromiseRecord
from .store import TAG_DETACHED, TAG_PARENT


def _value_text(record: PromiseRecord, width: int) -> str:
    if record.value is None:
        return ""
    text = record.value if len(record.value) <= width else record.value[: width - 1] + "…"
    return f" → {text}"


def tree(promises: Iterable[PromiseRecord], *, mark: Iterable[str] = (), width: int = 60,
         suffix: Mapping[str, str] | None = None, notes: Mapping[str, Sequence[str]] | None = None) -> str:
    """The execution tree, like ``resonate tree``: each promise under its parent, with its call and
    state; promises in ``mark`` are flagged with ``<<``. ``suffix`` adds text to a promise's line and
    ``notes`` adds lines under it (above its children), both by promise id."""
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

    def walk(record: PromiseRecord, prefix: str, last: bool, top: bool) -> None:
        branch = "" if top else ("└── " if last else "├── ")
        flag = "  <<" if record.id in marked else ""
        detached = "  (detached)" if record.tags.get(TAG_DETACHED) == "true" else ""
        lines.append(
            f"{prefix}{branch}{record.id}  {describe_call(record.param)}{detached}  {record.state.value}"
            f"{_value_text(record, width)}{suffix.get(record.id, '')}{flag}"
        )
        kids = children.get(record.id, [])
        below = prefix + ("" if top else ("    " if last else "│   "))
        for note in notes.get(record.id, ()):
            lines.append(f"{below}{'│' if kids else ' '}   {note}".rstrip())
        for i, kid in enumerate(kids):
            walk(kid, below, i == len(kids) - 1, False)

    roots = children.get(None, [])
    for root in roots:
        walk(root, "", True, True)
    return "\n".join(lines)


__all__ = ["tree"]
