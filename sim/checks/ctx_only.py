"""Which workflows provably read nothing outside ``ctx``: where the replay oracle cannot disagree.

The oracle (``oracle``) replays a workflow over the store's final record and compares. In a world whose
run found nothing wrong, the record under a workflow is what its last execution asked for and computed:
each execution compares the children an earlier one recorded with its own calls (``NondeterminismError``)
and must ask for all of them, children are write-once, and a later execution of a settled workflow is
check (2)'s. A fresh replay is one more execution over the same arguments and the same recorded outcomes
(children, ``ctx.random()``, ``ctx.now()``, timers). If the body reads nothing else, it asks for the same
children and computes the same value, however often and wherever the world ran it: then the replay can
only agree. What can make it disagree is a read outside ``ctx`` (module state a process carries, the
wall clock, ``random``, trio's time or scheduling, a dependency, object ids and set order) and nothing
else, in any world, a fault-free one included. So this module decides, from a body's bytecode, whether
it can read anything outside ``ctx``; ``reason`` names the first read it cannot rule out, or is empty.

The test is conservative: whatever it does not recognise counts as a read outside. A body may use
locals, operators, comprehensions, attributes and methods of what it holds (not ``_private`` ones, nor
a future's ``done``/``abort``, which see timing, nor ``get_dependency``), and globals that are: durable
functions it hands to ``ctx`` (not called directly: that runs a leaf's body), pure builtins (not ``id``,
``hash``, ``set``, ``open``, nor ``str`` and ``repr``, nor f-strings or ``%``: an object's default text
holds its address), exception classes of Python or ``pytest_durable`` and the SDK's types,
constants its module binds once to a literal and nothing rebinds, and functions and classes of the
scenario's isolated modules that pass the same test (a class must be attrs or an exception, hold no
state of its own and have certified methods). No imports, no stores to globals, no sets (their order
follows object ids), no calls of a callable held in a local. The classes of the values a world handed
to bodies (the ``"cls"`` of encoded values and of rejections in its records) must pass the class test
too, except exception classes of Python, ``pytest_durable`` and the simulator, whose methods read only the
instance (a rejected child raises an instance of its error's class: ``pytest_durable/core/rejections.py``).
"""

from __future__ import annotations

import builtins
import dis
import re
import sys
import types
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import attrs

from pytest_durable.core.records import PromiseRecord
from pytest_durable.sdk import DurableFunction

from ..kernel.isolation import module_code

#: Builtins a certified body may call: each computes from its arguments alone (no ids, no hash order,
#: no I/O, no reflection that could reach module state). Not ``str``, ``repr``, ``format``: an object's
#: default text holds its address, and a local child's future's its progress.
PURE_BUILTINS = frozenset({
    "abs", "all", "any", "bin", "bool", "bytes", "callable", "chr", "complex", "dict", "divmod", "enumerate",
    "filter", "float", "hex", "int", "isinstance", "issubclass", "iter", "len", "list", "map", "max", "min",
    "next", "oct", "ord", "pow", "print", "range", "reversed", "round", "slice", "sorted", "sum", "tuple", "zip",
})
#: Types of ``pytest_durable`` a body may name (for ``isinstance``, annotations); its exceptions also.
SDK_TYPES = frozenset({"Context", "DurableFuture", "RemoteFuture"})
#: Attributes that see something outside ``ctx``: a local child's progress, a dependency, an object's text.
OUTSIDE_ATTRIBUTES = frozenset({"done", "abort", "get_dependency", "format", "format_map"})
#: Opcodes that read or write outside the body's own frame, or whose effect follows object ids.
OUTSIDE_OPS = frozenset({
    "IMPORT_NAME", "IMPORT_FROM", "IMPORT_STAR", "STORE_GLOBAL", "DELETE_GLOBAL", "LOAD_NAME", "STORE_NAME",
    "DELETE_NAME", "LOAD_CLASSDEREF", "BUILD_SET", "SET_ADD", "SET_UPDATE", "LOAD_BUILD_CLASS", "PUSH_NULL",
    "FORMAT_VALUE",
})
#: Binary operators that may turn an object into text (``"%s" % obj``).
_TEXT_OPS = frozenset({"%", "%="})
_ATTRIBUTE_OPS = frozenset({"LOAD_ATTR", "LOAD_METHOD", "STORE_ATTR", "DELETE_ATTR"})
_REBINDERS = frozenset({"setattr", "delattr", "globals", "vars", "exec", "eval", "__import__"})
_IMMUTABLE = (type(None), bool, int, float, complex, str, bytes, range, type(Ellipsis))
_CLASS_REF = re.compile(r'"cls":\s*"([^"]+)"')


