"""Rejections by class (issue 23, item 4): how a body's error is recorded and what a reader of the record
raises, for every hard case: a class whose ``__init__`` takes other arguments, built-in fields, a class that
cannot be found or combined, old records, and the platform's own rejections, which stay as they were."""

from __future__ import annotations

import errno
import json

import pytest

from pytest_durable import AttemptTimedOut, Canceled, NonRetryable, Rejected, TimedOut
from pytest_durable.core.codec import decode_error, encode_error, read_error
from pytest_durable.core.records import PromiseRecord, PromiseState
from pytest_durable.core.rejections import rejected_as, rejection
from pytest_durable.sdk import result_of
from tests.helpers.saga_shapes import CardDeclined


def reread(error: BaseException, id: str = "x.1") -> Rejected:
    return rejection(id, read_error(encode_error(error)))


def settled(state: PromiseState, value: str | None) -> PromiseRecord:
    return PromiseRecord(id="x.1", state=state, param="{}", value=value, timeout_at=100.0, tags={},
                         created_on=0.0, settled_on=1.0)


class Unbuildable(Exception):
    """A class ``Rejected`` cannot be combined with: it refuses every subclass."""

    def __init_subclass__(cls) -> None:
        raise TypeError("no subclasses")


class Quiet(NonRetryable):
    pass


def test_a_rejection_is_caught_by_the_original_class_and_by_rejected_with_its_arguments_and_attributes() -> None:
    exc = reread(CardDeclined("51", 300))
    assert isinstance(exc, CardDeclined) and isinstance(exc, Rejected)
    # CardDeclined.__init__ takes (code, amount), not its args: it is not called; args and attributes are set
    assert exc.args == ("card declined (code 51) for 300",)
    assert (exc.code, exc.amount) == ("51", 300)
    assert (exc.id, exc.type_name, exc.message) == ("x.1", "CardDeclined", "card declined (code 51) for 300")
    assert str(exc) == "x.1 was rejected: CardDeclined: card declined (code 51) for 300"
    assert type(exc).__name__ == "Rejected"  # as before, for code and tracebacks that read the name
    assert type(exc) is type(reread(CardDeclined("05", 1)))  # one derived class per original class


def test_notes_survive_and_an_attribute_the_codec_cannot_encode_is_left_out() -> None:
    error = CardDeclined("51", 300)
    error.add_note("issuer said: do not honour")
    error.handle = object()  # type: ignore[attr-defined]
    exc = reread(error)
    assert exc.__notes__ == ["issuer said: do not honour"]
    assert not hasattr(exc, "handle")


def test_an_oserror_subclass_combines_and_keeps_its_built_in_fields() -> None:
    exc = reread(FileNotFoundError(errno.ENOENT, "No such file or directory", "/tmp/x"))
    assert isinstance(exc, FileNotFoundError) and isinstance(exc, OSError) and isinstance(exc, Rejected)
    assert (exc.errno, exc.strerror, exc.filename) == (errno.ENOENT, "No such file or directory", "/tmp/x")
    assert exc.args == (errno.ENOENT, "No such file or directory")


def test_a_builtin_is_caught_by_its_class_and_its_bases() -> None:
    exc = reread(KeyError("sku-9"))
    assert isinstance(exc, KeyError) and isinstance(exc, LookupError)
    assert exc.args == ("sku-9",)
    assert str(exc) == "x.1 was rejected: KeyError: 'sku-9'"  # KeyError's own __str__ does not take over


@pytest.mark.parametrize("error", [
    ExceptionGroup("two", [ValueError(1), KeyError(2)]),  # its constructor checks the args, not recorded here
    Unbuildable.__new__(Unbuildable, "refuses"),  # cannot be combined with Rejected
])
def test_a_class_that_cannot_be_rebuilt_is_a_plain_rejected_with_its_type_name(error: Exception) -> None:
    exc = reread(error)
    assert type(exc) is Rejected
    assert exc.type_name == type(error).__qualname__ and exc.message == str(error)


