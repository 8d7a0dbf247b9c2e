"""Aim before luck: the fault points of a world, a sweep that places one fault at each before it samples
(``AimedSweep``: the fault-free world, one world per single fault, then swarm worlds), and what it
covered (``Coverage``), printed with every verdict.

A workflow has a few dozen places where one fault matters. Sampling seeds finds a bug that one fault at
one point shows only when a seed happens to put a fault there; the sweep puts one there, so such a bug
is found in every run, and "passed" says which points it covered. Each world reproduces from one line:
an aimed world from its ``at(...)`` plan point (over the quiet schedule), a swarm world from its seed.
"""

from .points import Points, points_of
from .swarm import swarm_faults
from .sweep import AimedSweep, Coverage, Planned

__all__ = ["AimedSweep", "Coverage", "Planned", "Points", "points_of", "swarm_faults"]
