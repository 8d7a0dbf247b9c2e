"""The command line of the simulator, ``python -m sim``: ``run`` sweeps a scenario's worlds over many
seeds or shows one, ``replay`` re-runs a saved world and says whether it matches, ``bench`` runs the
benchmarks. Every bad argument is one clear line and exit 2, before any world runs.

Modules: ``entry`` (``main()``), ``parser``, ``usage`` (the argument checks), ``run`` (with the sweep),
``sweep_progress`` (the sweep's progress line), ``replay``, ``bench``.
"""

from .entry import main

__all__ = ["main"]