def test_a_class_that_is_not_importable_where_it_is_read_is_a_plain_rejected() -> None:
    text = json.dumps({"type": "Gone", "message": "m", "cls": "no_such_module_anywhere:Gone", "args": ["m"]})
    exc = rejection("x.1", read_error(text))
    assert type(exc) is Rejected and str(exc) == "x.1 was rejected: Gone: m"
    moved = json.dumps({"type": "CardDeclined", "message": "m", "cls": "tests.helpers.saga_shapes:Renamed"})
    assert type(rejection("x.1", read_error(moved))) is Rejected
    not_a_class = json.dumps({"type": "x", "message": "m", "cls": "tests.helpers.saga_shapes:GOOD_CARD"})
    assert type(rejection("x.1", read_error(not_a_class))) is Rejected


def test_a_class_defined_in_a_function_records_no_class() -> None:
    class Local(Exception):
        pass

    text = encode_error(Local("m"))
    assert "cls" not in json.loads(text)
    assert type(rejection("x.1", read_error(text))) is Rejected


def test_old_records_decode_as_before_and_new_records_read_by_the_old_decoder() -> None:
    old = '{"type":"CardDeclined","message":"card declined"}'  # written before classes were recorded
    exc = rejection("x.1", read_error(old))
    assert type(exc) is Rejected and (exc.type_name, exc.message) == ("CardDeclined", "card declined")
    new = encode_error(CardDeclined("51", 300))
    assert decode_error(new) == ("CardDeclined", "card declined (code 51) for 300")  # the old reader's view
    assert json.loads(new) == {"type": "CardDeclined", "message": "card declined (code 51) for 300",
                               "cls": "tests.helpers.saga_shapes:CardDeclined",
                               "args": ["card declined (code 51) for 300"], "attrs": {"code": "51", "amount": 300}}


def test_a_typed_rejection_passed_on_up_keeps_its_class_and_reads_as_rejected() -> None:
    inner = reread(CardDeclined("51", 300), id="book.1")
    text = encode_error(inner)  # a workflow that did not catch it is rejected with it
    assert decode_error(text) == ("Rejected", "book.1 was rejected: CardDeclined: card declined (code 51) for 300")
    outer = rejection("book", read_error(text))
    assert isinstance(outer, CardDeclined) and outer.code == "51"
    assert str(outer) == "book was rejected: Rejected: book.1 was rejected: CardDeclined: card declined (code 51) " \
        "for 300"


def test_the_platforms_own_rejections_stay_as_they_were() -> None:
    for error in (Rejected("a.1", "ValueError", "no"), TimedOut("a.1"), Canceled("a.1")):
        text = encode_error(error)
        assert "cls" not in json.loads(text)
        assert type(rejection("a", read_error(text))) is Rejected
    with pytest.raises(TimedOut) as timed_out:
        result_of(settled(PromiseState.REJECTED_TIMEDOUT, None))
    assert type(timed_out.value) is TimedOut
    with pytest.raises(Canceled) as canceled:
        result_of(settled(PromiseState.REJECTED_CANCELED, encode_error(CardDeclined("51", 1))))
    assert type(canceled.value) is Canceled  # a cancellation is not the body's error
    assert rejected_as(Rejected) is None and rejected_as(TimedOut) is None


def test_a_nonretryable_and_an_attempt_timeout_are_caught_by_class() -> None:
    assert isinstance(reread(Quiet("stop")), NonRetryable)
    exc = reread(AttemptTimedOut("attempt 1 of x.1 ran too long"))
    assert isinstance(exc, AttemptTimedOut) and isinstance(exc, TimeoutError)


def test_result_of_raises_the_typed_rejection() -> None:
    with pytest.raises(CardDeclined) as info:
        result_of(settled(PromiseState.REJECTED, encode_error(CardDeclined("51", 300))))
    assert isinstance(info.value, Rejected) and info.value.id == "x.1"


def test_args_and_attributes_quoting_a_default_repr_are_recorded_without_its_address() -> None:
    error = CardDeclined("51", 300)
    error.args = (f"no handler for {object()!r}",)
    error.seen = repr(object())  # type: ignore[attr-defined]
    text = encode_error(error)
    assert " at 0x" not in text
    assert reread(error).args == ("no handler for <object object>",)
