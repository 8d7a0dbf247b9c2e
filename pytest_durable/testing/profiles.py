"""Hypothesis settings profiles for searching worlds: ``--hypothesis-profile=durable-dev`` or
``durable-ci`` (registered by the plugin; loading one is up to you).

A world takes milliseconds, not microseconds, so both turn the per-example deadline off, skip
Hypothesis's explain phase (it re-runs the shrunk world once per choice: hundreds of worlds) and stop
at the first failure instead of generating on in search of another (every failing world fails the
same assertion, so Hypothesis could not tell two bugs apart anyway). The CI profile is derandomized
and keeps no example database, so a run is the same on every machine. Both start from Hypothesis's
``default`` profile, not the one in force: Hypothesis loads its own ``ci`` profile when it sees a CI
environment, and the dev profile must not turn derandomized there.
"""

from __future__ import annotations

from hypothesis import HealthCheck, Phase, settings

DEV = "durable-dev"
CI = "durable-ci"
PHASES = (Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink)


def register() -> None:
    """Register both profiles (idempotent)."""
    settings.register_profile(
        DEV, settings.get_profile("default"), deadline=None, max_examples=200, phases=PHASES,
        report_multiple_bugs=False, suppress_health_check=[HealthCheck.too_slow],
    )
    settings.register_profile(
        CI, settings.get_profile(DEV), max_examples=500, derandomize=True, database=None, print_blob=True,
    )
