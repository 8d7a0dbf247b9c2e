"""Upgrade worlds over the order workflow (``orders_v1.py``): order-1 is in flight, waiting for its pick-up
slot, when a rolling deploy of a version 2 restarts the three workers one by one; order-2 comes in once
the deploy is done. Each scenario is the same world with another version 2:

    python -m sim run examples/deploy/upgrade_worlds.py:reordered --faults all     # fails: names v1 and v2
    python -m sim run examples/deploy/upgrade_worlds.py:patched --faults all       # passes
    python -m sim run examples/deploy/upgrade_worlds.py:leaf_only --faults all     # passes

``old_workers_stay`` keeps one worker on version 1 for good: an execution version 2 began on the
fraud-check path may then be replayed by that worker, which knows no such path, and the world fails.
"""

from __future__ import annotations

import sim
from examples.deploy import orders_v1

#: What every order of two lines returns, in version 1 and in each version 2.
EXPECTED = "2 reserved; order-1 charged 20; order-1 shipped"


def upgrade_world(to: str, *, fleet: str | int = "rolling") -> sim.Scenario:
    """order-1 runs on version 1; the deploy of ``to`` starts within its first two seconds (drawn), while
    order-1 waits for its pick-up slot, and restarts a worker a second; order-2 starts after it."""
    return sim.Scenario(
        orders_v1.fulfil, ("order-1", 2), functions=(orders_v1.reserve, orders_v1.charge, orders_v1.ship),
        workers={"default": 3}, root_id="order-1", expected=EXPECTED,
        actors=(sim.actors.start("order-2", orders_v1.fulfil, ("order-2", 2), at=(4.5, 6.0)),),
        upgrade=sim.Upgrade(to=f"examples.deploy.{to}", at=(0.0, 2.0), fleet=fleet, gap=1.0),
    )


def reordered() -> sim.Scenario:
    return upgrade_world("orders_v2_reordered")


def patched() -> sim.Scenario:
    return upgrade_world("orders_v2_patched")


def leaf_only() -> sim.Scenario:
    return upgrade_world("orders_v2_leaf_only")


def old_workers_stay() -> sim.Scenario:
    return upgrade_world("orders_v2_patched", fleet=1)
