"""Hypothesis strategies for durable workflows: worlds whose every choice Hypothesis makes, so a
failing world shrinks to its fewest, earliest faults and a straight schedule.

    from hypothesis import given
    from pytest_durable.testing import worlds

    @given(world=worlds(faults="crash"))
    def test_checkout(world):
        result = world.run(scenario)          # or durable_sim.run(checkout, order, world=world)
        assert result.ok, world.report()

A failure is reported in our words too: the faults as one line (``crash(w1, before_create,
checkout.1)``), the execution tree, and a ``@durable_example(...)`` line that replays the world
without Hypothesis. The engine is ``sim.search``; this module is its public face.
"""

from __future__ import annotations

from sim.search import DrawnWorld, HypothesisDecisions, fault_plans, pinned_world, worlds

from .regression import durable_example

#: The old name of ``DrawnWorld``, kept for one release (it collided with the simulator's running world).
World = DrawnWorld

__all__ = ["DrawnWorld", "HypothesisDecisions", "World", "durable_example", "fault_plans", "pinned_world", "worlds"]
