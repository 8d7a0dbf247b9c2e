"""The plugin on the seed workflow: every crash, drop and failing leaf still gives the same results,
and each item is processed exactly once from the caller's point of view.

    pytest examples/test_fan_out_fan_in_durable.py
"""

from __future__ import annotations

import pytest
from fan_out_fan_in import WorkResult, fan_out_fan_in, fan_out_fan_in_n, make_items

from pytest_durable.testing import assert_settled, assert_tree


@pytest.mark.durable(seeds=100, faults="crash,drop,duplicate,reject")
def test_three_items_survive_faults(durable_sim) -> None:  # type: ignore[no-untyped-def]
    items = make_items(3)
    run = durable_sim.run(fan_out_fan_in, items, id="job")
    assert run.value == [WorkResult(i.id, f"Processed: {i.data} (item #{i.id})") for i in items]
    assert_settled(run, "job")
    assert_tree(run, """
        fan_out_fan_in resolved
          process_item resolved
          process_item resolved
          process_item resolved
    """)


@pytest.mark.durable(seeds=30, faults="crash,drop,server_restart")
@pytest.mark.parametrize("n", [1, 10])
def test_variable_n_keeps_input_order(durable_sim, n: int) -> None:  # type: ignore[no-untyped-def]
    run = durable_sim.run(fan_out_fan_in_n, make_items(n), id="batch")
    assert [r.id for r in run.value] == list(range(n))
