"""``python -m sim points TARGET``: the fault points of a target's fault-free world, where the aimed sweep
puts one fault each, in the order the world meets them, each as the ``at(...)`` line that names it."""

from __future__ import annotations

import argparse

from ..aim import points_of
from ..faults import FaultConfig
from ..scenario import load_scenario


def cmd_points(args: argparse.Namespace) -> int:
    """Print the points of ``args.target`` for ``args.faults``, a count per kind first."""
    scenario = load_scenario(args.target)
    faults = FaultConfig.parse(args.faults, quiesce_after=args.quiesce_after)
    points = points_of(scenario, faults)
    kinds = ", ".join(f"{kind} {n}" for kind, n in points.by_kind().items()) or "none"
    print(f"{args.target}: {len(points.singles)} single-fault points in its fault-free world ({kinds}; "
          f"it ran {points.virtual_time:g} virtual seconds)")
    for point in points.singles:
        print(f"  {point}")
    for kind in points.unaimed:
        print(f"{kind}: strikes at fault ticks, not at a point; the swarm worlds of a sweep cover it")
    print(f"run one: python -m sim run {args.target} --aim 'POINT' --faults {faults}")
    return 0
