"""The SDK layer: ``@function``, ``Context``, futures, retry policies, the executor and a worker."""

from .context import Context, Execution, Options, RpcBuilder, RunBuilder
from .dependencies import dependency
from .executor import Executor, Outcome
from .function import DurableFunction, Registry, function
from .futures import DurableFuture, RemoteFuture
from .retry import Constant, Exponential, Linear, Never, RetryPolicy
from .running import current_promise_id
from .settlement import Suspended, result_of
from .worker import Handle, Worker

__all__ = [
    "Constant", "Context", "DurableFunction", "DurableFuture", "Execution", "Executor", "Exponential",
    "Handle", "Linear", "Never", "Options", "Outcome", "Registry", "RemoteFuture", "RetryPolicy",
    "RpcBuilder", "RunBuilder", "Suspended", "Worker", "current_promise_id", "dependency", "function", "result_of",
]
