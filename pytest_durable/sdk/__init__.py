"""The SDK layer: ``@function``, ``Context``, futures, retry policies, the executor and a worker.

The second group of names are the engine's seams that the simulator and the pytest face use; they
are not part of ``pytest_durable``'s own API.
"""

from .attempts import ATTEMPT
from .builders import RpcBuilder, RunBuilder
from .context import Context
from .dependencies import Began, current_function, dependency
from .detached import DETACHED_TIMEOUT, DetachBuilder
from .engine import run_workflow
from .execution import BodyHook, EndHook, Execution, WorkflowEnd
from .executor import Executor, Outcome
from .function import DurableFunction, Registry, function
from .futures import DurableFuture, RemoteFuture
from .options import Options
from .retry import Constant, Exponential, Linear, Never, RetryPolicy
from .running import current_promise, current_promise_id, current_root_id
from .settlement import Suspended, result_of
from .slow_steps import SlowSteps, slow_step_message
from .task_events import Acquired, Ended, Failed, Started, TaskEvent, TaskHook
from .worker import ErrorHook, Handle, Worker

__all__ = [
    "DETACHED_TIMEOUT", "Constant", "Context", "DetachBuilder",
    "DurableFunction", "DurableFuture", "Execution", "Executor", "Exponential",
    "Handle", "Linear", "Never", "Options", "Outcome", "Registry", "RemoteFuture", "RetryPolicy",
    "RpcBuilder", "RunBuilder", "Worker", "current_promise_id", "current_root_id", "dependency", "function",
    # the engine's seams, for the simulator and the pytest face
    "ATTEMPT", "BodyHook", "EndHook", "ErrorHook", "Suspended", "WorkflowEnd", "current_promise", "result_of",
    "run_workflow",
    "Began", "SlowSteps", "current_function", "slow_step_message",
    # what a worker tells of its tasks (``Worker(on_task=...)``), for the live runtime's logs and metrics
    "Acquired", "Ended", "Failed", "Started", "TaskEvent", "TaskHook",
]
