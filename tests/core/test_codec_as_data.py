"""The codec's as-data mode (issue 25, item 6): a value whose class the reader cannot import is shown as data,
never an error; the default mode still refuses it. ``core.display`` puts it on one line."""

from __future__ import annotations

import enum
import json

import attrs
import pytest

from pytest_durable.core.codec import Data, decode, describe_call, encode, encode_call, encode_error
from pytest_durable.core.display import outcome_text, show
from pytest_durable.core.errors import EncodingError
from pytest_durable.core.records import PromiseRecord, PromiseState
from pytest_durable.core.tree import tree


@attrs.frozen
class WorkResult:
    id: int
    output: str


class Color(enum.Enum):
    RED = 1


def as_if_written_by_main(text: str) -> str:
    """``text`` as a script run as ``__main__`` writes it: its classes' module is ``__main__``."""
    return text.replace(f'"{__name__}:', '"__main__:')


def test_a_class_that_does_not_import_here_is_read_as_data_and_shown_as_its_constructor() -> None:
    value = {"results": [WorkResult(1, "done"), WorkResult(2, "é")], "pair": (1, b"\x00"), "tags": {"b", "a"},
             "color": Color.RED, "keyed": {3: None}}
    text = as_if_written_by_main(encode(value, what="the value"))
    with pytest.raises(EncodingError, match=r"cannot decode a value of class __main__:WorkResult"):
        decode(text)
    read = decode(text, as_data=True)
    assert isinstance(read, dict)
    assert read["results"][0] == Data("__main__:WorkResult", "attrs", (("id", 1), ("output", "done")))
    assert repr(read["results"][0]) == "WorkResult(id=1, output='done')"
    assert show(read) == ('{"results": [WorkResult(id=1, output="done"), WorkResult(id=2, output="é")], '
                          '"pair": (1, b\'\\x00\'), "tags": {"a", "b"}, "color": Color(1), "keyed": {3: null}}')
    plain = ["yes", 1.5, True, None, {"k": [1]}]
    assert show(decode(encode(plain, what="v"), as_data=True)) == json.dumps(plain)  # JSON reads as JSON


def test_a_call_and_a_record_read_as_data() -> None:
    param = as_if_written_by_main(encode_call("process_item", [WorkResult(0, "x")], {"retry": (1,)}))
    assert describe_call(param) == param  # the default mode cannot read it: the raw text, as before
    assert describe_call(param, as_data=True) == "process_item(WorkResult(id=0, output='x'), retry=(1,))"
    resolved = PromiseRecord("job.0", PromiseState.RESOLVED, param, as_if_written_by_main(
        encode(WorkResult(0, "x"), what="v")), 10.0, {"durable:parent": "job"})
    rejected = PromiseRecord("job.1", PromiseState.REJECTED, param, encode_error(ValueError("boom")), 10.0,
                             {"durable:parent": "job"})
    root = PromiseRecord("job", PromiseState.PENDING, encode_call("run_all", [], {}), None, 10.0)
    assert outcome_text(resolved) == 'WorkResult(id=0, output="x")'
    assert outcome_text(rejected) == "ValueError: boom"
    assert tree([root, resolved, rejected], as_data=True).splitlines() == [
        "job  run_all()  pending",
        "├── job.0  process_item(WorkResult(id=0, output='x'), retry=(1,))  resolved → WorkResult(id=0, output=\"x\")",
        "└── job.1  process_item(WorkResult(id=0, output='x'), retry=(1,))  rejected → ValueError: boom",
    ]
    assert "resolved → {\"$t\":\"attrs\"" in tree([root, resolved])  # the default: values as stored
