"""Worlds already run, as a tree of the questions each asked its ``Decisions`` and the answers it got,
so that a world whose answers would all be the same is not run again.

A world is a deterministic function of its answers: the same answers to the same questions give the
same world. Hypothesis shrinks a failure by trying choice sequences that often differ only where the
world never looks (a fault that does not fire, a detail digit no choice reads): walking the tree with
the new choices answers the world's questions without running it, and where every answer agrees to
the end, the run is the one recorded there.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import Any

#: A question a world asks: ``("choose", kind, n)`` or ``("flip", kind, where, now)``.
Question = tuple[Any, ...]


class Known:
    """A point in the tree: the question asked there, or (at a world's end) the world's ``result``,
    and whether a second run with the same answers has shown the world to be the same (``verified``:
    until then it is run again, so that a workflow reading state outside ctx is still caught)."""

    __slots__ = ("children", "question", "result", "verified")

    def __init__(self) -> None:
        self.question: Question | None = None
        self.children: dict[int, Known] = {}
        self.result: Any = None
        self.verified = False


class KnownWorlds:
    """The worlds run so far per kind of world (``key``: scenario, faults, plan, ...), up to ``limit``
    recorded questions and ``worlds`` results (each holds its trace) in all; past either the tree
    starts again (it is a cache: shrinking asks again for worlds it ran lately)."""

    def __init__(self, limit: int = 200_000, worlds: int = 200) -> None:
        self.limit = limit
        self.worlds_limit = worlds
        self.worlds = 0
        self.size = 0
        self.hits = 0
        self._roots: dict[Hashable, tuple[object, Known]] = {}

    def add(self, key: Hashable, owner: object, questions: Sequence[Question], answers: Sequence[int],
            result: Any) -> None:
        """Record a world of ``owner`` (the scenario, held so that its id in ``key`` stays its own) that
        asked ``questions`` in order, got ``answers`` and gave ``result``."""
        if self.size + len(questions) > self.limit or self.worlds >= self.worlds_limit:
            self._roots.clear()
            self.size = self.worlds = 0
        held, node = self._roots.setdefault(key, (owner, Known()))
        if held is not owner:
            return
        for question, answer in zip(questions, answers, strict=True):
            if node.question is None:
                node.question = question
            elif node.question != question:  # not the same world after all: keep what was there
                return
            child = node.children.get(answer)
            if child is None:
                child = node.children[answer] = Known()
                self.size += 1
            node = child
        if node.question is None and node.result is None:
            node.result = result
            self.worlds += 1

    def find(self, key: Hashable, owner: object, answer: Callable[[Question], int]) -> Known | None:
        """The end of the world of ``owner`` that ``answer`` (answering each question as the new world
        would) leads to, or None where an answer leaves the recorded worlds."""
        held, node = self._roots.get(key, (None, None))
        if held is not owner:
            return None
        while node is not None:
            if node.result is not None:
                self.hits += node.verified
                return node
            if node.question is None:
                return None
            node = node.children.get(answer(node.question))
        return None


#: Drawn worlds run in this process, to answer a world Hypothesis asks for again (shrinking).
KNOWN_WORLDS = KnownWorlds()
