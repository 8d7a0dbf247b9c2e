"""``sim.checks.ctx_only``: a workflow is certified to read nothing outside ``ctx`` only when its bytecode
shows it, and every way of reading outside is refused, each with a reason that names it."""

from __future__ import annotations

import pytest

from pytest_durable.core.codec import encode_call
from pytest_durable.core.records import PromiseRecord, PromiseState
from sim.checks.ctx_only import Certifier
from tests.helpers import ctx_reads_workflows as w

MODULE = w.__name__


def test_a_workflow_of_locals_ctx_pure_helpers_literals_and_stateless_classes_is_certified() -> None:
    assert Certifier([MODULE]).workflow(w.pure) == ""


@pytest.mark.parametrize(("workflow", "why"), [
    (w.reads_a_list, "reads global SEEN (list)"),
    (w.through_a_helper, "leaky_helper: reads global SEEN"),
    (w.reads_a_rebound_global, "reads global MODE, which code of an isolated module may rebind"),
    (w.calls_a_leaf_body, "calls durable function step directly"),
    (w.watches_progress, "uses attribute done"),
    (w.iterates_a_set, "BUILD_SET"),
    (w.imports, "IMPORT_NAME time"),
    (w.reads_a_module, "reads global random (module)"),
    (w.uses_a_noisy_class, "Noisy.jitter: reads global random (module)"),
    (w.counts_on_a_class, "holds hits (list), state of its own"),
    (w.calls_a_local, "PUSH_NULL"),
    (w.reads_id, "reads builtin id"),
    (w.formats_a_future, "FORMAT_VALUE"),
    (w.formats_with_percent, "BINARY_OP %"),
])
def test_each_read_outside_ctx_is_refused_and_named(workflow: object, why: str) -> None:
    reason = Certifier([MODULE]).workflow(workflow)  # type: ignore[arg-type]
    assert why in reason, reason


def test_a_workflow_of_a_module_that_is_not_isolated_is_never_certified() -> None:
    assert "is not isolated" in Certifier([]).workflow(w.pure)


def test_the_classes_of_recorded_values_must_pass_too() -> None:
    check = Certifier([MODULE])

    def record(value: object) -> PromiseRecord:
        return PromiseRecord(id="p", state=PromiseState.RESOLVED, param=encode_call("step", (value,), {}),
                             value=None, timeout_at=1.0)

    assert check.values([record(w.Part(1))]) == ""
    assert "Noisy.jitter: reads global random" in check.values([record(w.Noisy(1))])
