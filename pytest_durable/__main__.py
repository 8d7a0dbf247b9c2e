"""``python -m pytest_durable``: worker processes and client commands (``pytest_durable.live.cli``)."""

import sys

from .live.cli import main

sys.exit(main())
