"""``python -m sim``: run worlds over many seeds, show one world, replay a saved one, benchmark.

``main`` parses the command line (``parser``), checks it (``usage``) and runs the command (``run``,
``replay``, ``bench``): a bad argument is one line on stderr and exit 2, Ctrl-C exit 130.
"""

from __future__ import annotations

import sys

from pytest_durable.core.errors import UsageError

from ..kernel.interrupts import keep_interrupts
from . import usage
from .misuse_said import say_misuse_plainly
from .parser import parser
from .run import INTERRUPTED


def main(argv: list[str] | None = None) -> int:
    """Run ``python -m sim`` with ``argv`` (the process's arguments if None); its exit status."""
    args = parser().parse_args(argv)
    say_misuse_plainly(args.command)
    try:
        usage.check_arguments(args)
        with keep_interrupts():  # a Ctrl-C that lands in a finalizer between worlds is not lost
            return int(args.func(args))
    except UsageError as exc:
        print(f"python -m sim {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"python -m sim {args.command}: interrupted", file=sys.stderr)
        return INTERRUPTED
