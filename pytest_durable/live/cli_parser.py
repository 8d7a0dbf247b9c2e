"""The CLI's argument parser: a command line it cannot read is one line naming the command, what is wrong,
and where the help is (argparse's own way is a usage block, then the error, on several lines)."""

from __future__ import annotations

import argparse
from typing import NoReturn

#: How the CLI is run; a subcommand's parser is named ``PROG SUBCOMMAND``.
PROG = "python -m pytest_durable"


class OneLineParser(argparse.ArgumentParser):
    """``argparse.ArgumentParser`` whose errors are one line on stderr, exit 2; its subcommands' parsers
    are of this class too (argparse makes them of their parent's class)."""

    def error(self, message: str) -> NoReturn:
        command = self.prog.removeprefix(PROG).strip()
        where = f"{command}: " if command else ""
        self.exit(2, f"error: {where}{message} (see {self.prog} --help)\n")


def group_name(text: str) -> str:
    """A ``--group`` value: a name, not empty, not one of the workers' own groups (``durable:...``)."""
    if not text.strip() or text != text.strip():
        raise argparse.ArgumentTypeError(f"{text!r} is not a group name; name one, e.g. --group billing")
    if text.startswith("durable:"):
        raise argparse.ArgumentTypeError(f"{text!r}: groups named durable:... are the workers' own; name another")
    return text


__all__ = ["PROG", "OneLineParser", "group_name"]
