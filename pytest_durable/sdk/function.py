"""``@function`` and the registry that maps durable function names to their bodies."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any, Generic, ParamSpec, TypeVar, overload

from ..core.errors import RegistrationError, UsageError
from .retry import RETRY_POLICIES, RetryPolicy

P = ParamSpec("P")
R = TypeVar("R")


class DurableFunction(Generic[P, R]):
    """A function whose every call is backed by a durable promise.

    ``P`` are the parameters a caller passes: for a workflow, those after its ``Context``.
    Calling the object directly runs the body, which is handy in unit tests of a leaf.
    """

    def __init__(
        self, body: Callable[..., Awaitable[R]], *, name: str, retry: RetryPolicy | None, is_workflow: bool,
        params: list[inspect.Parameter] | None = None,
    ) -> None:
        self.body = body
        self.name = name
        self.retry = retry
        self.is_workflow = is_workflow
        if params is None:  # ``body``'s parameters, when the caller has not read them already
            params = list(inspect.signature(body).parameters.values())
        if is_workflow:
            params = params[1:]
        self.param_names: tuple[str, ...] = tuple(p.name for p in params)
        self._signature = inspect.Signature(params)
        #: How many positional arguments bind (at least, at most) when every parameter may be passed by
        #: position (no ``*args``, ``**kwargs`` or keyword-only ones): a call with only positional
        #: arguments is then checked by counting them, without ``Signature.bind`` (a call per child).
        self._positional: tuple[int, int] | None = None
        positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        if all(p.kind in positional for p in params):
            required = sum(1 for p in params if p.default is inspect.Parameter.empty)
            self._positional = (required, len(params))
        self.__doc__ = body.__doc__
        self.__name__ = getattr(body, "__name__", name)
        self.__qualname__ = getattr(body, "__qualname__", name)
        self.__module__ = getattr(body, "__module__", "")
        self.__wrapped__ = body

    @property
    def kind(self) -> str:
        return "workflow" if self.is_workflow else "leaf"

    def check_arguments(self, args: tuple[Any, ...], kwargs: dict[str, Any], *, where: str) -> None:
        """Raise one clear error when ``args``/``kwargs`` do not fit the function's parameters."""
        counts = self._positional
        if counts is not None and not kwargs and counts[0] <= len(args) <= counts[1]:
            return
        try:
            self._signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise UsageError(f"{where}: {self.name}{self._signature}: {exc}") from None

    def __call__(self, *args: Any, **kwargs: Any) -> Awaitable[R]:
        return self.body(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<durable {self.kind} {self.name}>"


def _is_context_annotation(annotation: object) -> bool:
    if isinstance(annotation, str):
        return annotation.rsplit(".", 1)[-1] == "Context"
    return getattr(annotation, "__name__", None) == "Context" and str(
        getattr(annotation, "__module__", "")
    ).startswith("pytest_durable")


def _takes_context(params: list[inspect.Parameter]) -> bool:
    if not params:
        return False
    first = params[0]
    if first.annotation is inspect.Parameter.empty:
        return first.name == "ctx"
    return _is_context_annotation(first.annotation)


def _make(
    body: Callable[..., Awaitable[Any]], name: str | None, retry: RetryPolicy | None
) -> DurableFunction[Any, Any]:
    where = f"@function on {getattr(body, '__qualname__', body)!r}"
    if not inspect.iscoroutinefunction(body):
        raise UsageError(f"{where}: a durable function must be an 'async def' function")
    if name is not None and (not isinstance(name, str) or not name or name.startswith("durable.")):
        raise UsageError(f"{where}: name must be a non-empty string not starting with 'durable.', got {name!r}")
    if retry is not None and not isinstance(retry, RETRY_POLICIES):
        raise UsageError(f"{where}: retry must be Exponential, Linear, Constant or Never, got {retry!r}")
    params = list(inspect.signature(body).parameters.values())  # read once: a module copy defines them anew
    is_workflow = _takes_context(params)
    if is_workflow and retry is not None:
        raise UsageError(
            f"{where}: retry applies to leaves only; a workflow is replayed from the store, not retried. "
            "Put the retry on the leaves it calls"
        )
    return DurableFunction(body, name=name or body.__name__, retry=retry, is_workflow=is_workflow, params=params)


@overload
def function(body: Callable[P, Awaitable[R]], /) -> DurableFunction[..., R]: ...


@overload
def function(
    *, name: str | None = None, retry: RetryPolicy | None = None
) -> Callable[[Callable[P, Awaitable[R]]], DurableFunction[..., R]]: ...


def function(
    body: Callable[..., Awaitable[Any]] | None = None,
    /,
    *,
    name: str | None = None,
    retry: RetryPolicy | None = None,
) -> Any:
    """Make an ``async def`` durable: bare as ``@function`` or as ``@function(name=..., retry=...)``.

    A function whose first parameter is a ``Context`` (annotated so, or unannotated and named ``ctx``)
    is a workflow; any other is a leaf.
    """
    if body is not None:
        return _make(body, name, retry)

    def decorate(inner: Callable[..., Awaitable[Any]]) -> DurableFunction[Any, Any]:
        return _make(inner, name, retry)

    return decorate


class Registry:
    """Durable functions by name; a worker runs only what its registry knows."""

    def __init__(self) -> None:
        self._functions: dict[str, DurableFunction[Any, Any]] = {}

    def register(self, fn: DurableFunction[Any, Any]) -> None:
        """Add ``fn``; registering the same function again is harmless, another under its name is not."""
        if not isinstance(fn, DurableFunction):
            raise RegistrationError(
                f"register: {fn!r} is not a durable function; decorate it with @pytest_durable.function"
            )
        existing = self._functions.get(fn.name)
        if existing is not None and existing is not fn:
            raise RegistrationError(
                f"register: the name {fn.name!r} is taken by {existing.__module__}.{existing.__qualname__}; "
                f"cannot also register {fn.__module__}.{fn.__qualname__}. Give one of them another name "
                "with @function(name=...)"
            )
        self._functions[fn.name] = fn

    def get(self, name: str) -> DurableFunction[Any, Any]:
        fn = self._functions.get(name)
        if fn is None:
            known = ", ".join(sorted(self._functions)) or "none"
            raise RegistrationError(
                f"no durable function named {name!r} is registered here (registered: {known}); "
                "call worker.register(fn) for it"
            )
        return fn

    def __contains__(self, name: object) -> bool:
        return name in self._functions

    def names(self) -> list[str]:
        return list(self._functions)
