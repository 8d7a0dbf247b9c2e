"""What a world leaves behind: its trace of events (with a stable hash), the ledger of effects its
bodies made on the outside world, and how two traces differ."""

from .diff import decodings, digest, event_text, first_difference
from .events import Event, Trace
from .ledger import (
    PROCESS,
    Entry,
    Ledger,
    at_most_once,
    current_process,
    exactly_once,
    ledger,
    recording_into,
    set_current,
    set_process,
)

__all__ = [
    "PROCESS", "Entry", "Event", "Ledger", "Trace", "at_most_once", "current_process", "decodings", "digest",
    "event_text", "exactly_once", "first_difference", "ledger", "recording_into", "set_current", "set_process",
]
