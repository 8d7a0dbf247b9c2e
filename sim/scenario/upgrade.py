"""An upgrade a world goes through (``Scenario(upgrade=sim.Upgrade(...))``): a second version of the
workflow module(s) deployed while executions are in flight.

From the deploy's point on, every process incarnation that starts runs the new version's functions
(found by name in module ``to``, each from a fresh copy as the old version's are): restarts after a
crash, and the restarts the deploy makes itself. ``fleet`` says how the fleet moves:

- ``"rolling"`` (the default): the deploy stops each worker in turn, ``gap`` seconds apart, and each
  restarts at once on the new version; until the last is stopped the fleet is mixed;
- ``"restarts"``: the deploy stops nobody; only incarnations that start after it (a restart after a
  crash) run the new version, so old workers serve on until they crash;
- an ``int`` n: the last n workers stay on the old version for the rest of the world (their restarts
  too), the others roll;
- ``"mixed"``: how many stay on the old version (0 to all but one) is drawn per world.

The deploy starts at ``at`` (virtual seconds, or a ``(first, last)`` window a world draws from, like an
actor's) and, with ``after``, not before promise ``after`` (e.g. ``"root.2"``) has settled. A world whose
root settled before the deploy ran the old version only.
"""

from __future__ import annotations

import importlib
import math
import sys
from types import ModuleType
from typing import Any

import attrs

from pytest_durable.core.errors import UsageError
from pytest_durable.sdk import DurableFunction

FLEETS = ("rolling", "restarts", "mixed")


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value >= 0


@attrs.frozen
class Upgrade:
    """A deploy of version 2 (module ``to``) over a world running version 1 (the scenario's functions):
    when (``at``, ``after``), how the fleet moves (``fleet``), and how far apart a rolling deploy stops
    two workers (``gap``)."""

    to: str
    at: float | tuple[float, float] = 0.0
    after: str | None = None
    fleet: str | int = "rolling"
    gap: float = 1.0

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.to, str) or not self.to or self.to != self.to.strip():
            raise UsageError(f"Upgrade(to=...): name the module of the new version (e.g. "
                             f"'examples.deploy.orders_v2_patched'), got {self.to!r}")
        at = self.at
        if isinstance(at, list):
            object.__setattr__(self, "at", at := tuple(at))
        if isinstance(at, tuple):
            if len(at) != 2 or not all(map(_number, at)) or at[0] > at[1]:
                raise UsageError(f"Upgrade(at=...): a window is (first, last) seconds with 0 <= first <= last, "
                                 f"got {at!r}")
        elif not _number(at):
            raise UsageError(f"Upgrade(at=...): seconds >= 0 or a (first, last) window, got {at!r}")
        if self.after is not None and (not isinstance(self.after, str) or not self.after):
            raise UsageError(f"Upgrade(after=...): a promise id (e.g. 'root.2') or None, got {self.after!r}")
        fleet = self.fleet
        if isinstance(fleet, bool) or not (fleet in FLEETS or (isinstance(fleet, int) and fleet >= 0)):
            raise UsageError(f"Upgrade(fleet=...): one of {', '.join(map(repr, FLEETS))} or how many workers stay on "
                             f"the old version (an int >= 0), got {fleet!r}")
        if not _number(self.gap):
            raise UsageError(f"Upgrade(gap=...): seconds >= 0 between two workers' restarts, got {self.gap!r}")

    @property
    def window(self) -> tuple[float, float]:
        """The first and last instant the deploy may start at (the same for a given time)."""
        return self.at if isinstance(self.at, tuple) else (self.at, self.at)

    def module(self) -> ModuleType:
        """The new version's module, imported (one ``UsageError`` naming it when it cannot be)."""
        found = sys.modules.get(self.to)
        if found is not None:
            return found
        try:
            return importlib.import_module(self.to)
        except ImportError as exc:
            raise UsageError(f"Upgrade(to={self.to!r}): cannot import it: {exc}; name an importable module "
                             "(run from the folder it is found from)") from None
        except Exception as exc:
            raise UsageError(f"Upgrade(to={self.to!r}): importing it raised {type(exc).__name__}: {exc}") from None

    def functions(self) -> dict[str, DurableFunction[..., Any]]:
        """The durable functions module ``to`` defines at module level, by registered name."""
        module = self.module()
        defined: dict[str, DurableFunction[..., Any]] = {}
        for value in vars(module).values():
            if isinstance(value, DurableFunction) and value.__module__ == module.__name__:
                defined.setdefault(value.name, value)
        return defined

    def key(self) -> str:
        """What makes two upgrades alike (a sweep of the same scenario is the same sweep)."""
        return repr((self.to, self.at, self.after, self.fleet, self.gap))


__all__ = ["FLEETS", "Upgrade"]
