"""Benchmarks, run as ``python -m sim bench …``: each prints figures and ratios against a baseline
measured in the same run (``scale``: cost per child as a fan-out grows; ``throughput``: worlds per
second against trio's own floor, and the cost per promise of the ``shapes`` teams run;
``crash_search``: crash search against a seed sweep on known bugs, with the ``heldout`` bugs of other
shapes; ``live_workers``: real worker processes against simulated worlds). Tests do not time things;
these do."""