#: Packages whose exception classes a rejection may name without a class test: their methods read
#: only the instance (the classes of a rejected child's error, ``core/rejections.py``).
_OWN_PACKAGES = frozenset({"builtins", "pytest_durable", "sim"})


def _is_exception(module: object, qualname: str) -> bool:
    found: Any = module
    for part in qualname.split("."):
        found = getattr(found, part, None)
    return isinstance(found, type) and issubclass(found, BaseException)


def _immutable(value: object) -> bool:
    if isinstance(value, (tuple, frozenset)):
        return type(value) in (tuple, frozenset) and all(_immutable(v) for v in value)
    return type(value) in _IMMUTABLE


def _of_attrs(func: types.FunctionType) -> bool:
    """A function of the attrs package itself (a frozen class's ``__setattr__``), not the user's."""
    return func.__module__.split(".")[0] in ("attr", "attrs")


def _codes(code: types.CodeType) -> Iterator[types.CodeType]:
    """``code`` and every code object nested in it (comprehensions, lambdas, inner functions)."""
    yield code
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _codes(const)


def _literals(code: types.CodeType) -> frozenset[str]:
    """The names a module's top-level ``code`` binds exactly once, each to a literal (``N = 3``,
    ``A, B = 1, 2``): every copy of the module holds the same value under them when fresh."""
    stores: dict[str, int] = {}
    literal: set[str] = set()
    unpacked = 0  # STORE_NAMEs still to come from an unpacked literal
    after_const = False
    for ins in dis.get_instructions(code):
        if ins.opname in ("CACHE", "EXTENDED_ARG", "NOP"):
            continue
        if ins.opname in ("STORE_NAME", "DELETE_NAME"):
            stores[ins.argval] = stores.get(ins.argval, 0) + 1
            if ins.opname == "STORE_NAME" and (after_const or unpacked):
                literal.add(ins.argval)
            unpacked = max(unpacked - 1, 0)
        elif ins.opname == "UNPACK_SEQUENCE" and after_const:
            unpacked = ins.argval
        else:
            unpacked = 0
        after_const = ins.opname == "LOAD_CONST"
    return frozenset(n for n in literal if stores[n] == 1)


def _rebinders(codes: Iterable[types.CodeType]) -> tuple[frozenset[str], bool]:
    """The names ``codes`` store or delete as globals or attributes (``global x; x = ...``,
    ``module.x = ...``), and whether any of them could rebind a name it does not spell (``setattr``,
    ``globals()``, ``exec``...)."""
    rebound: set[str] = set()
    reflective = False
    for code in codes:
        for inner in _codes(code):
            for ins in dis.get_instructions(inner):
                if ins.opname in ("STORE_GLOBAL", "DELETE_GLOBAL", "STORE_ATTR", "DELETE_ATTR"):
                    rebound.add(ins.argval)
                elif ins.opname in ("LOAD_GLOBAL", "LOAD_NAME") and ins.argval in _REBINDERS:
                    reflective = True
    return frozenset(rebound), reflective


