"""pytest-durable: durable functions for Python, a deterministic simulator that runs them under
injected faults, and a pytest plugin that makes crash-recovery bugs reproducible from one seed."""

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
