"""JSON codec for params and values.

Plain JSON types pass through; tuples, sets, bytes, non-string-keyed dicts, enums, attrs classes and
dataclasses are tagged with their type (``{"$t": ...}``) so they come back as what went in. A value
that cannot be encoded raises ``EncodingError`` naming what was being encoded, before anything is
written to the store.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import enum
import importlib
import json
import json.encoder
import re
import types
from collections.abc import Callable, Mapping, Sequence
from contextvars import ContextVar
from typing import Any

import attrs

from .errors import EncodingError, Rejected

TAG = "$t"
JSON = Any  # a tree of dict/list/str/int/float/bool/None

#: How deeply containers may nest in an encoded value. Deeper (or cyclic) values are refused with an
#: ``EncodingError`` instead of exhausting Python's stack, which would take the worker down with it.
MAX_DEPTH = 100


class _Unencodable(Exception):
    """A value the codec cannot encode. ``path`` says where it sits in the value encoded (``.items[2]``): each
    container it passes on its way out puts its own step in front (``within``), so encoding a value that
    succeeds builds no path at all."""

    def __init__(self, value: object, why: str) -> None:
        self.path = ""
        self.value = value
        self.why = why

    def within(self, step: str) -> _Unencodable:
        self.path = step + self.path
        return self


class _TooDeep(Exception):
    """A value nests deeper than ``MAX_DEPTH`` (or a cycle), or the stack ran out while encoding it."""


TOO_DEEP = f"it is cyclic or nested deeper than {MAX_DEPTH} levels"

#: The JSON scalars, by exact type: they encode as themselves. (A subclass, an ``IntEnum`` member say, takes
#: the ``isinstance`` checks below, where an enum is tagged before it could pass as an int.)
_SCALARS = frozenset({str, int, float, bool, type(None)})


def _class_ref(cls: type, value: object) -> str:
    qualname = cls.__qualname__
    if "<locals>" in qualname:
        raise _Unencodable(value, f"class {qualname} is defined inside a function; define it at module level")
    return f"{cls.__module__}:{qualname}"


def _items(values: Any, depth: int) -> list[JSON]:
    """The trees of a list's or tuple's items; an item that cannot be encoded is named by its index."""
    out = []
    for i, v in enumerate(values):
        try:
            out.append(_to_tree(v, depth))
        except _Unencodable as exc:
            raise exc.within(f"[{i}]") from None
    return out


def _to_tree(value: object, depth: int = 0) -> JSON:
    if depth > MAX_DEPTH:
        raise _TooDeep()
    cls = type(value)
    if cls in _SCALARS:
        return value
    depth += 1
    if isinstance(value, enum.Enum):  # before int/str: an IntEnum member is an int too
        return {TAG: "enum", "cls": _class_ref(cls, value), "v": _to_tree(value.value, depth)}
    if isinstance(value, (bool, int, str, float)):
        return value
    if isinstance(value, list):
        return _items(value, depth)
    if isinstance(value, tuple) and not hasattr(value, "_fields"):
        return {TAG: "tuple", "v": _items(value, depth)}
    if isinstance(value, dict):
        if all(type(k) is str for k in value) and TAG not in value:  # a StrEnum key is tagged
            out = {}
            for k, v in value.items():
                try:
                    out[k] = _to_tree(v, depth)
                except _Unencodable as exc:
                    raise exc.within(f"[{k!r}]") from None
            return out
        pairs = []
        for k, v in value.items():
            try:
                key = _to_tree(k, depth)
            except _Unencodable as exc:
                raise exc.within(" key") from None
            try:
                pairs.append([key, _to_tree(v, depth)])
            except _Unencodable as exc:
                raise exc.within(f"[{k!r}]") from None
        return {TAG: "map", "v": pairs}
    if isinstance(value, (set, frozenset)):
        try:
            items = [_to_tree(v, depth) for v in value]
        except _Unencodable as exc:
            raise exc.within(" item") from None
        # Sort by encoded text: a set's iteration order depends on string hashing.
        items.sort(key=lambda t: json.dumps(t, sort_keys=True))
        return {TAG: "frozenset" if isinstance(value, frozenset) else "set", "v": items}
    if isinstance(value, (bytes, bytearray)):
        return {TAG: "bytes", "v": base64.b64encode(bytes(value)).decode("ascii")}
    if attrs.has(cls):
        fields = {}
        for f in attrs.fields(cls):
            if f.init:  # keyed by the __init__ parameter: a private field _x is passed as x
                try:
                    fields[f.alias or f.name] = _to_tree(getattr(value, f.name), depth)
                except _Unencodable as exc:
                    raise exc.within(f".{f.name}") from None
        return {TAG: "attrs", "cls": _class_ref(cls, value), "v": fields}
    if dataclasses.is_dataclass(value):
        fields = {}
        for f in dataclasses.fields(value):
            if f.init:
                try:
                    fields[f.name] = _to_tree(getattr(value, f.name), depth)
                except _Unencodable as exc:
                    raise exc.within(f".{f.name}") from None
        return {TAG: "dataclass", "cls": _class_ref(cls, value), "v": fields}
    raise _Unencodable(
        value,
        f"type {cls.__module__}.{cls.__qualname__} is not supported; use JSON types, tuples, sets, "
        "bytes, enums, attrs classes or dataclasses",
    )


#: Where classes of decoded values are looked up before ``sys.modules``: the simulator sets it for the
#: trio tasks of a process incarnation to that process's own copies of the user's modules, so a value
#: decodes there as an instance of the process's own class (and as ``sys.modules``' class elsewhere).
class_modules: ContextVar[Callable[[str], types.ModuleType | None] | None] = ContextVar(
    "durable_class_modules", default=None
)


def _load_class(ref: str) -> type:
    module_name, _, qualname = ref.partition(":")
    try:
        lookup = class_modules.get()
        module = lookup(module_name) if lookup is not None else None
        obj: Any = module if module is not None else importlib.import_module(module_name)
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise EncodingError(f"cannot decode a value of class {ref}: {exc}; is its module importable here?") from None
    if not isinstance(obj, type):
        raise EncodingError(f"cannot decode a value of class {ref}: it is not a class")
    return obj


def _from_tree(tree: JSON) -> object:
    if isinstance(tree, list):
        return [_from_tree(v) for v in tree]
    if not isinstance(tree, dict):
        return tree
    tag = tree.get(TAG)
    if tag is None:
        return {k: _from_tree(v) for k, v in tree.items()}
    if tag == "tuple":
        return tuple(_from_tree(v) for v in tree["v"])
    if tag == "map":
        return {_from_tree(k): _from_tree(v) for k, v in tree["v"]}
    if tag == "set":
        return {_from_tree(v) for v in tree["v"]}
    if tag == "frozenset":
        return frozenset(_from_tree(v) for v in tree["v"])
    if tag == "bytes":
        return base64.b64decode(tree["v"])
    if tag == "enum":
        return _load_class(tree["cls"])(_from_tree(tree["v"]))
    if tag in ("attrs", "dataclass"):
        cls = _load_class(tree["cls"])
        return cls(**{k: _from_tree(v) for k, v in tree["v"].items()})
    raise EncodingError(f"cannot decode a value tagged {tag!r}: unknown tag")


@attrs.frozen
class Data:
    """A value of a tagged class read *as data* (``decode(text, as_data=True)``): the class is named, never
    imported, so a reader without the writer's modules (the CLI reading a store that a script running as
    ``__main__`` wrote) still shows it. ``cls`` is the recorded ``module:qualname``, ``kind`` the tag
    (``attrs``, ``dataclass``, ``enum``) and ``fields`` its fields in order (an enum's value as ``value``)."""

    cls: str
    kind: str
    fields: tuple[tuple[str, object], ...]

    @property
    def name(self) -> str:
        """The class's qualified name without its module: ``WorkResult``."""
        return self.cls.rpartition(":")[2] or self.cls

    def __repr__(self) -> str:
        if self.kind == "enum":
            return f"{self.name}({self.fields[0][1]!r})"
        return f"{self.name}({', '.join(f'{k}={v!r}' for k, v in self.fields)})"


def _data_from_tree(tree: JSON) -> object:
    """``_from_tree`` that reads a tagged class as ``Data`` instead of importing it (the as-data mode)."""
    if isinstance(tree, list):
        return [_data_from_tree(v) for v in tree]
    if not isinstance(tree, dict):
        return tree
    tag = tree.get(TAG)
    if tag is None:
        return {k: _data_from_tree(v) for k, v in tree.items()}
    if tag == "tuple":
        return tuple(_data_from_tree(v) for v in tree["v"])
    if tag == "map":
        return {_data_from_tree(k): _data_from_tree(v) for k, v in tree["v"]}
    if tag in ("set", "frozenset"):
        return frozenset(_data_from_tree(v) for v in tree["v"])
    if tag == "bytes":
        return base64.b64decode(tree["v"])
    if tag == "enum":
        return Data(str(tree["cls"]), "enum", (("value", _data_from_tree(tree["v"])),))
    if tag in ("attrs", "dataclass"):
        return Data(str(tree["cls"]), tag, tuple((k, _data_from_tree(v)) for k, v in tree["v"].items()))
    raise EncodingError(f"cannot decode a value tagged {tag!r}: unknown tag")


def _compact_encoder() -> Callable[[JSON], str]:
    """What turns a tree into compact JSON text, non-ASCII kept, as ``json.dumps(tree, separators=(",", ":"),
    ensure_ascii=False)`` does, made once. ``json.dumps`` builds an encoder for every call, and so does
    ``JSONEncoder.encode`` underneath (a dict for its cycle check, a closure, the C encoder itself): more
    than encoding a param costs. This is that same C encoder (``json.encoder.c_make_encoder``, with the
    arguments ``JSONEncoder`` passes it), made once and without the cycle check: a tree comes fresh from
    ``_to_tree``, which bounds its depth, so it has no cycle. Where the C encoder is missing, ``JSONEncoder``."""
    encoder = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return encoder.encode
    chunks = make(None, encoder.default, json.encoder.encode_basestring, None, ":", ",", False, False, True)
    return lambda tree: "".join(chunks(tree, 0))


_dumps = _compact_encoder()


def encode(value: object, *, what: str) -> str:
    """Encode ``value`` to JSON text; ``what`` names it in the error (e.g. "process_item's result")."""
    try:
        return _dumps(_to_tree(value))
    except _Unencodable as exc:
        at = f" at {exc.path.lstrip('.')}" if exc.path else ""
        raise EncodingError(f"cannot encode {what}{at} ({exc.value!r}): {exc.why}") from None
    except (_TooDeep, RecursionError):
        raise EncodingError(f"cannot encode {what}: {TOO_DEEP}") from None


def decode(text: str, *, as_data: bool = False) -> object:
    """Decode JSON text written by ``encode``. With ``as_data``, a value of an attrs class, dataclass or
    enum comes back as ``Data`` naming its class, which is not imported (sets as frozensets, so they may
    hold such values): what a reader that only shows values uses, as it may lack the writer's modules."""
    return _data_from_tree(json.loads(text)) if as_data else _from_tree(json.loads(text))


@attrs.frozen
class Call:
    """A decoded durable call: the function name and its arguments."""

    func: str
    args: tuple[object, ...]
    kwargs: Mapping[str, object]

    def __str__(self) -> str:
        parts = [repr(a) for a in self.args] + [f"{k}={v!r}" for k, v in self.kwargs.items()]
        return f"{self.func}({', '.join(parts)})"


def encode_call(func: str, args: Sequence[object], kwargs: Mapping[str, object], *, names: Sequence[str] = ()) -> str:
    """Encode a call as a promise param; ``names`` are the parameter names used in errors."""
    encoded_args = []
    for i, arg in enumerate(args):
        label = f"argument {names[i]!r}" if i < len(names) else f"positional argument {i}"
        try:
            encoded_args.append(_to_tree(arg))
        except _Unencodable as exc:
            at = f" at {exc.path.lstrip('.')}" if exc.path else ""
            raise EncodingError(f"{func}: cannot encode {label}{at} ({exc.value!r}): {exc.why}") from None
        except (_TooDeep, RecursionError):
            raise EncodingError(f"{func}: cannot encode {label}: {TOO_DEEP}") from None
    encoded_kwargs = {}
    for key, arg in kwargs.items():
        try:
            encoded_kwargs[key] = _to_tree(arg)
        except _Unencodable as exc:
            at = f" at {exc.path.lstrip('.')}" if exc.path else ""
            raise EncodingError(f"{func}: cannot encode argument {key!r}{at} ({exc.value!r}): {exc.why}") from None
        except (_TooDeep, RecursionError):
            raise EncodingError(f"{func}: cannot encode argument {key!r}: {TOO_DEEP}") from None
    try:
        return _dumps({"func": func, "args": encoded_args, "kwargs": encoded_kwargs})
    except RecursionError:  # the tree is within MAX_DEPTH, but too little stack is left here
        raise EncodingError(f"{func}: cannot encode its arguments: {TOO_DEEP}") from None


def decode_call(param: str, *, as_data: bool = False) -> Call:
    """Decode a param written by ``encode_call`` (``as_data``: as ``decode`` reads it)."""
    tree = json.loads(param)
    read = _data_from_tree if as_data else _from_tree
    args = tuple(read(a) for a in tree["args"])
    kwargs = {k: read(v) for k, v in tree["kwargs"].items()}
    return Call(tree["func"], args, kwargs)


def describe_call(param: str, *, as_data: bool = False) -> str:
    """A readable form of a param for messages and trees (``as_data``: its classes shown as data, not
    imported); falls back to the raw text for a param that is no encoded call."""
    try:
        return str(decode_call(param, as_data=as_data))
    except (EncodingError, ValueError, KeyError, TypeError):
        return param


#: The memory address in a default ``repr`` (``<object object at 0x7f3a…>``): it differs between
#: processes and runs, so a rejection that quotes one would differ between two runs of one world.
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+(?=>)")


#: Attributes a ``Rejected`` sets on itself (``core/rejections.py``): never recorded as the original's.
REJECTED_FIELDS = frozenset({"id", "type_name", "message"})


def _error_class(exc: BaseException) -> type | None:
    """The class a rejection with ``exc`` records, so a reader can rebuild it (``core/rejections.py``): the
    class of an ``Exception`` (a typed rejection passing on up, its original class), or None for the
    platform's own rejections (``Rejected``, ``TimedOut``, ``Canceled``), which describe another promise."""
    cls: type | None = getattr(type(exc), "_durable_original", None)
    if cls is not None:
        return cls
    if not isinstance(exc, Exception) or isinstance(exc, Rejected):
        return None
    return type(exc)


def _builtin_fields(exc: BaseException) -> list[tuple[str, object]]:
    """The fields built-in exception classes keep outside ``__dict__`` and ``args`` (``OSError.filename``,
    ``StopIteration.value``), where set: recorded with the attributes."""
    found = []
    for base in type(exc).__mro__:
        if base.__module__ != "builtins":
            continue
        names = _FIELDS.get(base)
        if names is None:  # a built-in class's fields, found once (built-in classes are few and stay)
            names = _FIELDS[base] = tuple(name for name, slot in vars(base).items()
                                          if isinstance(slot, types.MemberDescriptorType) and not name.startswith("__"))
        for name in names:
            value = getattr(exc, name, None)
            if value is not None:
                found.append((name, value))
    return found


#: The fields of each built-in exception class met so far (``_builtin_fields``).
_FIELDS: dict[type, tuple[str, ...]] = {}


def encode_error(exc: BaseException) -> str:
    """Encode an exception a promise is rejected with: its type name and message, memory addresses of
    default reprs left out (``<object object>``), so the same failure is recorded the same way in any process.

    Where the exception's class is defined at module level, its reference (``"cls"``), its ``args`` and
    the attributes of its ``__dict__`` that the codec can encode (``"attrs"``, each on its own: one that
    cannot be encoded is left out) are recorded too, so a reader can rebuild an exception of that class
    (``core/rejections.py``), addresses left out of them as well. Readers that know only ``"type"`` and
    ``"message"`` read it as before."""
    tree: dict[str, JSON] = {"type": type(exc).__qualname__, "message": _ADDRESS.sub("", str(exc))}
    cls = _error_class(exc)
    if cls is not None:
        if cls is not type(exc):
            tree["type"] = "Rejected"  # a typed rejection passing on up reads as the Rejected it is
        try:
            tree["cls"] = _class_ref(cls, exc)
        except _Unencodable:
            return _dumps(tree)
        with contextlib.suppress(_Unencodable, _TooDeep, RecursionError):  # args that cannot be: not recorded
            tree["args"] = _to_tree(list(exc.args))
        attributes = {}
        for key, value in [*_builtin_fields(exc), *vars(exc).items()]:
            if key in REJECTED_FIELDS or not isinstance(key, str):
                continue
            try:
                attributes[key] = _to_tree(value)
            except (_Unencodable, _TooDeep, RecursionError):
                continue
        if attributes:
            tree["attrs"] = attributes
        return _ADDRESS.sub("", _dumps(tree))  # args and attributes may quote a default repr too
    return _dumps(tree)


def decode_error(text: str | None) -> tuple[str, str]:
    """The (type name, message) of an encoded rejection; tolerant of foreign values."""
    if text is None:
        return ("Error", "")
    try:
        tree = json.loads(text)
    except ValueError:
        return ("Error", text)
    if isinstance(tree, dict) and isinstance(tree.get("type"), str):
        return (tree["type"], str(tree.get("message", "")))
    return ("Error", text)


@attrs.frozen
class ErrorRecord:
    """An encoded rejection as written by ``encode_error``: the type name and message every record has, and,
    where it was recorded, the original class (``cls``, ``module:qualname``), its ``args`` and attributes,
    decoded. ``args`` is None where it was not recorded (or not decodable here); an attribute whose value
    cannot be decoded here is left out."""

    type_name: str
    message: str
    cls: str | None = None
    args: tuple[object, ...] | None = None
    attributes: Mapping[str, object] = attrs.field(factory=dict)


def read_error(text: str | None) -> ErrorRecord:
    """Decode a rejection, old records (type and message only) and foreign values included."""
    try:
        tree = json.loads(text) if text is not None else None
    except ValueError:
        tree = None
    if not isinstance(tree, dict) or not isinstance(tree.get("type"), str):
        return ErrorRecord(*decode_error(text))
    type_name, message = tree["type"], str(tree.get("message", ""))
    if not isinstance(tree.get("cls"), str):
        return ErrorRecord(type_name, message)
    args: tuple[object, ...] | None = None
    if isinstance(tree.get("args"), list):
        try:
            args = tuple(_from_tree(a) for a in tree["args"])
        except Exception:  # a value whose class is missing here, or refuses its fields: left out
            args = None
    attributes: dict[str, object] = {}
    found = tree.get("attrs")
    for key, value in (found.items() if isinstance(found, dict) else ()):
        try:
            attributes[key] = _from_tree(value)
        except Exception:  # a value whose class is missing here, or refuses its fields: left out
            continue
    return ErrorRecord(type_name, message, tree["cls"], args, attributes)


def load_class(ref: str) -> type:
    """The class named by ``ref`` (``module:qualname``), looked up as a decoded value's class is (the
    simulated process's own module copies first); ``EncodingError`` when it cannot be found here."""
    return _load_class(ref)
