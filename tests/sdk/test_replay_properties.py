"""Property tests of the replay rules (docs/architecture.md, "Execution and replay") against the
reference store.

Hypothesis picks a fan-out (how many items, how long each takes, which fail) and up to three crash
times. Whatever the crashes, the recovered run must equal the fault-free run, create the same
promises, and never run a body again once its promise was settled.
"""

from __future__ import annotations

import attrs
import trio
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_durable import Context, Never, Rejected, function
from tests.helpers.worlds import new_store, new_worker, run_world


@attrs.frozen
class Step:
    id: int
    seconds: int
    fails: bool


@function(retry=Never())
async def step(s: Step) -> int:
    await trio.sleep(s.seconds)
    if s.fails:
        raise RuntimeError(f"step {s.id} failed")
    return s.id * 10


@function
async def pipeline(ctx: Context, steps: list[Step], fan_out: bool) -> list[str]:
    """Either all steps spawned at once, or run one after another; failures are reported, not raised."""
    out: list[str] = []
    if fan_out:
        futures = [await ctx.run(step, s).spawn() for s in steps]
        for f in futures:
            try:
                out.append(f"ok {await f}")
            except Rejected as exc:
                out.append(f"err {exc.type_name}")
    else:
        for s in steps:
            try:
                out.append(f"ok {await ctx.run(step, s)}")
            except Rejected as exc:
                out.append(f"err {exc.type_name}")
    return out


FNS = [pipeline, step]


def run_with_crashes(steps: list[Step], fan_out: bool, crashes: list[float]) -> tuple[object, dict[str, object]]:
    store = new_store()
    facts: dict[str, object] = {"bodies": [], "rerun_after_settle": []}

    async def main() -> object:
        settled_before: set[str] = set()
        await new_worker(store, FNS).run("job", pipeline, steps, fan_out)  # creates the root only
        for i, at in enumerate(crashes):
            bodies: list[str] = []
            worker = new_worker(store, FNS, bodies, id=f"w{i}")
            with trio.move_on_after(at):
                async with worker.running():
                    await trio.sleep_forever()
            facts["rerun_after_settle"] += [b for b in bodies if b in settled_before]  # type: ignore[operator]
            facts["bodies"] += bodies  # type: ignore[operator]
            settled_before |= {r.id for r in store.promises() if r.settled}
        bodies = []
        worker = new_worker(store, FNS, bodies, id="final")
        async with worker.running():
            value = await worker.handle("job").result()
        facts["rerun_after_settle"] += [b for b in bodies if b in settled_before]  # type: ignore[operator]
        facts["bodies"] += bodies  # type: ignore[operator]
        facts["ids"] = [r.id for r in store.promises()]
        facts["states"] = {r.id: r.state for r in store.promises()}
        return value

    return run_world(main), facts


steps_strategy = st.lists(
    st.builds(Step, id=st.just(0), seconds=st.integers(0, 5), fails=st.booleans()), min_size=1, max_size=8
).map(lambda ss: [attrs.evolve(s, id=i) for i, s in enumerate(ss)])


@settings(max_examples=150, deadline=None)
@given(
    steps=steps_strategy,
    fan_out=st.booleans(),
    crashes=st.lists(st.floats(0.0, 12.0, allow_nan=False), max_size=3),
)
def test_crash_recovery_equals_the_fault_free_run(steps: list[Step], fan_out: bool, crashes: list[float]) -> None:
    expected, clean = run_with_crashes(steps, fan_out, [])
    value, facts = run_with_crashes(steps, fan_out, crashes)
    assert value == expected
    assert expected == ["err RuntimeError" if s.fails else f"ok {s.id * 10}" for s in steps]
    # Same promises as the fault-free run: ids derive from the parent, creates are idempotent.
    assert facts["ids"] == clean["ids"] == ["job"] + [f"job.{i}" for i in range(len(steps))]
    # A body never runs again once its promise was settled.
    assert facts["rerun_after_settle"] == []
    # Every leaf ran at least once and at most once per attempt at the workflow.
    bodies = facts["bodies"]
    assert isinstance(bodies, list)
    for i in range(len(steps)):
        assert 1 <= bodies.count(f"job.{i}") <= len(crashes) + 1
