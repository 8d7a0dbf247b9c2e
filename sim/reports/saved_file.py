"""Reading a saved world file back, checked (``--out``, ``--traces-dir``, ``--durable-traces-dir``).

``load`` turns a file into a ``SavedWorld`` or raises one ``UsageError`` naming the file and what is
wrong with it (missing, not JSON, cut short, another tool's JSON, a format version this release does
not read, a field removed or edited), so ``python -m sim replay`` never shows a traceback for a bad
file. What a saved world records, and how replay rebuilds its scenario, is ``sim.reports.saved``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from pytest_durable.core.errors import UsageError

from ..faults import FaultConfig, FaultPlan
from ..trace import Trace
from .saved import check_format

#: The fields every saved world has; a file with none of them is some other JSON.
REQUIRED = ("seed", "faults", "plan", "trace_hash", "decisions", "events")

#: Said after every complaint: the way to get a good file.
AGAIN = "save the world again with python -m sim run TARGET --seed N --out FILE"


@attrs.frozen
class SavedWorld:
    """A saved world, checked: its raw fields (``data``), the recorded trace, and what re-runs it."""

    path: str
    data: Mapping[str, Any]
    trace: Trace
    decisions: tuple[tuple[str, int], ...]
    faults: FaultConfig
    plan: FaultPlan


def load(path: str | Path) -> SavedWorld:
    """Read and check the world saved in ``path``; a ``UsageError`` says what is wrong with the file."""
    where = str(path)
    data = _read_json(Path(path))
    if not isinstance(data, dict):
        raise UsageError(f"{where} holds a JSON {_json_kind(data)}, not a world saved by python -m sim "
                         f"(an object with {', '.join(REQUIRED)}); {AGAIN}")
    missing = [key for key in REQUIRED if key not in data]
    if len(missing) == len(REQUIRED):
        raise UsageError(f"{where} is JSON but not a world saved by python -m sim (it has none of "
                         f"{', '.join(REQUIRED)}); pass a file written by --out, --traces-dir or --durable-traces-dir")
    check_format(data, where)
    if missing:
        raise UsageError(f"{where} lacks {', '.join(repr(k) for k in missing)}: it was edited or cut; {AGAIN}")
    _check_types(where, data)
    decisions = tuple((str(kind), int(value)) for kind, value in data["decisions"])
    trace = _trace(where, data["events"])
    if trace.hash() != data["trace_hash"]:
        raise UsageError(f"{where}: its events hash to {trace.hash()} but it records trace_hash "
                         f"{data['trace_hash']}: the file was edited or is corrupt; {AGAIN}")
    try:
        faults = FaultConfig.parse(data["faults"], quiesce_after=float(data.get("quiesce_after", 120.0)),
                                   where="faults")
        plan = FaultPlan.parse(data["plan"])
    except UsageError as exc:
        raise UsageError(f"{where}: {exc}") from None
    return SavedWorld(where, data, trace, decisions, faults, plan)


def _read_json(path: Path) -> Any:
    if not path.exists():
        raise UsageError(f"no file {path}; pass a JSON world written by --out, --traces-dir or --durable-traces-dir")
    if path.is_dir():
        raise UsageError(f"{path} is a folder; pass one of the JSON files in it")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"{path} is not a text file, so not a saved world; {AGAIN}") from None
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        cut = exc.pos >= len(text.rstrip()) - 1 or "Unterminated" in exc.msg
        why = "it ends too early: the file was cut short" if cut and text.strip() else "not JSON"
        raise UsageError(f"{path}: {why} ({exc.msg}: line {exc.lineno}, column {exc.colno}); {AGAIN}") from None


def _json_kind(value: object) -> str:
    return {list: "list", str: "string", bool: "boolean", int: "number", float: "number"}.get(type(value), "null")


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value >= 0


def _check_types(where: str, data: Mapping[str, Any]) -> None:
    """Each field the replay reads has the type the simulator writes."""

    def bad(key: str, want: str) -> UsageError:
        return UsageError(f"{where}: {key!r} must be {want}, got {data[key]!r:.60}: the file was edited; {AGAIN}")

    seed = data["seed"]
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise bad("seed", "a whole number or null")
    for key in ("faults", "plan", "trace_hash"):
        if not isinstance(data[key], str):
            raise bad(key, "a string")
    if data.get("target") is not None and not isinstance(data["target"], str):
        raise bad("target", "a string FILE.py:NAME or null")
    for key in ("quiesce_after", "budget"):
        if key in data and not _is_number(data[key]):
            raise bad(key, "a number of seconds >= 0")
    for key in ("max_promises", "max_depth"):
        cap = data.get(key, 1)
        if isinstance(cap, bool) or not isinstance(cap, int) or cap < 1:
            raise bad(key, "a whole number >= 1")
    decisions = data["decisions"]
    if not isinstance(decisions, list) or not all(
        isinstance(d, list) and len(d) == 2 and isinstance(d[0], str) and isinstance(d[1], int)
        and not isinstance(d[1], bool) for d in decisions
    ):
        raise bad("decisions", "a list of [kind, number] pairs")
    if not isinstance(data["events"], list):
        raise bad("events", "a list of events")


def _trace(where: str, rows: list[Any]) -> Trace:
    trace = Trace()
    for index, row in enumerate(rows):
        try:
            _, time, process, incarnation, kind, id, detail, *rest = row
            fields = rest[0] if rest else {}
            trace.add(float(time), str(process), int(incarnation), str(kind), str(id), str(detail),
                      **{str(k): str(v) for k, v in fields.items()})
        except (TypeError, ValueError, AttributeError):
            raise UsageError(f"{where}: event {index} cannot be read ({json.dumps(row)[:80]}): the file was edited; "
                             f"{AGAIN}") from None
    return trace
