"""The pytest plugin, one module per concern: ``options`` (settings and their checks), ``session`` (the
run's seed, start-up checks, header and summary), ``marker`` (``@pytest.mark.durable`` checked at
collection), ``pinned`` (``@durable_example`` worlds as parameters), ``loop`` (a test's worlds),
``hash_seed`` (``--durable-check-hash-seed``), ``report`` (a failing world's report) and ``fixtures``.

The package ``pytest_durable`` names this package in its ``pytest_plugins`` (so ``-p pytest_durable`` and
the ``pytest11`` entry point load it, and ``-p no:pytest_durable`` leaves nothing behind); this package
names its modules in its own ``pytest_plugins``, and pytest registers each as a plugin. It registers the
``pytest_durable_*`` hookspecs third-party plugins implement.
"""

from __future__ import annotations

import pytest

# the package registers this too when pytest was imported first; a script that imported the package
# before pytest gets it here, still before the assertions module is imported
pytest.register_assert_rewrite("pytest_durable.testing.assertions")

from .. import hookspecs  # noqa: E402
from ..harness import UnmarkedDurableSimWarning  # noqa: E402

# Registered in this order; pytest calls the implementations of one hook last registered first, so the
# marker's pytest_configure (declaring it) runs before the session's (checking the options).
pytest_plugins = [
    "pytest_durable.testing.plugin.options",
    "pytest_durable.testing.plugin.session",
    "pytest_durable.testing.plugin.marker",
    "pytest_durable.testing.plugin.pinned",
    "pytest_durable.testing.plugin.loop",
    "pytest_durable.testing.plugin.hash_seed",
    "pytest_durable.testing.plugin.report",
    "pytest_durable.testing.plugin.fixtures",
]

__all__ = ["UnmarkedDurableSimWarning"]  # the old -W error::pytest_durable.plugin.UnmarkedDurableSimWarning


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(hookspecs)
