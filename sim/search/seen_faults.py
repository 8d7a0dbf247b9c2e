"""What a drawn world did, remembered by its test case's choices: Hypothesis prints a failing
example before it runs it again, and that print should name the world's faults, not its rates."""

from __future__ import annotations

from typing import Any


class SeenFaults:
    """The short form of each drawn world lately run, by the choices its test case had made when the
    world was over. Hypothesis replays a failing test case from its choices and prints its arguments
    before running it, so that print can show what those choices did rather than the fault rates."""

    LIMIT = 4096

    def __init__(self) -> None:
        self._forms: dict[tuple[Any, ...], str] = {}
        self._lengths: dict[int, None] = {}

    def remember(self, case: Any, form: str) -> None:
        """Keep ``form`` under the choices ``case`` has made (the oldest goes past ``LIMIT``)."""
        choices = getattr(case, "choices", None)
        if choices is None:
            return
        key = tuple(choices)
        self._forms.pop(key, None)
        self._forms[key] = form
        self._lengths[len(key)] = None
        if len(self._forms) > self.LIMIT:
            del self._forms[next(iter(self._forms))]

    def recall(self, case: Any) -> str | None:
        """The form remembered under a start of the choices ``case`` replays (its ``prefix``), if any."""
        prefix = getattr(case, "prefix", None)
        if not prefix:
            return None
        prefix = tuple(prefix)
        for length in self._lengths:
            try:
                form = self._forms.get(prefix[:length]) if length <= len(prefix) else None
            except TypeError:  # a prefix holding a choice template (not a value): nothing to look up
                return None
            if form is not None:
                return form
        return None


SEEN_FAULTS = SeenFaults()
