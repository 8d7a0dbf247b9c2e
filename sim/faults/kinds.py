"""The kinds of fault a world may inject, their default rates and bounds, and where a crash may strike."""

from __future__ import annotations

from collections.abc import Mapping

FAULT_KINDS = ("crash", "drop", "duplicate", "delay", "partition", "server_restart", "reject", "store_error")

#: Rates used when a kind is named without one: faults are frequent enough to matter in a few
#: hundred seeds but rare enough that most requests go through.
DEFAULT_RATES: Mapping[str, float] = {
    "crash": 0.03,
    "drop": 0.03,
    "duplicate": 0.03,
    "delay": 0.05,
    "partition": 0.05,
    "server_restart": 0.03,
    "reject": 0.15,
    "store_error": 0.03,
}
DEFAULT_BOUND = 3

#: Where in a request a process may crash: before it is sent, after the server applied it but
#: before the answer arrives, or after the answer arrived (before the caller acts on it).
CRASH_WHEN = ("before", "during", "after")
#: The requests a crash point may name.
CRASH_OPS = ("create", "settle", "fulfill", "suspend", "acquire", "get", "branch", "dispatch", "heartbeat", "release")

#: The ``when`` of a crash point in the middle of a body: at its first await of its own (not inside a
#: request), with the effects before that await made and the code after it never run.
AT_AWAIT = "await"
