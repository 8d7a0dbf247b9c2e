"""The knobs of a simulated world that are not faults: latencies, timeouts, leases, budgets."""

from __future__ import annotations

import attrs


@attrs.frozen
class SimConfig:
    """Virtual-time settings of one world (all in seconds)."""

    min_latency: float = 0.001
    latency_step: float = 0.002  # a message takes min_latency + k * latency_step, k drawn in [0, latency_steps)
    latency_steps: int = 8
    delay: float = 2.0  # extra latency of a "delay" fault, times a draw in [1, 4]
    request_timeout: float = 1.0  # a caller gives up on one attempt after this long
    max_attempts: int = 10  # then StoreUnavailable
    backoff: float = 0.05  # doubled per retry, capped at backoff_cap
    backoff_cap: float = 2.0
    ttl: float = 10.0  # task lease
    poll_interval: float = 30.0  # the longest a long poll (a worker's dispatch, the client's wait) waits
    sweep_interval: float = 1.0  # unused since 0.3 (sweeps follow the store's next due instant); for 0.2 configs
    restart_delay: float = 2.0  # a crashed process is down for restart_delay * [1, 4]
    partition_length: float = 3.0  # a partition lasts partition_length * [1, 4]
    server_down: float = 2.0  # a server restart takes server_down * [1, 4]
    fault_tick: float = 1.0  # partitions and server restarts get a chance this often
    budget: float = 600.0  # liveness: the root must settle this long after faults stop, plus:
    budget_per_promise: float = 0.1  # this much more per promise in the store (a big fan-out needs longer)
    #: The most promises one world may make, and the deepest chain of calls (a child of a child of ...)
    #: it may make: a world past either stops, failing with a ``promise-cap`` violation (a workflow that
    #: calls itself without end would otherwise grow until memory runs out, its liveness budget growing
    #: with it; the depth catches it early, the count catches one that fans out without end).
    max_promises: int = 100_000
    max_depth: int = 2_000
    root_timeout: float = 86_400.0
    #: Wall-clock seconds one step of a trio task may run without yielding before the watchdog stops
    #: the world (a body that never awaits); 0 turns the watchdog off. Not virtual time: it is outside the world.
    step_limit: float = 10.0
    #: Wall-clock seconds past which one step of a body (a CPU loop) is said once as a
    #: ``BlockingCallWarning`` naming its function; only a warning, never a verdict. 0 turns it off.
    slow_step: float = 1.0
    #: The replay oracle replays every workflow of every world, also those where it provably cannot
    #: disagree (``sim.checks.replay_scope``): slower, for checking that claim.
    replay_all: bool = False