class Certifier:
    """Decides, once per function and class, whether a scenario's workflows read nothing outside ``ctx``.

    ``isolated`` are the modules the scenario's process incarnations get fresh copies of: only their
    functions and classes can be certified (a shared module's state outlives a crash, and other code can
    change it)."""

    def __init__(self, isolated: Iterable[str]) -> None:
        self.isolated = frozenset(isolated)
        self._literals: dict[str, frozenset[str]] = {}  # a Certifier is made per version of the modules
        self._rebound: tuple[frozenset[str], bool] | None = None
        self._reasons: dict[int, tuple[object, str]] = {}  # id(obj) -> (obj, reason), obj kept alive

    def workflow(self, fn: DurableFunction[..., Any]) -> str:
        """Why a fresh replay of workflow ``fn`` might not compute what its last execution did, or ``""``."""
        if fn.__module__ not in self.isolated:
            return f"module {fn.__module__} is not isolated"
        return self._function(fn.body)

    def values(self, records: Iterable[PromiseRecord]) -> str:
        """Why the values the record handed to bodies might hold state or run uncertified code, or ``""``:
        every class named by an encoded value must pass the class test."""
        for record in records:
            for text in (record.param, record.value):
                if text is None or '"cls"' not in text:
                    continue
                for ref in _CLASS_REF.findall(text):
                    why = self._class_ref(ref)
                    if why:
                        return why
        return ""

    # -- functions --------------------------------------------------------------------------------------

    def _function(self, fn: object) -> str:
        cached = self._reasons.get(id(fn))
        if cached is not None and cached[0] is fn:
            return cached[1]
        self._reasons[id(fn)] = (fn, "")  # a recursive helper is judged by the rest of its body
        why = self._judge_function(fn)
        self._reasons[id(fn)] = (fn, why)
        return why

    def _judge_function(self, fn: object) -> str:
        if not isinstance(fn, types.FunctionType):
            return f"{fn!r} is not a plain function"
        where = f"{fn.__module__}.{fn.__qualname__}"
        if fn.__module__ not in self.isolated or fn.__globals__.get("__name__") != fn.__module__:
            return f"{where} is not defined in an isolated module"
        if fn.__closure__ or fn.__kwdefaults__ or any(not _immutable(d) for d in fn.__defaults__ or ()):
            return f"{where} closes over or defaults to state of its own"
        for code in _codes(fn.__code__):
            for ins in dis.get_instructions(code):
                why = self._instruction(ins, fn.__globals__, fn.__module__)
                if why:
                    return f"{where}: {why}"
        return ""

    def _instruction(self, ins: dis.Instruction, scope: Mapping[str, Any], module: str) -> str:
        op = ins.opname
        if op in OUTSIDE_OPS or (op == "BINARY_OP" and ins.argrepr in _TEXT_OPS):
            return f"{op} {ins.argrepr}".rstrip()
        if op in _ATTRIBUTE_OPS and (str(ins.argval).startswith("_") or ins.argval in OUTSIDE_ATTRIBUTES):
            return f"uses attribute {ins.argval}"
        if op == "LOAD_GLOBAL":
            return self._global(ins.argval, bool((ins.arg or 0) & 1), scope, module)
        return ""

    def _global(self, name: str, called: bool, scope: Mapping[str, Any], module: str) -> str:
        if name in scope:
            value = scope[name]
            rebound, reflective = self._rebinding()
            if name in rebound or reflective:
                return f"reads global {name}, which code of an isolated module may rebind"
        elif name in vars(builtins):
            value = vars(builtins)[name]
            if name in PURE_BUILTINS or (isinstance(value, type) and issubclass(value, BaseException)):
                return ""
            return f"reads builtin {name}"
        else:
            return f"reads {name}, which its module does not define"
        if isinstance(value, DurableFunction):
            return f"calls durable function {name} directly" if called else ""
        if isinstance(value, types.FunctionType):
            return self._function(value)
        if isinstance(value, type):
            return self._type(value)
        if _immutable(value) and name in self._module_literals(module):
            return ""
        return f"reads global {name} ({type(value).__name__})"

    # -- classes ----------------------------------------------------------------------------------------

    def _type(self, cls: type) -> str:
        module = cls.__module__
        if module.split(".")[0] == "pytest_durable":
            if issubclass(cls, BaseException) or cls.__name__ in SDK_TYPES:
                return ""
            return f"uses {module}.{cls.__qualname__}"
        if module == "builtins" and issubclass(cls, BaseException):
            return ""
        return self._class_ref(f"{module}:{cls.__qualname__}", cls)

    def _class_ref(self, ref: str, cls: type | None = None) -> str:
        """The class test for the class ``ref`` (``module:qualname``) names, found as the codec would
        outside a world (the scenario's own module), or ``cls``."""
        module, _, qualname = ref.partition(":")
        if module.split(".")[0] in _OWN_PACKAGES and _is_exception(sys.modules.get(module), qualname):
            return ""  # a rejection's class of Python's, the SDK's or the simulator's (InjectedFault): no state
        if module not in self.isolated:
            return f"values of class {ref} come from a module that is not isolated"
        if cls is None:
            found: Any = sys.modules.get(module)
            for part in qualname.split("."):
                found = getattr(found, part, None)
            if not isinstance(found, type):
                return f"class {ref} is not found"
            cls = found
        cached = self._reasons.get(id(cls))
        if cached is not None and cached[0] is cls:
            return cached[1]
        self._reasons[id(cls)] = (cls, "")  # a class that refers to itself is judged by the rest of it
        why = self._judge_class(ref, cls)
        self._reasons[id(cls)] = (cls, why)
        return why

    def _judge_class(self, ref: str, cls: type) -> str:
        if not (attrs.has(cls) or issubclass(cls, BaseException)):
            return f"class {ref} is neither an attrs class nor an exception"
        for klass in cls.__mro__:
            if klass.__module__ != cls.__module__:
                continue
            why = self._class_body(klass)
            if why:
                return f"class {ref}: {why}"
        return ""

    def _class_body(self, klass: type) -> str:
        for name, value in vars(klass).items():
            if isinstance(value, (staticmethod, classmethod)):
                value = value.__func__
            funcs: list[Any]
            if isinstance(value, property):
                funcs = [f for f in (value.fget, value.fset, value.fdel) if f is not None]
            elif isinstance(value, types.FunctionType):
                funcs = [value]
            elif name == "__attrs_attrs__":
                why = self._attrs_fields(value)
                if why:
                    return why
                continue
            elif name.startswith("__") or isinstance(value, (types.MemberDescriptorType, types.GetSetDescriptorType)):
                continue
            else:
                return f"holds {name} ({type(value).__name__}), state of its own"
            for func in funcs:
                if isinstance(func, types.FunctionType) and (
                        func.__code__.co_filename.startswith("<attrs generated") or _of_attrs(func)):
                    continue  # attrs' own __init__, __eq__, __setattr__...: computed from the fields
                why = self._function(func)
                if why:
                    return why
        return ""

    def _attrs_fields(self, fields: tuple[Any, ...]) -> str:
        """An attrs class's fields make fresh, stateless values: no shared mutable default, a factory
        that is a plain container or certified, no converter, hook or validator of the user's."""
        for field in fields:
            default = field.default
            if isinstance(default, attrs.Factory):  # type: ignore[arg-type]
                factory = default.factory
                why = "" if factory in (list, dict, tuple) else self._function(factory)
                if why:
                    return f"field {field.name}: {why}"
            elif not (default is attrs.NOTHING or _immutable(default)):
                return f"field {field.name} defaults to a shared {type(default).__name__}"
            if field.converter is not None or field.on_setattr not in (None, attrs.setters.NO_OP):
                return f"field {field.name} has a converter or an on_setattr hook"
            if field.validator is not None and not type(field.validator).__module__.startswith("attr"):
                return f"field {field.name} has a validator of its own"
        return ""

    def _module_literals(self, name: str) -> frozenset[str]:
        literals = self._literals.get(name)
        if literals is None:
            literals = self._literals[name] = _literals(module_code(name))
        return literals

    def _rebinding(self) -> tuple[frozenset[str], bool]:
        if self._rebound is None:
            self._rebound = _rebinders(module_code(name) for name in sorted(self.isolated))
        return self._rebound


__all__ = ["Certifier", "OUTSIDE_ATTRIBUTES", "OUTSIDE_OPS", "PURE_BUILTINS"]
