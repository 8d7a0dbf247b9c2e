"""Faults that strike the world at large rather than one request: partitions that cut a process off
the server for a while, and server restarts (the server dies in the middle of its next request, then
stays down). Each gets one chance per fault tick until faults stop."""

from __future__ import annotations

from collections.abc import Sequence

import trio

from ..faults import Injector
from ..kernel import virtual_time
from ..kernel.decisions import Decisions
from ..scenario import SimConfig
from ..trace import Trace
from .network import Network
from .server import SimServer
from .sim_process import SimProcess

#: The fault kinds the tick serves: a world with neither on runs no tick at all.
CHAOS_KINDS = ("partition", "server_restart")


async def chaos(config: SimConfig, injector: Injector, decisions: Decisions, trace: Trace, network: Network,
                server: SimServer, processes: Sequence[SimProcess]) -> None:
    """Partitions and server restarts, one chance each per tick until faults stop."""
    tick = 0
    while not injector.quiet:
        await virtual_time.sleep(config.fault_tick)
        tick += 1
        if injector.fire("partition", f"tick {tick}"):
            victim = processes[decisions.choose("partition_who", len(processes))]
            length = config.partition_length * injector.amount("partition")
            network.partition(victim.name, trio.current_time() + length)
            trace.add(trio.current_time(), victim.name, victim.incarnation, "partition", "", f"{length:g} s")
        if server.up and server.dying is None and injector.fire("server_restart", f"tick {tick}"):
            down = config.server_down * injector.amount("server_restart")
            server.dying = down  # it dies in the middle of the next request it applies
            trace.add(trio.current_time(), "server", 0, "server_restart", "",
                      f"dies during its next request, then down {down:g} s")
