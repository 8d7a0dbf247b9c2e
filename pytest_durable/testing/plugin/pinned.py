"""``@durable_example`` worlds at collection: a plain test is parametrized with them as its ``world``
argument; a ``@given`` test gets each as an explicit Hypothesis example."""

from __future__ import annotations

import hypothesis
import pytest

from ..regression import pinned_examples


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """``@durable_example`` worlds: a plain test gets each as its ``world`` argument; a ``@given``
    test (decorated below ``@given``) gets each as an explicit Hypothesis example."""
    examples = pinned_examples(metafunc.function)
    if not examples:
        return
    if hasattr(metafunc.function, "hypothesis"):
        if not getattr(metafunc.function, "_durable_examples_applied", False):
            for argname, world in examples:
                hypothesis.example(**{argname: world})(metafunc.function)
            metafunc.function._durable_examples_applied = True
        return
    names = {argname for argname, _ in examples}
    if len(names) != 1:
        raise pytest.UsageError(f"{metafunc.definition.nodeid}: @durable_example worlds must all use one argument "
                                f"name, got {sorted(names)}")
    metafunc.parametrize(names.pop(), [w for _, w in examples], ids=[f"pinned{i}" for i in range(len(examples))])
