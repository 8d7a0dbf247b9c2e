"""Running worlds: ``run_world`` takes one world from seed to verdict (build, run, judge); ``hashseed``
runs the same worlds again in another interpreter, to vary what one interpreter cannot (the hash order
of strings)."""

from .one_world import run_world

__all__ = ["run_world"]
