"""The world's randomness: ``random``, ``os.urandom``, ``uuid.uuid4`` and ``secrets`` seeded by the world.

A leaf may draw random values (a message id, a transaction id): it is at-least-once and its result is
recorded, so a replay reads the value instead of drawing it again. Inside a world those values must
still be the same for the same seed, or one seed would not name one world. So, for the length of a
world (``seeded``), the process-wide generators draw from one stream, ``random``'s own module-level
generator:

- the module functions of ``random`` (``random.random``, ``randint``, ``choice``, ``shuffle``, …), also
  where a module bound them before the world began (``from random import choice``): their generator's
  state is set at the start of the world and put back after it (of those bound early, only the two
  written in C, ``random`` and ``getrandbits``, read the stream without drawing its seed, see below);
- ``os.urandom``, ``os.getrandom`` (and through the first ``uuid.uuid4``), and ``random.SystemRandom``
  (and through it every function of ``secrets``): they read bytes of that stream;
- ``random.Random()`` made without a seed: it is seeded from that stream.

The stream is seeded by one draw of kind ``"entropy"`` from the world's decisions, taken the first time
a world asks for randomness through any of the above (a world that never does draws nothing, so its
decisions are what they were before this existed), and recorded, replayed, pinned and shrunk like every
other draw. Before that draw, ``random.random`` and
``random.getrandbits`` bound before the world began (``from random import random``) read the stream from
a fixed start, the same in every world. A workflow *body* that draws randomness is still
nondeterministic: a replay after a crash draws the next values of the stream, not the recorded ones,
and the replay oracle, which runs inside the same window, continues the stream too.

Only the world's own thread sees the seeded stream through the replaced functions; another thread (the
watchdog's) gets the real ones. Everything is put back when the world ends, however it ends (a Ctrl-C
included), so nothing leaks outside it; trio's scheduler has a generator of its own
(``sim.kernel.scheduler``) and is not disturbed.
"""

from __future__ import annotations

import os
import random
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from .decisions import Decisions

#: The kind of the one draw that seeds a world's stream.
KIND = "entropy"
#: The draw's range: a 64-bit seed.
_SPAN = 1 << 64

_real_urandom = os.urandom
_real_getrandom: Callable[..., bytes] | None = getattr(os, "getrandom", None)
_real_seed = random.Random.seed
_inst: random.Random = random._inst
#: ``random``'s module functions: bound methods of its generator ``_inst``.
_BOUND: dict[str, Callable[..., Any]] = {
    name: value for name, value in vars(random).items() if getattr(value, "__self__", None) is _inst
}
#: Where every world's stream starts, until its seed is drawn.
_START = random.Random(0x5EED).getstate()


class _World:
    """The world whose stream is live now: its decisions, its thread, and whether it has drawn its seed."""

    def __init__(self, decisions: Decisions) -> None:
        self.decisions = decisions
        self.thread = threading.get_ident()
        self.drawn = False

    def here(self) -> bool:
        """Whether the caller is the world's own thread, drawing its seed first if it has not yet."""
        if threading.get_ident() != self.thread:
            return False
        if not self.drawn:
            self.drawn = True
            _real_seed(_inst, self.decisions.choose(KIND, _SPAN))
        return True


_current: _World | None = None
#: How many times code asked for the world's randomness (``isolation`` reads it: a module copy whose
#: import drew randomness holds values of one world and is never reused in another).
uses = 0


def _world() -> _World | None:
    global uses
    world = _current
    if world is not None and world.here():
        uses += 1
        return world
    return None


def _dispatch(name: str, bound: Callable[..., Any]) -> Callable[..., Any]:
    def dispatched(*args: Any, **kwargs: Any) -> Any:
        _world()  # draws the world's seed first, if this is its first use
        return bound(*args, **kwargs)

    dispatched.__name__ = dispatched.__qualname__ = name
    dispatched.__doc__ = bound.__doc__
    dispatched.__wrapped__ = bound  # type: ignore[attr-defined]
    return dispatched


def urandom(size: int) -> bytes:
    """``os.urandom`` in a world: bytes of the world's stream (elsewhere, of the operating system)."""
    if _world() is None:
        return _real_urandom(size)
    if size < 0:
        raise ValueError("negative argument not allowed")
    return _inst.randbytes(size)


def getrandom(size: int, flags: int = 0) -> bytes:
    """``os.getrandom`` in a world: bytes of the world's stream (elsewhere, of the operating system)."""
    if _world() is None:
        assert _real_getrandom is not None  # installed only where the real one exists
        return _real_getrandom(size, flags)
    if size < 0:
        raise ValueError("negative argument not allowed")
    return _inst.randbytes(size)


def _seed(self: random.Random, a: Any = None, version: int = 2) -> None:
    """``random.Random.seed``: with no seed, in a world, a seed taken from the world's stream."""
    if a is None and _world() is not None:
        a = _inst.getrandbits(128)
    _real_seed(self, a, version)


def _module_seed(a: Any = None, version: int = 2) -> None:
    """``random.seed``: with no seed, in a world, a seed taken from the world's stream."""
    _seed(_inst, a, version)


_DISPATCHED = {name: _dispatch(name, bound) for name, bound in _BOUND.items()}
_DISPATCHED["seed"] = _module_seed
#: ``random``'s functions written in Python (``choice``, ``randint``, ``shuffle``, ``uniform``, …) draw
#: through ``self.random`` and ``self.getrandbits``: shadowed on the generator itself for a world, they
#: draw the world's seed first, also when a library bound those functions before the world began.
_THROUGH = {name: _dispatch(name, getattr(_inst, name)) for name in ("random", "getrandbits")}
_ABSENT = object()


def _replacements() -> list[tuple[Any, str, Any]]:
    """(owner, attribute, stand-in) for every function a world replaces."""
    out: list[tuple[Any, str, Any]] = [(os, "urandom", urandom), (random, "_urandom", urandom),
                                       (random.Random, "seed", _seed)]
    if _real_getrandom is not None:
        out.append((os, "getrandom", getrandom))
    out += [(random, name, fn) for name, fn in _DISPATCHED.items()]
    out += [(_inst, name, fn) for name, fn in _THROUGH.items()]
    return out


_REPLACEMENTS = _replacements()


@contextmanager
def seeded(decisions: Decisions) -> Iterator[None]:
    """Within the block, the process's randomness is the world's stream, seeded by ``decisions``; after it,
    every function replaced and the generator's state are what they were before it."""
    global _current
    outer, state = _current, _inst.getstate()
    saved = [(owner, name, vars(owner).get(name, _ABSENT)) for owner, name, _ in _REPLACEMENTS] if outer is None else []
    _current = _World(decisions)
    _inst.setstate(_START)
    for owner, name, stand_in in _REPLACEMENTS:
        setattr(owner, name, stand_in)
    try:
        yield
    finally:
        _current = outer
        for owner, name, value in saved:
            if value is _ABSENT:
                delattr(owner, name)
            else:
                setattr(owner, name, value)
        _inst.setstate(state)
