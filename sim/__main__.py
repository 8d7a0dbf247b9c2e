"""Entry point of ``python -m sim``."""

import sys

from .cli.main import main

sys.exit(main())
