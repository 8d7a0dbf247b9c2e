"""Property tests of ``ctx.select``'s replay rule against the reference store, in the style of
``test_replay_properties``: Hypothesis picks the candidates (local or rpc, how long each takes, which
fail) and up to three crash times. Whatever the crashes, every recorded winner had settled before its
select was written, the workflow's value lists exactly the recorded winners, no body runs again once its
promise settled, and the fault-free run takes the candidates in the order they settled."""

from __future__ import annotations

import attrs
import trio
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_durable import Context, DurableFuture, Never, Rejected, RemoteFuture, function
from pytest_durable.core.codec import decode, decode_call
from tests.helpers.worlds import new_store, new_worker, run_world


@attrs.frozen
class Candidate:
    id: int
    remote: bool
    seconds: int
    fails: bool


@function(retry=Never())
async def task(c: Candidate) -> int:
    await trio.sleep(c.seconds)
    if c.fails:
        raise RuntimeError(f"candidate {c.id} failed")
    return c.id


@function
async def take_all(ctx: Context, candidates: list[Candidate]) -> list[str]:
    """Start every candidate, then select over the rest until none is left; list each winner's id and
    outcome in the order they won."""
    rest: list[DurableFuture[int] | RemoteFuture[int]] = []
    for c in candidates:
        rest.append(await (ctx.rpc(task, c).spawn() if c.remote else ctx.run(task, c).spawn()))
    out: list[str] = []
    while rest:
        winner = await ctx.select(*rest)
        rest.remove(winner)
        try:
            out.append(f"{winner.id} ok {await winner}")
        except Rejected:
            out.append(f"{winner.id} err")
    return out


FNS = [take_all, task]


def run_with_crashes(candidates: list[Candidate], crashes: list[float]) -> tuple[object, dict[str, object]]:
    store = new_store()
    facts: dict[str, object] = {"rerun_after_settle": []}

    async def main() -> object:
        settled_before: set[str] = set()
        await new_worker(store, FNS).run("job", take_all, candidates)  # creates the root only
        for i, at in enumerate(crashes):
            bodies: list[str] = []
            worker = new_worker(store, FNS, bodies, id=f"w{i}")
            with trio.move_on_after(at):
                async with worker.running():
                    await trio.sleep_forever()
            facts["rerun_after_settle"] += [b for b in bodies if b in settled_before]  # type: ignore[operator]
            settled_before |= {r.id for r in store.promises() if r.settled}
        bodies = []
        worker = new_worker(store, FNS, bodies, id="final")
        async with worker.running():
            value = await worker.handle("job").result()
        facts["rerun_after_settle"] += [b for b in bodies if b in settled_before]  # type: ignore[operator]
        facts["records"] = {r.id: r for r in store.promises()}
        return value

    return run_world(main), facts


def recorded_winners(records: dict[str, object]) -> list[str]:
    """The winner each recorded select names, in the order the selects were made; each winner settled
    no later than its select was written."""
    out = []
    for r in records.values():
        call = decode_call(r.param)  # type: ignore[attr-defined]
        if call.func != "durable.select":
            continue
        assert r.settled, f"select {r.id} left unwritten"  # type: ignore[attr-defined]
        winner = call.args[0][decode(r.value)]  # type: ignore[attr-defined]
        assert records[winner].settled_on <= r.settled_on  # type: ignore[attr-defined]
        out.append(winner)
    return out


candidates_strategy = st.lists(
    st.builds(Candidate, id=st.just(0), remote=st.booleans(), seconds=st.integers(0, 6), fails=st.booleans()),
    min_size=1, max_size=6,
).map(lambda cs: [attrs.evolve(c, id=i) for i, c in enumerate(cs)])


@settings(max_examples=150, deadline=None)
@given(candidates=candidates_strategy, crashes=st.lists(st.floats(0.0, 10.0, allow_nan=False), max_size=3))
def test_a_replayed_select_returns_its_recorded_winner_whatever_the_crashes(
    candidates: list[Candidate], crashes: list[float]
) -> None:
    value, facts = run_with_crashes(candidates, crashes)
    records = facts["records"]
    assert isinstance(records, dict) and isinstance(value, list)
    winners = recorded_winners(records)
    assert [v.split()[0] for v in value] == winners  # the value is exactly what the record says won
    assert sorted(winners) == sorted(f"job.{c.id}" for c in candidates)  # each taken once
    for line, c in zip(sorted(value, key=lambda v: int(v.split()[0][4:])), candidates, strict=True):
        assert line == (f"job.{c.id} err" if c.fails else f"job.{c.id} ok {c.id}")
    assert facts["rerun_after_settle"] == []


@settings(max_examples=60, deadline=None)
@given(candidates=candidates_strategy)
def test_without_crashes_the_winners_come_in_the_order_they_settled(candidates: list[Candidate]) -> None:
    value, facts = run_with_crashes(candidates, [])
    records = facts["records"]
    assert isinstance(records, dict) and isinstance(value, list)
    settled_on = [records[v.split()[0]].settled_on for v in value]
    assert settled_on == sorted(settled_on)
