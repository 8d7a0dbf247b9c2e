"""Swarm worlds: each seed draws its own mix of the fault kinds asked for, with its own rates and bounds.

One fixed mix (every kind at its default rate) explores worlds alike: a bug that needs many faults of
one kind and none of another is rare in it. Drawing the mix per world, as FoundationDB's and
TigerBeetle's simulators do, makes such worlds common. The mix depends on the seed alone, so a swarm
world reproduces from its seed and the ``--faults`` line the sweep prints for it.
"""

from __future__ import annotations

import random

from ..faults import FaultConfig


def swarm_faults(seed: int, faults: FaultConfig) -> FaultConfig:
    """The mix of world ``seed``: each kind of ``faults`` on with probability one half (at least one),
    at a rate between a fifth of and three times its own, with a bound from 1 to its own. Never more
    faults of a kind than ``faults`` allows: that bound is what the workflow is asked to survive (a leaf
    rejected more often than its retries allow may rightly fail), so a swarm world raises no alarm a
    world of the fixed mix could not."""
    kinds = faults.kinds
    if not kinds:
        return faults
    draw = random.Random(f"swarm {seed}")
    chosen = [kind for kind in kinds if draw.random() < 0.5] or [kinds[draw.randrange(len(kinds))]]
    rates = {kind: round(min(1.0, faults.rate(kind) * 0.2 * 15 ** draw.random()), 4) for kind in chosen}
    bounds = {kind: 1 + draw.randrange(max(1, faults.bound(kind))) for kind in chosen}
    return FaultConfig(rates=rates, bounds=bounds, quiesce_after=faults.quiesce_after)


__all__ = ["swarm_faults"]
