"""What a fault looks like once it fires (when a crash strikes, how long a restart takes, which side
a drop hits): choices that come with the fault, as hexadecimal digits of the number it carries, so
shrinking a fault shrinks its details with it rather than the schedule's."""

from __future__ import annotations

from collections.abc import Mapping

#: Choices that say what a fault looks like come with the fault, not from the schedule: each is a
#: hexadecimal digit (its position here) of the number a planned fault of that family carries. The
#: restart downtime of a crashed process comes with its crash; how late a duplicate lands, with it.
DETAILS: Mapping[str, tuple[str, int]] = {
    "crash_when": ("crash", 0), "restart_size": ("crash", 1),
    "drop_side": ("drop", 0),
    "delay_size": ("delay", 0),
    "duplicate_delay": ("duplicate", 0),
    "partition_who": ("partition", 0), "partition_size": ("partition", 1),
    "server_restart_size": ("server_restart", 0),
}
DETAIL_KINDS = frozenset(DETAILS)
#: A detail digit read through a table instead of modulo: half of all crashes strike *before* their
#: request (nothing reached the store, so the work is done again), a quarter each during or after it.
DETAIL_TABLES: Mapping[str, tuple[int, ...]] = {"crash_when": (0,) * 8 + (1,) * 4 + (2,) * 4}
#: Each planned fault carries a number whose hexadecimal digits are its detail choices.
DETAIL_RANGE = 256
