"""The bottom layer: records, ids, codec, errors, the store contract and the reference store."""

from .clock import Clock, ManualClock, TrioClock, WallClock
from .codec import Call, decode, decode_call, decode_error, describe_call, encode, encode_call, encode_error
from .errors import (
    Canceled,
    DurableError,
    EncodingError,
    Fenced,
    JoinError,
    MissingDependency,
    NondeterminismError,
    NotFound,
    PlatformError,
    RegistrationError,
    Rejected,
    StoreError,
    StoreUnavailable,
    TaskFailed,
    TaskStateError,
    TimedOut,
    UsageError,
)
from .ids import check_root_id, child_id, parent_of
from .inspection import Inspect, InspectableStore, StoreSnapshot
from .invariants import task_invariant_breaks, task_invariant_violations
from .memory_store import MemoryStore
from .records import Fence, PromiseRecord, PromiseState, SuspendResult, TaskRecord, TaskState
from .store import TAG_ORIGIN, TAG_PARENT, TAG_SCOPE, TAG_TARGET, TAG_TIMER, Store

__all__ = [
    "Call", "Canceled", "Clock", "DurableError", "EncodingError", "Fence", "Fenced", "Inspect", "InspectableStore",
    "JoinError", "ManualClock", "MemoryStore", "MissingDependency", "NondeterminismError", "NotFound",
    "PlatformError", "PromiseRecord",
    "PromiseState", "RegistrationError", "Rejected", "Store", "StoreError", "StoreUnavailable",
    "StoreSnapshot", "SuspendResult", "TAG_ORIGIN", "TAG_PARENT", "TAG_SCOPE", "TAG_TARGET", "TAG_TIMER", "TaskFailed",
    "TaskRecord",
    "TaskState", "TaskStateError", "TimedOut", "TrioClock", "UsageError", "WallClock", "check_root_id", "child_id",
    "decode", "decode_call", "decode_error", "describe_call", "encode", "encode_call", "encode_error",
    "parent_of", "task_invariant_breaks", "task_invariant_violations",
]
