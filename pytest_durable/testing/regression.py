"""``@durable_example``: a world Hypothesis found, pinned in the test so it runs on every test run,
with or without Hypothesis.

On a ``@given`` test it adds the world as an explicit Hypothesis example; on a plain test the pytest
plugin passes it in as the ``world`` argument. Either way the world is rebuilt from the text alone —
no Hypothesis database, no search — and runs the same way every time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import hypothesis

from sim.search import DrawnWorld, pinned_world

F = TypeVar("F", bound=Callable[..., Any])

#: The attribute a plain test function keeps its pinned worlds in, for the plugin to parametrize.
EXAMPLES_ATTR = "_durable_examples"


def durable_example(*, plan: str = "", faults: str = "none", choices: str = "", quiesce_after: float = 120.0,
                    argname: str = "world") -> Callable[[F], F]:
    """Run the test with the pinned world ``plan``/``faults``/``choices`` (as ``DrawnWorld.pinned()``
    prints it) passed as ``argname``. Text that cannot be read fails here, at import, naming the part."""
    world = pinned_world(plan=plan, faults=faults, choices=choices, quiesce_after=quiesce_after)

    def decorate(test: F) -> F:
        if hasattr(test, "hypothesis"):  # @given is already applied: an explicit example
            return hypothesis.example(**{argname: world})(test)
        examples: list[tuple[str, DrawnWorld]] = [*getattr(test, EXAMPLES_ATTR, []), (argname, world)]
        setattr(test, EXAMPLES_ATTR, examples)
        return test

    return decorate


def pinned_examples(test: Any) -> list[tuple[str, DrawnWorld]]:
    """The pinned worlds of ``test`` (a plain function, or the function under ``@given``)."""
    inner = getattr(getattr(test, "hypothesis", None), "inner_test", test)
    return list(getattr(inner, EXAMPLES_ATTR, []))
