"""sim/kernel/scheduler.py swaps trio's batch shuffler for one that draws from Decisions. These tests pin the
hook against the installed trio, so an upgrade that moves it fails here, loudly."""

from __future__ import annotations

import inspect
import random

import pytest
import trio
import trio._core._run as trio_run
import trio.testing

from sim.kernel.decisions import SeededDecisions
from sim.kernel.scheduler import DecisionsRandom, deterministic_scheduling, hook_is_present


def test_the_installed_trio_still_has_the_hook() -> None:
    assert hook_is_present()
    run_loop = inspect.getsource(trio_run)
    # The run loop must still consult the flag and shuffle each batch through the module-level _r.
    assert "if _ALLOW_DETERMINISTIC_SCHEDULING:" in run_loop
    assert "batch.sort(key=lambda t: t._counter)" in run_loop
    assert "_r.shuffle(batch)" in run_loop


def test_the_hook_is_swapped_in_and_restored_even_on_error() -> None:
    before_r, before_flag = trio_run._r, trio_run._ALLOW_DETERMINISTIC_SCHEDULING
    with pytest.raises(ZeroDivisionError), deterministic_scheduling(SeededDecisions(1)):
        assert isinstance(trio_run._r, DecisionsRandom)
        assert trio_run._ALLOW_DETERMINISTIC_SCHEDULING is True
        1 / 0  # noqa: B018
    assert trio_run._r is before_r
    assert before_flag == trio_run._ALLOW_DETERMINISTIC_SCHEDULING


def _interleaving(seed: int) -> list[int]:
    order: list[int] = []

    async def worker(i: int) -> None:
        for _ in range(3):
            order.append(i)
            await trio.lowlevel.checkpoint()

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            for i in range(5):
                nursery.start_soon(worker, i)

    with deterministic_scheduling(SeededDecisions(seed)):
        trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    return order


def test_the_schedule_is_a_function_of_the_seed() -> None:
    assert _interleaving(7) == _interleaving(7)
    assert len({tuple(_interleaving(seed)) for seed in range(10)}) > 1


def test_all_zero_draws_run_each_batch_oldest_first() -> None:
    class Zeros(SeededDecisions):
        def choose(self, kind: str, n: int) -> int:
            return 0

    shuffler = DecisionsRandom(Zeros(0))
    batch = ["oldest", "middle", "newest"]
    shuffler.shuffle(batch)
    assert batch[::-1] == ["oldest", "middle", "newest"]  # trio pops from the end


def test_a_shuffle_is_a_permutation_with_one_draw_per_choice() -> None:
    decisions = SeededDecisions(3)
    items = list(range(50))
    DecisionsRandom(decisions).shuffle(items)
    assert sorted(items) == list(range(50))
    assert len(decisions.log) == 49 and all(kind == "schedule" for kind, _ in decisions.log)
    assert items != list(range(50))[::-1]


def test_global_random_is_untouched_by_a_world() -> None:
    random.seed(1234)
    expected = random.random()
    random.seed(1234)
    _interleaving(5)
    assert random.random() == expected
