"""The JSON codec for params, values and errors (``pytest_durable.core.codec``).

Round trips are compared strictly (types included, so ``1``, ``1.0`` and ``True`` are different and
a tuple that comes back as a list is a failure), and the error messages are checked to name the
function, the argument and the path to the value that cannot be encoded.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_durable.core import (
    Call,
    EncodingError,
    UsageError,
    decode,
    decode_call,
    decode_error,
    describe_call,
    encode,
    encode_call,
    encode_error,
)

# -- module-level types the codec can name and load back -----------------------------------------


class Color(enum.Enum):
    RED = "red"
    GREEN = 2
    BLUE = (1, 2)


@attrs.frozen
class Point:
    x: int
    y: int
    label: str = ""


@attrs.define
class Box:
    """A mutable attrs class holding any value, so attrs instances nest arbitrary content."""

    content: object
    note: str = attrs.field(default="", init=True)
    cache: int = attrs.field(default=0, init=False)


@dataclasses.dataclass(frozen=True)
class Item:
    id: int
    data: str


@dataclasses.dataclass
class Bag:
    items: object
    derived: int = dataclasses.field(default=0, init=False)


class Outer:
    class Shade(enum.Enum):
        DARK = "dark"
        LIGHT = "light"


class PaymentDeclined(Exception):
    pass


class IntLevel(enum.IntEnum):
    LOW = 1
    HIGH = 2


class StrMode(enum.StrEnum):
    FAST = "fast"
    SLOW = "slow"


class Perm(enum.IntFlag):
    R = 4
    W = 2


@attrs.frozen
class Secret:
    _token: str


@attrs.frozen
class Aliased:
    value: int = attrs.field(alias="why")


# -- strict comparison -------------------------------------------------------------------------


def typed(v: object) -> object:
    """A hashable, type-exact form of ``v``: equal only if ``v`` would round-trip unchanged."""
    if isinstance(v, enum.Enum):
        return ("enum", type(v).__qualname__, v.name)
    if isinstance(v, float):
        return ("float", repr(v))
    if v is None or isinstance(v, (bool, int, str, bytes)):
        return (type(v).__name__, v)
    if isinstance(v, (list, tuple)):
        return (type(v).__name__, tuple(typed(x) for x in v))
    if isinstance(v, (set, frozenset)):
        return (type(v).__name__, frozenset(typed(x) for x in v))
    if isinstance(v, dict):
        return ("dict", tuple((typed(k), typed(x)) for k, x in v.items()))
    if attrs.has(type(v)):
        return ("attrs", type(v).__qualname__, tuple(typed(getattr(v, f.name)) for f in attrs.fields(type(v))))
    if dataclasses.is_dataclass(v):
        return ("dataclass", type(v).__qualname__, tuple(typed(getattr(v, f.name)) for f in dataclasses.fields(v)))
    raise AssertionError(f"typed(): unexpected {type(v)}")


def test_typed_tells_types_apart():
    # The comparison the round trips rely on must itself see the differences they guard against.
    assert typed(1) != typed(1.0) != typed(True)
    assert typed((1, 2)) != typed([1, 2])
    assert typed({1}) != typed(frozenset({1}))
    assert typed({"a": 1, "b": 2}) != typed({"b": 2, "a": 1})
    assert typed(Point(1, 2)) != typed(Item(1, "2"))
    assert typed(IntLevel.LOW) != typed(1)


# -- strategies --------------------------------------------------------------------------------

floats = st.floats(allow_nan=False, allow_infinity=False)
scalars = st.none() | st.booleans() | st.integers() | floats | st.text(max_size=8)
hashable_leaves = (
    scalars
    | st.binary(max_size=8)
    | st.sampled_from([*Color, *Outer.Shade, *IntLevel, *StrMode])
    | st.builds(Point, st.integers(), st.integers(), st.text(max_size=4))
    | st.builds(Item, st.integers(), st.text(max_size=4))
    | st.builds(Secret, st.text(max_size=4))
)
hashables = st.recursive(
    hashable_leaves,
    lambda inner: st.lists(inner, max_size=3).map(tuple) | st.frozensets(inner, max_size=3),
    max_leaves=8,
)


def _containers(inner):
    return (
        st.lists(inner, max_size=4)
        | st.lists(inner, max_size=4).map(tuple)
        | st.dictionaries(st.text(max_size=4), inner, max_size=4)
        | st.dictionaries(hashables, inner, max_size=3)  # non-str keys
        | st.dictionaries(st.text(max_size=4), inner, max_size=3).map(lambda d: {"$t": "tuple", "v": [], **d})
        | st.sets(hashables, max_size=4)
        | st.frozensets(hashables, max_size=4)
        | st.builds(Box, inner, st.text(max_size=3))
        | st.builds(Bag, inner)
    )


values = st.recursive(hashables, _containers, max_leaves=20)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(max_size=4).filter(lambda k: k != "$t"), inner, max_size=4),
    max_leaves=20,
)


# -- round trips -------------------------------------------------------------------------------


@given(values)
def test_round_trip_keeps_value_and_type(value):
    text = encode(value, what="a value")
    json.loads(text)  # it is JSON text
    back = decode(text)
    assert typed(back) == typed(value)
    assert encode(back, what="a value") == text  # stable: encoding the decoded value gives the same text


@given(json_values)
def test_plain_json_passes_through_untagged(value):
    text = encode(value, what="a value")
    assert json.loads(text) == value
    assert "$t" not in text


@pytest.mark.parametrize(
    "value",
    [
        (1, "a", (2.5, None)),
        {1, 2, 3},
        frozenset({"x", "y"}),
        b"\x00\xffbytes",
        {1: "one", (2, 3): "tuple key", None: "none"},
        {"$t": "tuple", "v": [1, 2]},  # a user dict that looks like a tag
        {"$t": 1},
        Color.BLUE,
        Outer.Shade.DARK,
        Point(1, 2, "p"),
        Item(7, "seven"),
        Box({"k": [Point(0, 0), {Color.RED}]}),
        Bag([Item(1, "a"), (b"x", frozenset({1}))]),
        [{"a": ({1: 2},)}],
    ],
    ids=lambda value: type(value).__qualname__,  # not repr: a set's repr follows the string hash seed (xdist)
)
def test_round_trip_examples(value):
    assert typed(decode(encode(value, what="v"))) == typed(value)


def test_init_false_fields_are_not_written():
    box = Box([1])
    box.cache = 99
    back = decode(encode(box, what="v"))
    assert isinstance(back, Box) and back.content == [1] and back.cache == 0
    bag = Bag(2)
    bag.derived = 5
    assert "derived" not in encode(bag, what="v")
    assert decode(encode(bag, what="v")) == Bag(2)


@given(
    func=st.text(min_size=1, max_size=10),
    args=st.lists(values, max_size=3),
    kwargs=st.dictionaries(st.from_regex(r"[a-z_][a-z0-9_]{0,6}", fullmatch=True), values, max_size=3),
)
def test_call_round_trip(func, args, kwargs):
    param = encode_call(func, args, kwargs)
    call = decode_call(param)
    assert isinstance(call, Call)
    assert call.func == func
    assert typed(call.args) == typed(tuple(args))
    assert typed(call.kwargs) == typed(kwargs)
    assert describe_call(param) == str(call)


def test_call_examples():
    param = encode_call("process_item", [Item(3, "x"), (1, 2)], {"retries": {1, 2}}, names=["item", "pair"])
    call = decode_call(param)
    assert call == Call("process_item", (Item(3, "x"), (1, 2)), {"retries": {1, 2}})
    assert str(call) == "process_item(Item(id=3, data='x'), (1, 2), retries={1, 2})"
    assert describe_call("not a param") == "not a param"


# -- what cannot be encoded --------------------------------------------------------------------


def _encode_error(func, args, kwargs, names=()) -> str:
    with pytest.raises(EncodingError) as info:
        encode_call(func, args, kwargs, names=names)
    assert isinstance(info.value, UsageError) and isinstance(info.value, TypeError)
    return str(info.value)


def test_unencodable_object_names_function_and_argument():
    msg = _encode_error("process_item", [1, object()], {}, names=["count", "item"])
    assert msg.startswith("process_item: ")
    assert "argument 'item'" in msg
    assert "'count'" not in msg
    assert "builtins.object is not supported" in msg


def test_unencodable_without_names_gives_the_position():
    msg = _encode_error("f", [1, 2, object()], {}, names=["a"])
    assert "positional argument 2" in msg


def test_unencodable_lambda_in_kwargs():
    msg = _encode_error("notify", [], {"ok": 1, "callback": lambda: None})
    assert msg.startswith("notify: ")
    assert "argument 'callback'" in msg
    assert "function" in msg


def test_class_defined_inside_a_function():
    @dataclasses.dataclass
    class Local:
        x: int

    msg = _encode_error("handle", [Local(1)], {}, names=["event"])
    assert msg.startswith("handle: ") and "argument 'event'" in msg
    assert "defined inside a function" in msg
    assert "Local" in msg

    class LocalColor(enum.Enum):
        A = 1

    msg = _encode_error("handle", [], {"color": [LocalColor.A]})
    assert "argument 'color' at [0]" in msg and "defined inside a function" in msg


@pytest.mark.parametrize(
    ("arg", "where"),
    [
        ({"items": [1, {"x": object()}]}, re.escape("at ['items'][1]['x'] (")),
        ([Box(content=[0, object()])], re.escape("at [0].content[1] (")),
        (Bag(items={"k": object()}), re.escape("at items['k'] (")),
        ((1, (2, object())), re.escape("at [1][1] (")),
        ({1: object()}, re.escape("at [1] (")),
        ({"a": {object(): 1}}, re.escape("at ['a'] key (")),
        ({object(): 1}, r"at +key \("),
        ([{object()}], r"at \[0\] item \("),
    ],
    ids=["dict-list-dict", "list-attrs-list", "dataclass-dict", "tuple-tuple", "map-value", "nested-map-key",
         "map-key", "set-item"],
)
def test_error_names_the_path_inside_the_value(arg, where):
    msg = _encode_error("ship", [arg], {}, names=["order"])
    assert re.match(r"ship: cannot encode argument 'order' " + where, msg), msg


def test_encode_names_what_it_encodes():
    with pytest.raises(EncodingError, match=r"cannot encode process_item's result at \['r'\]"):
        encode({"r": object()}, what="process_item's result")


def test_decode_of_unknown_tag_or_missing_class():
    with pytest.raises(EncodingError, match="unknown tag"):
        decode('{"$t":"mystery","v":1}')
    with pytest.raises(EncodingError, match="no_such_module_xyz"):
        decode('{"$t":"attrs","cls":"no_such_module_xyz:Thing","v":{}}')
    with pytest.raises(EncodingError, match="not a class"):
        decode('{"$t":"enum","cls":"json:dumps","v":1}')


# -- errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (ValueError("boom"), ("ValueError", "boom")),
        (PaymentDeclined("card 42 declined"), ("PaymentDeclined", "card 42 declined")),
        (RuntimeError(), ("RuntimeError", "")),
        (KeyError("k"), ("KeyError", "'k'")),
        (ValueError("a", 2), ("ValueError", "('a', 2)")),
    ],
)
def test_error_round_trip(exc, expected):
    assert decode_error(encode_error(exc)) == expected


@given(st.text(), st.sampled_from([ValueError, RuntimeError, PaymentDeclined, ZeroDivisionError]))
def test_error_round_trip_any_message(message, cls):
    assert decode_error(encode_error(cls(message))) == (cls.__qualname__, message)


def test_nested_exception_class_uses_qualname():
    class Inner(Exception):
        pass

    assert decode_error(encode_error(Inner("x"))) == ("test_nested_exception_class_uses_qualname.<locals>.Inner", "x")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (None, ("Error", "")),
        ("not json", ("Error", "not json")),
        ("[1, 2]", ("Error", "[1, 2]")),
        ('"just a string"', ("Error", '"just a string"')),
        ('{"type": 1, "message": "m"}', ("Error", '{"type": 1, "message": "m"}')),
        ('{"type": "X"}', ("X", "")),
        ('{"type": "X", "message": 5}', ("X", "5")),
    ],
)
def test_decode_error_tolerates_foreign_values(text, expected):
    assert decode_error(text) == expected


# -- set encoding does not depend on order -----------------------------------------------------


@given(st.lists(st.text(max_size=6), unique=True, max_size=30), st.randoms(use_true_random=False))
def test_set_encoding_is_independent_of_insertion_order(strings, rnd):
    shuffled = list(strings)
    rnd.shuffle(shuffled)
    a: set[str] = set()
    for s in strings:
        a.add(s)
    b: set[str] = {f"filler-{i}" for i in range(40)}  # grow and shrink the table: another layout
    for s in shuffled:
        b.add(s)
    for i in range(40):
        b.discard(f"filler-{i}")
    assert a == b
    assert encode(a, what="s") == encode(b, what="s")
    assert encode(frozenset(reversed(shuffled)), what="s") == encode(frozenset(strings), what="s")
    assert encode({"k": [a]}, what="s") == encode({"k": [b]}, what="s")


def test_set_encoding_is_the_same_under_any_hash_seed():
    script = (
        "from pytest_durable.core import encode\n"
        "print(encode({'alpha', 'beta', 'gamma', 'delta', 'epsilon', ('t', 1), frozenset({'x', 'y', 'z'})}, what='s'))"
    )
    root = Path(__file__).resolve().parents[2]
    outputs = set()
    for seed in ("0", "1", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(root)}
        done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
        outputs.add(done.stdout)
    assert len(outputs) == 1, outputs


# -- regressions -------------------------------------------------------------------------------


@pytest.mark.parametrize("member", [IntLevel.HIGH, StrMode.FAST, Perm.R | Perm.W])
def test_int_and_str_enums_round_trip_as_the_enum(member):
    """An IntEnum/str-mixin member is also an int/str; it must still come back as the enum."""
    text = encode([member, {"k": member}, {member}, (member,)], what="v")
    assert typed(decode(text)) == typed([member, {"k": member}, {member}, (member,)])
    assert typed(decode(encode({member: 1, 2: 3}, what="v"))) == typed({member: 1, 2: 3})
    assert decode_call(encode_call("f", [member], {"m": member})) == Call("f", (member,), {"m": member})


def test_attrs_private_and_aliased_fields_round_trip():
    """attrs' __init__ takes _token as token and an alias by its alias: decode must pass those."""
    for value in (Secret("s3cret"), Aliased(3), Box(Secret("x"))):
        assert typed(decode(encode(value, what="v"))) == typed(value)


def test_str_enum_dict_key_round_trips():
    """A dict keyed by StrEnum members has str keys, but must not take the plain-JSON path."""
    for value in ({StrMode.FAST: 1}, {"fast": 1, StrMode.SLOW: 2}, [{StrMode.FAST: {StrMode.SLOW: 0}}]):
        assert typed(decode(encode(value, what="v"))) == typed(value)
