"""pytest-durable: durable functions for Python, a deterministic simulator that runs them under
injected faults, and a pytest plugin that makes crash-recovery bugs reproducible from one seed.

This package is also the pytest plugin (``-p pytest_durable`` and the ``pytest11`` entry point): it
re-exports the hooks and fixtures of ``pytest_durable.plugin`` at the end of this file.
"""

import pytest as _pytest

_pytest.register_assert_rewrite("pytest_durable.assertions")

from .core import (
    Canceled,
    DurableError,
    EncodingError,
    Fenced,
    JoinError,
    ManualClock,
    MemoryStore,
    NondeterminismError,
    NotFound,
    PlatformError,
    PromiseRecord,
    PromiseState,
    RegistrationError,
    Rejected,
    Store,
    StoreError,
    StoreUnavailable,
    TaskRecord,
    TaskState,
    TimedOut,
    UsageError,
)
from .sdk import (
    Constant,
    Context,
    DurableFunction,
    DurableFuture,
    Exponential,
    Handle,
    Linear,
    Never,
    RemoteFuture,
    RetryPolicy,
    Worker,
    function,
)

__version__ = "0.1.0"

__all__ = [
    "Canceled", "Constant", "Context", "DurableError", "DurableFunction", "DurableFuture", "EncodingError",
    "Exponential", "Fenced", "Handle", "JoinError", "Linear", "ManualClock", "MemoryStore", "Never",
    "NondeterminismError", "NotFound", "PlatformError", "PromiseRecord", "PromiseState", "RegistrationError",
    "Rejected", "RemoteFuture", "RetryPolicy", "Store", "StoreError", "StoreUnavailable", "TaskRecord",
    "TaskState", "TimedOut", "UsageError", "Worker", "function",
]

# The pytest plugin's hooks and fixtures, so that ``-p pytest_durable`` registers them.
from .plugin import (
    durable_seed as durable_seed,
)
from .plugin import (
    durable_sim as durable_sim,
)
from .plugin import (
    ledger as ledger,
)
from .plugin import (
    pytest_addhooks as pytest_addhooks,
)
from .plugin import (
    pytest_addoption as pytest_addoption,
)
from .plugin import (
    pytest_assertrepr_compare as pytest_assertrepr_compare,
)
from .plugin import (
    pytest_collection_modifyitems as pytest_collection_modifyitems,
)
from .plugin import (
    pytest_configure as pytest_configure,
)
from .plugin import (
    pytest_configure_node as pytest_configure_node,
)
from .plugin import (
    pytest_pyfunc_call as pytest_pyfunc_call,
)
from .plugin import (
    pytest_report_header as pytest_report_header,
)
from .plugin import (
    pytest_runtest_makereport as pytest_runtest_makereport,
)
from .plugin import (
    pytest_runtest_setup as pytest_runtest_setup,
)
