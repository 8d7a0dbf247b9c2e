"""A helper library that draws random ids: not a module of durable functions, so a world does not
isolate it; a leaf that calls it must still get the world's values. Used by leaf_randomness.py."""

from __future__ import annotations

import uuid
from random import getrandbits  # bound before any world began: still the world's stream in one


def message_id() -> str:
    return f"msg-{uuid.uuid4().hex[:12]}-{getrandbits(16):04x}"
