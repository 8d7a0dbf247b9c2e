"""``python -m sim``: run worlds over many seeds, show one world, replay a saved one, benchmark.

``main`` parses the command line (``parser``), checks it (``usage``) and runs the command (``run``,
``replay``, ``bench``): a bad argument is one line on stderr and exit 2, Ctrl-C exit 130, a closed
pipe (``| head``) a quiet exit 141.
"""

from __future__ import annotations

import contextlib
import os
import sys

from pytest_durable.core.errors import UsageError

from ..kernel.interrupts import keep_interrupts
from . import usage
from .misuse_said import say_misuse_plainly
from .parser import parser
from .run import INTERRUPTED

#: The exit status when the reader of stdout went away (``python -m sim run ... | head``): 128 + SIGPIPE,
#: what a shell reports for a tool the signal stopped, so a script under ``set -o pipefail`` sees a
#: cut pipe, not a failing sweep (1) nor a clean one (0).
PIPE_CLOSED = 141


def main(argv: list[str] | None = None) -> int:
    """Run ``python -m sim`` with ``argv`` (the process's arguments if None); its exit status."""
    args = parser().parse_args(argv)
    say_misuse_plainly(args.command)
    try:
        usage.check_arguments(args)
        with keep_interrupts():  # a Ctrl-C that lands in a finalizer between worlds is not lost
            status = int(args.func(args))
            sys.stdout.flush()  # inside the try: a reader that left shows here, not at exit
            return status
    except UsageError as exc:
        print(f"python -m sim {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"python -m sim {args.command}: interrupted", file=sys.stderr)
        return INTERRUPTED
    except BrokenPipeError:  # the reader left (``| head``): stop quietly, as a tool killed by SIGPIPE
        _quiet_stdout()
        return PIPE_CLOSED


def _quiet_stdout() -> None:
    """Point stdout and stderr at the null device, so Python's last flush at exit finds no closed pipe
    (it would print "Exception ignored ... BrokenPipeError")."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a stream without a descriptor (a test's capture)
            os.dup2(devnull, stream.fileno())
