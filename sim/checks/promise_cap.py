"""The promise cap: a world that made more promises than ``SimConfig.max_promises``, or a chain of calls
deeper than ``SimConfig.max_depth``, stops there.

A workflow that calls itself without end (``return await ctx.rpc(itself, n + 1)``) never settles, and
its liveness budget grows with every promise it makes, so without a cap its world would grow until
memory ran out. Past the cap the world is stopped, like one the watchdog stopped, and fails with a
violation of its own that names the cap, the deepest promise and how to raise the cap for a world that
is big (or deep) on purpose.
"""

from __future__ import annotations

from pytest_durable.core.inspection import InspectableStore

from ..scenario import SimConfig
from .violations import Findings


def report_cap(store: InspectableStore, config: SimConfig, findings: Findings, *, too_deep: bool) -> None:
    """Report that the world made a chain of calls deeper than the cap (``too_deep``) or more promises
    than the cap, naming the promise furthest from its root (the end of an endless chain is deepest)."""
    deepest = max((p.id for p in store.promises()), key=lambda id: (id.count("."), id), default="")
    shown = deepest if len(deepest) <= 80 else f"{deepest[:40]}…{deepest[-30:]} ({deepest.count('.')} levels deep)"
    if too_deep:
        what, option = f"a chain of calls more than {config.max_depth:,} deep", "max_depth"
    else:
        what, option = f"more than {config.max_promises:,} promises", "max_promises"
    flag = "--" + option.replace("_", "-")
    findings.report(
        "promise-cap",
        f"the world made {what} and was stopped there (deepest: {shown}): a workflow that calls itself without "
        f"end? If the world is this big on purpose, raise the cap: python -m sim run {flag} N, or "
        f"SimConfig({option}=N) (in pytest, through the pytest_durable_configure_world hook)",
        deepest if len(deepest) <= 200 else "",
    )
