"""Every check a verdict makes, in one place.

``catalog.CATALOG`` is the one list of them, in the order a failing world's report gives them
(``cause_first``); ``verdict.judge`` makes the ones read from a finished world, in order. Each check
lives in a module of its own: (1) ``settled_once`` and (6) ``task_invariants`` watch the server step by
step; (2) ``rerun``; (3)/(4) ``oracle`` replays each workflow over the world's own record, where it
could disagree (``replay_scope``, by ``ctx_only``'s test of what a body reads); (4)
``root_value`` against the user's ``expected=``/``outcomes=``; (5) ``liveness``; (7) ``determinism``;
(8) the user's invariants (``verdict.user_invariants``); and platform errors inside the world
(``platform``), each naming the promise at fault.
"""

from .catalog import CATALOG, CAUSES, Check
from .determinism import determinism, diverged
from .oracle import Replay, replay
from .platform import PlatformErrors, error_kind, stuck_body, world_raised
from .promise_cap import report_cap
from .settled_once import SettledOnce
from .task_invariants import TaskInvariants
from .verdict import Verdict, judge, user_invariants
from .violations import Findings, Violation, cause_first

__all__ = [
    "CATALOG", "CAUSES", "Check", "Findings", "PlatformErrors", "Replay", "SettledOnce", "TaskInvariants",
    "Verdict", "Violation", "cause_first", "determinism", "diverged", "error_kind", "judge", "replay", "report_cap",
    "stuck_body", "user_invariants", "world_raised",
]
