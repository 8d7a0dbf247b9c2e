"""``python -m sim replay FILE``: re-run a world saved as JSON with its recorded choices and say whether
it matches — the same trace and the same violations — or where the re-run first parts from it."""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from ..faults import FaultConfig
from ..kernel.decisions import RecordedDecisions
from ..reports import render, saved, saved_file
from ..runner import run_world
from ..scenario import SimConfig
from ..trace import decodings, event_text, first_difference
from .run import write_html


def cmd_replay(args: argparse.Namespace) -> int:
    """Replay ``args.trace``: 0 if the trace and the violations match the recorded ones, else 1."""
    saved_world = saved_file.load(args.trace)
    data, recorded = dict(saved_world.data), saved_world.trace
    found = saved.scenario_of(data, args.trace, args.target)
    decisions = RecordedDecisions([(k, int(v)) for k, v in data["decisions"]])
    faults = FaultConfig.parse(data["faults"], quiesce_after=float(data.get("quiesce_after", 120.0)))
    config = SimConfig(budget=float(data.get("budget", SimConfig().budget)),
                       max_promises=int(data.get("max_promises", SimConfig().max_promises)),
                       max_depth=int(data.get("max_depth", SimConfig().max_depth)))
    result = run_world(
        found.scenario, seed=data["seed"], decisions=decisions, faults=faults, plan=data["plan"], config=config,
        target=found.target,
    )
    result = attrs.evolve(result, seed=data["seed"])  # the recorded world's seed, for its summary and page
    write_html(args.html, result)
    edited = _edited_decisions(data, result.decisions)
    same = result.trace_hash == recorded.hash() and not edited
    if edited and result.trace_hash == recorded.hash():
        print(f"differs: {edited}; the re-run traced the same ({result.trace_hash}), but it is not the saved world")
    elif same:
        print(f"match: trace {result.trace_hash}, {result.steps} events, {len(result.violations)} violations")
    else:
        first, was, now = first_difference(recorded, result.trace)
        print(
            f"differs: recorded {recorded.hash()} ({len(recorded)} events), re-run {result.trace_hash} "
            f"({result.steps} events); first difference at event {first}"
        )
        decoded = {**decodings(result.promises), **data.get("decoded", {})}
        print(f"  recorded: {event_text(was, decoded)}")
        print(f"  re-run:   {event_text(now, decoded)}")
        if decisions.diverged:
            print(f"  the re-run asked for other choices than the recorded ones from {decisions.diverged}")
        if edited:
            print(f"  {edited}")
    agree, verdicts = saved.compare_violations(data.get("violations", []), result.violations)
    print("\n".join(verdicts))
    if found.unchecked:
        print(f"  (the test's {found.unchecked} invariant(s) from pytest_durable_invariants are not in the file: "
              "replay does not check them)")
    return 0 if same and agree else 1


def _edited_decisions(data: Mapping[str, Any], drawn: Sequence[tuple[str, int]]) -> str:
    """Why the file's decisions are not the saved world's, or "": they do not hash to the
    ``decisions_hash`` saved beside them (files of this release), or the re-run drew other ones (fewer,
    more, or others) than the file lists."""
    listed = [(str(kind), int(value)) for kind, value in data["decisions"]]
    recorded = data.get("decisions_hash")
    if recorded is not None and render.decisions_hash(listed) != recorded:
        return (f"the file's decisions were edited (they hash to {render.decisions_hash(listed)}, the file records "
                f"decisions_hash {recorded})")
    if list(drawn) != listed:
        first = next((i for i, (a, b) in enumerate(zip(listed, drawn, strict=False)) if a != b),
                     min(len(listed), len(drawn)))
        return (f"the file lists {len(listed)} decisions, the re-run drew {len(drawn)}, parting at draw {first}: the "
                "file's decisions were edited")
    return ""
