"""A scenario as data, so another process can build it again: by its target (``file.py:NAME``), or its
workflow and functions by module and name with the root's call encoded. The hash-seed check sends
one to a subprocess; a saved world records one."""

from __future__ import annotations

import importlib
import sys
from typing import Any

import attrs

from pytest_durable.core.codec import decode_call, encode_call
from pytest_durable.core.errors import UsageError
from pytest_durable.sdk import DurableFunction

from .actors import Actor
from .scenario import Scenario
from .target import load_scenario
from .upgrade import Upgrade


def _ref(fn: DurableFunction[..., Any]) -> str:
    module = sys.modules.get(fn.__module__)
    found: Any = module
    for part in fn.__qualname__.split("."):
        found = getattr(found, part, None)
    if found is not fn:
        raise UsageError(f"hash-seed check: durable function {fn.__qualname__} ({fn.name}) is not importable as "
                         f"{fn.__module__}.{fn.__qualname__}; define it at module level so another process can "
                         "import it")
    return f"{fn.__module__}:{fn.__qualname__}"


def _factory_ref(name: str, factory: object) -> str:
    """A dependency factory by module and qualified name (a class, a module-level function)."""
    module_name = getattr(factory, "__module__", None) or ""
    qualname = getattr(factory, "__qualname__", "") or ""
    found: Any = sys.modules.get(module_name)
    for part in qualname.split(".") if found is not None and qualname else ():
        found = getattr(found, part, None)
    if not qualname or found is not factory:
        raise UsageError(f"hash-seed check: dependency {name!r} comes from {factory!r}, which is not importable by "
                         "module and name; make its factory a class or a function defined at module level so "
                         "another process can import it")
    return f"{module_name}:{qualname}"


def scenario_spec(scenario: Scenario, target: str = "", *, dependencies: bool = False) -> dict[str, Any]:
    """What another process needs to build ``scenario`` again: its target, or its functions by name; with
    ``dependencies``, its dependency factories by name too (the hash-seed check's subprocess must give
    the bodies what they read, or it runs another world)."""
    isolate = scenario.isolate if isinstance(scenario.isolate, bool) else list(scenario.isolate)
    if target:
        return {"target": target, "isolate": isolate}
    fn = scenario.workflow
    spec: dict[str, Any] = {
        "workflow": _ref(fn), "functions": [_ref(f) for f in scenario.functions], "isolate": isolate,
        "call": encode_call(fn.name, scenario.args, scenario.kwargs, names=fn.param_names),
        "workers": dict(scenario.workers), "group": scenario.group, "root_id": scenario.root_id,
    }
    if scenario.actors:
        spec["actors"] = [_actor_spec(a) for a in scenario.actors]
    if scenario.upgrade is not None:
        spec["upgrade"] = _upgrade_spec(scenario.upgrade)
    if dependencies and scenario.dependencies:
        spec["dependencies"] = {name: _factory_ref(name, f) for name, f in sorted(scenario.dependencies.items())}
    return spec


def _actor_spec(actor: Actor) -> dict[str, Any]:
    """An actor as data: its fields, its function (a start's) by module and name."""
    fields = attrs.asdict(actor, recurse=False)
    fields["fn"] = None if actor.fn is None else _ref(actor.fn)
    fields["at"] = list(actor.at) if isinstance(actor.at, tuple) else actor.at
    return fields


def _upgrade_spec(upgrade: Upgrade) -> dict[str, Any]:
    """An upgrade as data (its window as a list)."""
    fields = attrs.asdict(upgrade, recurse=False)
    fields["at"] = list(upgrade.at) if isinstance(upgrade.at, tuple) else upgrade.at
    return fields


def _load_actor(fields: dict[str, Any]) -> Actor:
    at = fields["at"]
    return Actor(**{**fields, "at": tuple(at) if isinstance(at, list) else at,
                    "fn": None if fields["fn"] is None else _load_ref(fields["fn"])})


def _load_object(ref: str) -> Any:
    module_name, _, qualname = ref.partition(":")
    found: Any = importlib.import_module(module_name)
    for part in qualname.split("."):
        found = getattr(found, part)
    return found


def _load_ref(ref: str) -> DurableFunction[..., Any]:
    module_name, _, qualname = ref.partition(":")
    found: Any = importlib.import_module(module_name)
    for part in qualname.split("."):
        found = getattr(found, part)
    assert isinstance(found, DurableFunction), ref
    return found


def build(spec: dict[str, Any]) -> Scenario:
    """The scenario ``scenario_spec`` described."""
    isolate = spec["isolate"] if isinstance(spec["isolate"], bool) else tuple(spec["isolate"])
    if "target" in spec:
        return attrs.evolve(load_scenario(spec["target"]), isolate=isolate)
    call = decode_call(spec["call"])
    return Scenario(_load_ref(spec["workflow"]), tuple(call.args), dict(call.kwargs),
                    functions=tuple(_load_ref(r) for r in spec["functions"]), workers=spec["workers"],
                    group=spec["group"], root_id=spec["root_id"], isolate=isolate,
                    dependencies={name: _load_object(ref) for name, ref in spec.get("dependencies", {}).items()},
                    actors=tuple(_load_actor(a) for a in spec.get("actors", ())),
                    upgrade=Upgrade(**spec["upgrade"]) if "upgrade" in spec else None)
