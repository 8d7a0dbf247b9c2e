"""``run`` checks ARGS against the function's annotations (issue 25, item 8): a wrong type is one line naming
the function, the parameter, the type expected and the type given, exit 2, and nothing is started."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_durable.live.cli import main

TARGET = "tests.helpers.typed_app:typed"
ITEM = {"$t": "attrs", "cls": "tests.helpers.typed_app:Item", "v": {"id": 1, "name": "a"}}
NOTE = {"$t": "dataclass", "cls": "tests.helpers.typed_app:Note", "v": {"text": "t"}}
GOOD = {"n": 1, "ratio": 2, "name": "x", "flag": True, "maybe": None, "items": [ITEM], "table": {"a": 1},
        "pair": [1, "b"], "note": NOTE, "anything": {"whatever": [1]}}


def run(tmp_path: Path, capsys: pytest.CaptureFixture[str], **changes: object) -> tuple[int, str, str]:
    code = main(["--store", f"sqlite:///{tmp_path / 'app.db'}", "run", "t-1", TARGET,
                 json.dumps({"kwargs": {**GOOD, **changes}})])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_arguments_of_the_annotated_types_start_the_workflow(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                                             ) -> None:
    code, out, err = run(tmp_path, capsys, maybe=3, ratio=0.5)
    assert (code, err) == (0, "") and out.startswith("t-1 started: typed")


@pytest.mark.parametrize(("changes", "said"), [
    ({"n": "4"}, "parameter 'n' expects int, got str"),
    ({"n": True}, "parameter 'n' expects int, got bool"),
    ({"ratio": "0.5"}, "parameter 'ratio' expects float, got str"),
    ({"name": 7}, "parameter 'name' expects str, got int"),
    ({"flag": 1}, "parameter 'flag' expects bool, got int"),
    ({"maybe": "x"}, "parameter 'maybe' expects int | None, got str"),
    ({"items": [ITEM, {"id": 2, "name": "b"}]},
     "parameter 'items' expects list[Item], got dict at [1]; write Item values as "
     '{"$t": "attrs", "cls": "tests.helpers.typed_app:Item", "v": {"...": "..."}}'),
    ({"table": {"a": "1"}}, "parameter 'table' expects dict[str, int], got str at ['a']"),
    ({"pair": [1, 2]}, "parameter 'pair' expects tuple[int, str], got int at [1]"),
    ({"pair": [1]}, "parameter 'pair' expects tuple[int, str], got list of 1 items"),
    ({"note": "t"}, "parameter 'note' expects Note, got str; write Note values as "
                    '{"$t": "dataclass", "cls": "tests.helpers.typed_app:Note", "v": {"...": "..."}}'),
])
def test_a_wrong_type_is_one_line_naming_function_parameter_expected_and_given(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], changes: dict[str, object], said: str) -> None:
    code, out, err = run(tmp_path, capsys, **changes)
    assert (code, out, err) == (2, "", f"error: run: typed: {said}\n")
    listed = main(["--store", f"sqlite:///{tmp_path / 'app.db'}", "ls"])
    assert listed == 0 and capsys.readouterr().out == "0 roots; no more\n"  # nothing was started
