"""The plugin's settings: each one's flag, ini key, environment variable and default, how a setting
resolves (marker > command line > environment > ini > default), and the checks that turn a bad value into
one ``UsageError`` naming where it came from."""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from typing import Any

import attrs
import pytest

from sim.world import STORE_KINDS, check_store_kind

from ...core.errors import UsageError
from .. import profiles

TRACE_MODES = ("short", "tree", "full", "none")


@attrs.frozen
class Option:
    """One setting: its command-line flag, ini key and environment variable, and its default."""

    name: str
    help: str
    default: Any
    flag: bool = False

    @property
    def cli(self) -> str:
        return "--durable-" + self.name.replace("_", "-")

    @property
    def ini(self) -> str:
        return "durable_" + self.name

    @property
    def env(self) -> str:
        return "PYTEST_DURABLE_" + self.name.upper()


OPTIONS = {
    o.name: o
    for o in (
        Option("seed", "the run's seed: a number, 'last' (the previous run's) or 'random' (default)", "random"),
        Option("seeds", "swarm worlds per durable test, after its aimed worlds (default 20); with --durable-aim=off, "
               "the seeded worlds it runs", "20"),
        Option("aim", "on: each durable test runs the fault-free world, then one world per single-fault point of its "
               "workflow, then its seeds as swarm worlds; off: just its seeds, each with the fixed fault kinds "
               "(default on)", "on"),
        Option("aim_cap", "at most this many single-fault worlds per durable_sim.run call of a test (default 2000)",
               "2000"),
        Option("seeds_scale", "multiply every durable test's seeds, its swarm worlds (the marker's seeds too), by this "
               "factor, for a nightly deep run: --durable-seeds-scale=10 (default 1)", "1"),
        Option("faults", "fault kinds for every world, e.g. crash,drop,reject (default crash,drop,reject)",
               "crash,drop,reject"),
        Option("trace", "what a failing world's report shows: short|tree|full|none (default tree)", "tree"),
        Option("traces_dir", "write each failing world as JSON into this folder", ""),
        Option("html", "write each failing world's timeline as a self-contained HTML page into this folder", ""),
        Option("check_determinism", "run every world twice and fail if the traces differ", "false", flag=True),
        Option("check_hash_seed", "re-run each durable test's passing worlds in one subprocess under another "
               "PYTHONHASHSEED and fail if a trace differs (str hash order)", "false", flag=True),
        Option("hash_seed", "re-run each durable test's fault-free world under another PYTHONHASHSEED, in one "
               "subprocess per session (or xdist worker), and fail the test if it traces differently (children "
               "decided by iterating a set of str): fault-free (default) or off; --durable-check-hash-seed re-runs "
               "every passing world instead", "fault-free"),
        Option("workers", "worker processes per world (default 2)", "2"),
        Option("quiesce_after", "no new faults after this many virtual seconds (default 120)", "120"),
        Option("budget", "liveness: virtual seconds the root may take to settle after faults stop, plus 0.1 s per "
               "promise the world makes (default 600)", "600"),
        Option("progress", "a durable test still running after this many seconds shows its worlds done and failing "
               "on its terminal line (a terminal only); 0 from the first world, 'off' never (default 1)", "1"),
        Option("store", "the store every world runs over: memory|sqlite|postgres (sqlite: a fresh SQLite file per "
               "world, so checks 1 and 6 judge the real SQL store; postgres: a fresh schema per world in the "
               "database $DURABLE_PG_DSN names) (default memory)", "memory"),
    )
}


def pytest_addoption(parser: pytest.Parser) -> None:
    profiles.register()  # before Hypothesis's plugin loads --hypothesis-profile
    group = parser.getgroup("durable", "durable workflows in simulated worlds (pytest-durable)")
    for option in OPTIONS.values():
        help = f"{option.help}; ini {option.ini}, env {option.env}"
        if option.flag:
            group.addoption(option.cli, action="store_const", const="true", default=None, dest=option.ini, help=help)
        else:
            group.addoption(option.cli, default=None, dest=option.ini, help=help)
        parser.addini(option.ini, help=option.help, default=None)


def setting(config: pytest.Config, name: str, marker: pytest.Mark | None = None) -> str:
    """A setting resolved marker > command line > environment > ini > default."""
    if marker is not None and name in marker.kwargs:
        return str(marker.kwargs[name])
    option = OPTIONS[name]
    from_cli = config.getoption(option.ini)
    if from_cli is not None:
        return str(from_cli)
    from_env = os.environ.get(option.env)
    if from_env:
        return from_env
    from_ini = config.getini(option.ini)
    if from_ini:
        return str(from_ini)
    return str(option.default)


#: The most worlds a durable test may ask for (``seeds``): more would not end in a working day.
MAX_SEEDS = 10**7
#: The largest run seed: seeds are 63-bit numbers (saved worlds and other interpreters take them as such).
MAX_SEED = 2**63 - 1


