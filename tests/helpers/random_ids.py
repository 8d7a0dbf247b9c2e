"""A helper library that draws random ids: not a module of durable functions, so a world does not
isolate it; a leaf that calls it must still get the world's values. Used by leaf_randomness.py."""

from __future__ import annotations

import uuid
from random import choice  # bound before any world began: still the world's stream in one

_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def message_id() -> str:
    return "msg-" + "".join(choice(_LETTERS) for _ in range(8))


def request_id() -> str:
    return f"req-{uuid.uuid4().hex[:12]}"
