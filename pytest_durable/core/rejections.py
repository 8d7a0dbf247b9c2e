"""Rejections by class: a rejected child raises a ``Rejected`` that ``except TheOriginalClass`` catches too.

The exception a body raised is recorded by ``codec.encode_error`` with its class, ``args`` and encodable
attributes. Reading it back, ``rejection`` builds an instance of a class derived from both ``Rejected`` and
the original class (made once per original class and kept while in use), so existing ``except Rejected``
code and a new ``except CardDeclined`` both match, after a replay and in another process alike.

Why a subclass of both and not the original rebuilt with the promise attached: the original alone would
no longer be a ``Rejected``, and every ``except Rejected`` already written (compensations, fallbacks) would
stop matching; the subclass changes nothing for it. The instance is built without calling the original's
``__init__`` (which may take other arguments than its ``args``): ``args`` and the recorded attributes are
set on it as they were, and the nearest built-in base's ``__init__`` runs on ``args`` so built-in fields
(``OSError.errno``) are filled as they were. ``str()`` is the rejection's text (promise id, type, message).

One fallback for every hard case: a plain ``Rejected`` (the type name still shown) when the record names
no class (old records, classes defined inside a function, ``Rejected``/``TimedOut``/``Canceled`` passing
on up), when the class cannot be found where it is read, is not an exception class, or cannot be combined
with ``Rejected`` or built (e.g. ``ExceptionGroup``, whose constructor checks its arguments).
"""

from __future__ import annotations

import inspect
import types
import weakref
from typing import Any

from .codec import ErrorRecord, load_class
from .errors import EncodingError, Rejected

#: The class derived from ``Rejected`` and an original class, by original class; an entry lasts while
#: the derived class is in use (a simulated world's module copies come and go with their processes).
_DERIVED: weakref.WeakValueDictionary[type, type[Rejected]] = weakref.WeakValueDictionary()


def rejected_as(original: type[BaseException]) -> type[Rejected] | None:
    """The class derived from ``Rejected`` and ``original``, or None where they cannot be combined."""
    derived = _DERIVED.get(original)
    if derived is not None:
        return derived
    if not issubclass(original, Exception) or issubclass(original, Rejected):
        return None
    # named Rejected, as before, for code and tracebacks that read the type's name
    namespace: dict[str, Any] = {
        "_durable_original": original, "__module__": Rejected.__module__, "__qualname__": "Rejected",
        "__doc__": f"A rejected promise whose body raised {original.__module__}.{original.__qualname__}.",
    }
    try:
        derived = type("Rejected", (Rejected, original), namespace)
    except Exception:  # a layout or metaclass conflict, or an __init_subclass__ that refuses
        return None
    _DERIVED[original] = derived
    return derived


def _builtin_init(cls: type) -> Any:
    """The ``__init__`` of ``cls``'s nearest built-in base: what fills built-in fields from ``args``."""
    for base in cls.__mro__:
        if base.__module__ == "builtins" and "__init__" in vars(base):
            return vars(base)["__init__"]
    return BaseException.__init__


def rejection(id: str, error: ErrorRecord) -> Rejected:
    """The exception a promise ``id`` rejected with ``error`` raises where it is read."""
    if error.cls is None:
        return Rejected(id, error.type_name, error.message)
    try:
        original = load_class(error.cls)
    except EncodingError:
        return Rejected(id, error.type_name, error.message)
    derived = rejected_as(original) if issubclass(original, BaseException) else None
    if derived is None:
        return Rejected(id, error.type_name, error.message)
    args = error.args if error.args is not None else (error.message,)
    try:
        exc = derived.__new__(derived, *args)
        _builtin_init(original)(exc, *args)
        exc.args = args
        for key, value in error.attributes.items():
            if isinstance(inspect.getattr_static(derived, key, None), types.MemberDescriptorType):
                setattr(exc, key, value)  # a built-in field (OSError.filename)
            else:
                vars(exc)[key] = value  # as it was in the instance's __dict__, past any property
        vars(exc).update(id=id, type_name=error.type_name, message=error.message)
    except Exception:  # a constructor that checks its arguments (ExceptionGroup): no instance of that class
        return Rejected(id, error.type_name, error.message)
    return exc
