"""Crash search: worlds whose every choice — which faults fire where, and the schedule — comes from
Hypothesis, so Hypothesis generates worlds and shrinks a failing one to fewer, earlier faults and a
straighter schedule, then names it in a line (``@durable_example(...)``) that replays it without
Hypothesis. ``pytest_durable.strategies`` is the public face of this engine.

The faults are drawn first, aimed at named opportunities (``settle job.1``), so removing one leaves
the others in place; the schedule choices follow as the world asks, in the simulator's encoding
(0 = first in order / shortest delay). A world that needs more schedule choices than the budget
takes the rest from a seeded stream (its seed drawn from Hypothesis too) and says so with ``note()``.

Modules: ``world_strategies`` (``worlds()``, ``fault_plans()``), ``drawn_world`` (``DrawnWorld``,
``pinned_world()``), ``hypothesis_decisions`` (``HypothesisDecisions``), ``schedules`` and ``details``
(where faults fall and what they look like), ``opportunities`` (where a scenario can go wrong),
``failure`` (a world's faults as a plan, its failure as a pin must reproduce it), ``choices`` (the
choices text of a pin), ``known_worlds`` (worlds not to run again), ``seen_faults``, ``case`` and
``draws`` (the search's side of Hypothesis).
"""

from .choices import choices_text, parse_choices
from .drawn_world import DrawnWorld, pinned_world
from .failure import plan_of, same_failure
from .hypothesis_decisions import FLAKY_NOTE, HypothesisDecisions
from .known_worlds import KNOWN_WORLDS, KnownWorlds
from .opportunities import opportunity_keys
from .world_strategies import fault_plans, worlds

#: The old name of ``DrawnWorld`` (exported as ``pytest_durable.strategies.World``), kept for one
#: release: it collided with ``sim.world.world.World``, the running world.
World = DrawnWorld

__all__ = [
    "FLAKY_NOTE",
    "KNOWN_WORLDS",
    "DrawnWorld",
    "HypothesisDecisions",
    "KnownWorlds",
    "World",
    "choices_text",
    "fault_plans",
    "opportunity_keys",
    "parse_choices",
    "pinned_world",
    "plan_of",
    "same_failure",
    "worlds",
]
