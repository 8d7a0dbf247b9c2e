"""The replay engine: runs one body, workflow or leaf, to the settlement of its promise.

A workflow body runs from the top with a fresh ``Frame`` and ``Context`` and is joined with every local
child it spawned; a leaf body is retried by its policy, its failed attempts recorded (``attempts``).
A ``BaseException`` from a body that is not the platform's own becomes a ``UserBaseException``; so does
a ``KeyboardInterrupt`` the body raised itself (a Ctrl-C, raised by trio's signal handling, goes on).
"""

from __future__ import annotations

from typing import Any, NoReturn

import attrs
import trio

from ..core.codec import encode, encode_error
from ..core.errors import AttemptTimedOut, EncodingError, Interrupted, PlatformError, SignalSwallowed, UserBaseException
from ..core.records import PromiseRecord, PromiseState
from .attempts import AttemptInterrupted, record_attempt, recorded_attempts, settle_interrupted
from .context import Context
from .dependencies import entering, leaving
from .execution import Execution
from .frame import Frame
from .function import DurableFunction
from .options import Options
from .retry import DEFAULT_RETRY, RetryPolicy, attempt_timeout, is_final, retry_delay
from .running import current_frame, current_promise, current_root
from .settlement import Settlement, Suspended

#: Exceptions that pass every layer of the SDK untouched: interrupts are the user's.
INTERRUPTS = (KeyboardInterrupt, Interrupted)


async def run_workflow(
    ex: Execution, fn: DurableFunction[..., Any], record: PromiseRecord, args: tuple[Any, ...],
    kwargs: dict[str, Any], depth: int | None = None,
) -> Settlement:
    """Run a workflow body from the top; join every local child it spawned before returning.

    Raises ``Suspended`` (after the join) when the body or a child awaited a pending remote promise.
    ``depth`` is how many local workflows it runs inside (by default: counted from the calling one).
    """
    if ex.drain is not None:  # a stopping worker starts no body
        await ex.drain.before_body(in_leaf=False)
    suspended = False
    settlement: Settlement
    if depth is None:
        parent = current_frame.get()  # the workflow whose ctx.run started this one, in this task
        depth = 0 if parent is None else parent.depth + 1
    async with trio.open_nursery() as nursery:
        frame = Frame(ex, record.id, record.timeout_at, nursery, depth, run_child)
        token = current_frame.set(frame)
        promise_token = current_promise.set(record.id)
        root_token = current_root.set(ex.origin)
        deps_token = entering(fn.name, ex.dependencies)
        try:
            if ex.on_body is not None:
                ex.on_body(record.id, fn)
            value = await fn.body(Context(frame), *args, **kwargs)
        except Suspended:
            suspended = True
        except Exception as exc:
            _let_through(frame)
            settlement = (PromiseState.REJECTED, encode_error(exc))
        except BaseException as exc:
            converted = user_base_exception(record.id, exc)
            if converted is None:
                raise
            raise converted from exc
        else:
            _let_through(frame)
            settlement = _resolve(fn, value)
            frame.warn_unstarted(fn.name)
        finally:
            leaving(deps_token)
            current_root.reset(root_token)
            current_promise.reset(promise_token)
            current_frame.reset(token)
    if suspended:
        raise Suspended()
    frame.check_all_asked()
    if ex.on_end is not None:
        ex.on_end(frame.end(settlement))
    return settlement


def _let_through(frame: Frame) -> None:
    """A body that ended by returning or raising an ``Exception`` after a platform signal passed one of
    its awaits caught that signal: a ``SignalSwallowed`` naming its promise (a platform error, raised
    in place of its end)."""
    signal = frame.swallowed()
    if signal:
        raise SignalSwallowed(frame.id, signal)


async def run_leaf(
    ex: Execution, fn: DurableFunction[..., Any], record: PromiseRecord, args: tuple[Any, ...],
    kwargs: dict[str, Any], retry: RetryPolicy | None,
) -> Settlement:
    """Run a leaf body, retrying by its policy while its deadline allows.

    Every failed attempt that is retried is recorded durably (``attempts.record_attempt``), so a re-run
    after a crash counts the attempts already made and waits out the policy's delay after the last one:
    ``max_retries`` bounds the attempts across crashes, ``max_duration`` the time since the leaf's promise
    was made (store time, so also across crashes), and ``attempt_timeout`` each attempt. A first attempt
    that succeeds writes nothing extra; an error that ``is_final`` rejects the leaf at once.
    """
    policy = retry or fn.retry or DEFAULT_RETRY
    token = current_frame.set(None)
    promise_token = current_promise.set(record.id)
    root_token = current_root.set(ex.origin)
    deps_token = entering(fn.name, ex.dependencies)
    try:
        attempts = recorded_attempts(ex, record.id)
        failures = len(attempts)
        limit = attempt_timeout(policy)
        if attempts:  # a re-run: carry on after the attempts an earlier run made
            last = attempts[-1]
            if not last.settled:
                last = await settle_interrupted(ex, record.id, last, failures)
            delay = retry_delay(policy, failures, record.created_on, last.created_on)
            if delay is None:
                return (PromiseState.REJECTED, last.value or encode_error(AttemptInterrupted("no attempt left")))
            if last.created_on + delay >= record.timeout_at:
                await _until_deadline()
            await trio.sleep_until(ex.trio_deadline(last.created_on + delay))
        while True:
            if ex.drain is not None:  # a stopping worker starts no attempt
                await ex.drain.before_body(in_leaf=True)
            try:
                if ex.on_body is not None:
                    ex.on_body(record.id, fn)  # may raise to inject a failed attempt
                if limit is None:
                    value = await fn.body(*args, **kwargs)
                else:
                    value = await _attempt(fn, record.id, failures + 1, limit, args, kwargs)
            except Exception as exc:
                failures += 1
                delay = None if is_final(policy, exc) else retry_delay(
                    policy, failures, record.created_on, ex.clock.now())
                if delay is None:
                    return (PromiseState.REJECTED, encode_error(exc))
                attempt = await record_attempt(ex, record, failures - 1, exc)
                if attempt.created_on + delay >= record.timeout_at:
                    await _until_deadline()
                await trio.sleep_until(ex.trio_deadline(attempt.created_on + delay))
            else:
                return _resolve(fn, value)
    finally:
        leaving(deps_token)
        current_root.reset(root_token)
        current_promise.reset(promise_token)
        current_frame.reset(token)


