"""Reports: how a finished world is told to a person or kept in a file — the text trace, the
execution tree and summary (``render``), what each promise's body did (``story``), the HTML timeline
(``timeline``, drawn from ``timeline_layout``), saved worlds (``saved`` writes and rebuilds them,
``saved_file`` reads one back, checked), reproduce commands (``command``) and the sweep summary's
tally of how the roots ended (``root_tally``). None of it changes a world.
"""

from . import render, saved, saved_file, story, timeline
from .command import interpreter, python_m
from .render import dumps, load_trace
from .root_tally import RootTally

__all__ = [
    "RootTally",
    "dumps",
    "interpreter",
    "load_trace",
    "python_m",
    "render",
    "saved",
    "saved_file",
    "story",
    "timeline",
]
