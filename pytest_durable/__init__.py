"""pytest-durable: durable functions for Python, a deterministic simulator that runs them under
injected faults, and a pytest plugin that makes crash-recovery bugs reproducible from one seed.

Importing it (or ``pytest_durable.core``/``.sdk``/``.live``) loads only the runtime: never pytest or
hypothesis, so a production worker needs neither. It is also the pytest plugin (``-p pytest_durable`` and
the ``pytest11`` entry point): it names ``pytest_durable.testing.plugin`` in ``pytest_plugins`` (a string,
imported only by pytest), so pytest loads the hooks and fixtures from the pytest face,
``pytest_durable.testing``.
"""

import sys as _sys

if "pytest" in _sys.modules:  # under pytest (and only there) the assertion helpers get rewritten asserts;
    # this must happen before anything imports them, and never imports pytest itself
    _sys.modules["pytest"].register_assert_rewrite("pytest_durable.testing.assertions")

from ._moved import install as _install_moved

_install_moved()  # the pytest face's old module paths (pytest_durable.plugin, .assertions, ...) as aliases

from .core import (
    Canceled,
    DurableError,
    EncodingError,
    Fenced,
    JoinError,
    ManualClock,
    MemoryStore,
    MissingDependency,
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
    TaskFailed,
    TaskRecord,
    TaskState,
    TimedOut,
    UsageError,
)
from .core.errors import AttemptTimedOut, NonRetryable
from .core.misuse import BlockingCallWarning, MisuseWarning, UnawaitedCallWarning
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
    current_promise_id,
    current_root_id,
    dependency,
    function,
)

__version__ = "0.3.0"

__all__ = [
    "AttemptTimedOut", "Canceled", "Constant", "Context", "DurableError", "DurableFunction", "DurableFuture",
    "EncodingError",
    "Exponential", "Fenced", "Handle", "JoinError", "Linear", "ManualClock", "MemoryStore",
    "MissingDependency", "Never", "NonRetryable", "NondeterminismError", "NotFound", "PlatformError", "PromiseRecord",
    "PromiseState", "RegistrationError",
    "Rejected", "RemoteFuture", "RetryPolicy", "Store", "StoreError", "StoreUnavailable", "TaskFailed", "TaskRecord",
    "TaskState", "TimedOut", "UsageError", "Worker", "current_promise_id", "current_root_id", "dependency",
    "function",
]
__all__ += ["BlockingCallWarning", "MisuseWarning", "UnawaitedCallWarning"]  # misuse said once, as warnings

# ``-p pytest_durable`` and the ``pytest11`` entry point register this package; pytest then loads the
# plugin package named here (hooks and fixtures live there, so ``-p no:pytest_durable`` leaves none behind).
pytest_plugins = ["pytest_durable.testing.plugin"]