async def _attempt(
    fn: DurableFunction[..., Any], id: str, n: int, limit: float, args: tuple[Any, ...], kwargs: dict[str, Any],
) -> Any:
    """Attempt ``n`` of leaf ``id``, cancelled after ``limit`` seconds (the policy's ``attempt_timeout``):
    then an ``AttemptTimedOut``, a failed attempt the policy retries."""
    with trio.move_on_after(limit):
        return await fn.body(*args, **kwargs)
    raise AttemptTimedOut(
        f"attempt {n} of {id} ({fn.name}) ran longer than its attempt_timeout of {limit:g} s and was cancelled"
    )


async def _until_deadline() -> NoReturn:
    """The leaf's deadline comes before its next retry: wait for it, so the leaf times out (its parent
    sees ``TimedOut``, not the last attempt's error, which its attempt record keeps). Every caller of
    ``run_leaf`` runs it under the leaf's deadline (``move_on_at``), which ends this wait."""
    await trio.sleep_forever()
    raise AssertionError("unreachable: sleep_forever returned")


def user_base_exception(id: str, exc: BaseException) -> UserBaseException | None:
    """What a ``BaseException`` raised by the body of ``id`` becomes: None for the platform's own
    signals (suspension, cancellation, platform errors) and interrupts, which go on as they are; for
    anything else the user's code raised (``SystemExit``, ``GeneratorExit``, a class of its own, a
    group of those) a ``UserBaseException`` naming the promise, fatal for the task, not the worker."""
    if isinstance(exc, BaseExceptionGroup):
        if exc.subgroup(_passes) is not None:
            return None
    elif _passes(exc):
        return None
    return UserBaseException(id, exc)


def _passes(exc: BaseException) -> bool:
    """Whether ``exc`` goes on as it is: a platform signal, or an interrupt of the user's."""
    if isinstance(exc, KeyboardInterrupt):
        return from_signal(exc)
    return isinstance(exc, (Interrupted, PlatformError, Suspended, trio.Cancelled))


def from_signal(exc: KeyboardInterrupt) -> bool:
    """Whether a ``KeyboardInterrupt`` is the user's Ctrl-C, not one a body raised itself. Inside
    ``trio.run`` a SIGINT is raised by trio's own handler, or delivered to the main task by trio, so
    the innermost frame of its traceback is trio's; a body's ``raise KeyboardInterrupt`` ends in the
    body's own frame (it is then the body's failure, like ``SystemExit``, not a reason to stop)."""
    tb = exc.__traceback__
    if tb is None:
        return True
    while tb.tb_next is not None:
        tb = tb.tb_next
    module = tb.tb_frame.f_globals.get("__name__", "")
    return isinstance(module, str) and (module == "trio" or module.startswith("trio."))


def _resolve(fn: DurableFunction[..., Any], value: object) -> Settlement:
    try:
        return (PromiseState.RESOLVED, encode(value, what=f"the value returned by {fn.name}"))
    except EncodingError as exc:
        return (PromiseState.REJECTED, encode_error(exc))


async def run_child(
    ex: Execution, fn: DurableFunction[..., Any], record: PromiseRecord, args: tuple[Any, ...],
    kwargs: dict[str, Any], options: Options,
) -> PromiseRecord:
    """A local child: replay it if settled, else run its body (bounded by its deadline) and settle."""
    if record.settled:
        return record
    if ex.drain is None or fn.is_workflow:
        return await _run_and_settle(ex, fn, record, args, kwargs, options)
    with ex.drain.leaf():  # a stopping worker waits for a running leaf until its result is recorded
        return await _run_and_settle(ex, fn, record, args, kwargs, options)


async def _run_and_settle(
    ex: Execution, fn: DurableFunction[..., Any], record: PromiseRecord, args: tuple[Any, ...],
    kwargs: dict[str, Any], options: Options,
) -> PromiseRecord:
    with trio.move_on_at(ex.trio_deadline(record.timeout_at)) as scope:
        if fn.is_workflow:
            state, value = await run_workflow(ex, fn, record, args, kwargs)
        else:
            try:
                state, value = await run_leaf(ex, fn, record, args, kwargs, options.retry)
            except BaseException as exc:
                converted = user_base_exception(record.id, exc)
                if converted is None:
                    raise
                raise converted from exc
    if scope.cancelled_caught:
        record = await ex.refresh(record.id)
        if not record.settled:  # the store's clock lags trio's: report the deadline all the same
            return attrs.evolve(record, state=PromiseState.REJECTED_TIMEDOUT)
        return record
    record = await ex.store.settle_promise(record.id, state, value, fence=ex.fence)
    ex.branch[record.id] = record
    return record