def number(config: pytest.Config, name: str, cast: Callable[[str], Any], marker: pytest.Mark | None = None,
           minimum: float = 0) -> Any:
    """A numeric setting, or a ``UsageError`` naming the marker or option it came from."""
    raw = setting(config, name, marker)
    try:
        value = cast(raw)
    except ValueError:
        value = None
    where = "@pytest.mark.durable" if marker is not None and name in marker.kwargs else OPTIONS[name].cli
    if value is None or value < minimum or not math.isfinite(value):
        finite = "finite " if value is not None and not math.isfinite(value) else ""
        raise pytest.UsageError(f"{where}: {name} must be a {finite}number >= {minimum:g}, got {_short(raw)}")
    if name == "seeds" and value > MAX_SEEDS:
        raise pytest.UsageError(f"{where}: seeds must be at most {MAX_SEEDS:,} worlds per test, got {_short(raw)}; "
                                "split a deep run over several runs with --durable-seed")
    return value


def _short(raw: str) -> str:
    """A setting as a line can show it: a huge number by its size."""
    return repr(raw) if len(raw) <= 20 else f"a {len(raw)}-character value"


def worlds_of(config: pytest.Config, marker: pytest.Mark | None) -> int:
    """How many worlds a durable test runs: its seeds (marker > option > env > ini > 20) times
    ``--durable-seeds-scale``, rounded up."""
    seeds: int = number(config, "seeds", int, marker, minimum=1)
    scale: float = number(config, "seeds_scale", float)
    return max(1, math.ceil(seeds * scale))


def overridden(config: pytest.Config, marker: pytest.Mark | None) -> str:
    """What the marker takes over from options the user gave (command line, environment or ini), in
    words: ``faults from the marker; --durable-faults ignored``; empty when nothing was."""
    if marker is None:
        return ""
    parts = []
    for name in sorted(set(marker.kwargs) & set(OPTIONS)):
        option = OPTIONS[name]
        if config.getoption(option.ini) is not None or os.environ.get(option.env) or config.getini(option.ini):
            parts.append(f"{name} from the marker; {option.cli} ignored")
    return "; ".join(parts)


def flag(config: pytest.Config, name: str) -> bool:
    """An on/off setting (``--durable-check-determinism``, ...)."""
    raw = setting(config, name).lower()
    if raw not in ("true", "false", "1", "0", "yes", "no"):
        raise pytest.UsageError(f"{OPTIONS[name].cli}: {name} must be true or false, got {raw!r}")
    return raw in ("true", "1", "yes")


def aim_on(config: pytest.Config) -> bool:
    """``--durable-aim``: whether durable tests run the aimed sweep (on) or seeded worlds only (off)."""
    raw = setting(config, "aim").lower()
    if raw not in ("on", "off", "true", "false", "1", "0", "yes", "no"):
        raise pytest.UsageError(f"{OPTIONS['aim'].cli}: aim must be on or off, got {raw!r}")
    return raw in ("on", "true", "1", "yes")


def aim_cap(config: pytest.Config) -> int:
    """``--durable-aim-cap``: single-fault worlds per call position of a test, at most."""
    cap: int = number(config, "aim_cap", int, minimum=0)
    return cap


HASH_SEED_MODES = ("fault-free", "off")


def hash_seed_mode(config: pytest.Config) -> str:
    """What the default hash-seed check re-runs: ``fault-free`` or ``off`` (``--durable-hash-seed``)."""
    raw = setting(config, "hash_seed").lower()
    if raw not in HASH_SEED_MODES:
        raise pytest.UsageError(f"{OPTIONS['hash_seed'].cli}: one of {'|'.join(HASH_SEED_MODES)}, got {raw!r}")
    return raw


def progress_after(config: pytest.Config) -> float | None:
    """--durable-progress: seconds into a test before its progress shows, or None for 'off'."""
    if setting(config, "progress").lower() in ("off", "no", "false", "never"):
        return None
    after: float = number(config, "progress", float)
    if math.isnan(after):
        raise pytest.UsageError(f"--durable-progress: progress must be a number >= 0 or 'off', got "
                                f"{setting(config, 'progress')!r}")
    return after


def store_kind(config: pytest.Config, marker: pytest.Mark | None = None) -> str:
    """The store a test's worlds run over, checked (a postgres store needs ``$DURABLE_PG_DSN``)."""
    raw = setting(config, "store", marker)
    where = "@pytest.mark.durable" if marker is not None and "store" in marker.kwargs else OPTIONS["store"].cli
    if raw not in STORE_KINDS:
        raise pytest.UsageError(f"{where}: store must be one of {'|'.join(STORE_KINDS)}, got {raw!r}")
    try:
        return check_store_kind(raw, where=where)
    except UsageError as exc:
        raise pytest.UsageError(str(exc)) from None
