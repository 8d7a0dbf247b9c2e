"""Randomness in a world (``sim.kernel.entropy``): a leaf's ``random``, ``uuid4``, ``os.urandom`` and
``secrets`` are drawn from the world's decisions, so the same seed gives the same trace and the
determinism check passes; a body that draws them is still reported; nothing leaks outside a world."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pytest

from sim import RecordedDecisions, SeededDecisions, run_world
from sim.kernel import entropy
from tests.helpers.leaf_randomness import body_scenario, leaves_scenario, salt_scenario

ROOT = Path(__file__).resolve().parents[2]
FAULTS = "crash,drop,duplicate,delay,reject,store_error"

SCRIPT = """
import sys
sys.path.insert(0, sys.argv[1])
from sim import run_world
from tests.helpers.leaf_randomness import leaves_scenario
for seed in (3, 11):
    r = run_world(leaves_scenario(), seed=seed, faults=sys.argv[2])
    print(seed, r.trace_hash, r.root.value)
"""


def _in_subprocess(hash_seed: str) -> list[str]:
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    out = subprocess.run([sys.executable, "-c", SCRIPT, str(ROOT), FAULTS], capture_output=True, text=True,
                         env=env, check=True, cwd=ROOT)
    return out.stdout.splitlines()


def test_leaves_drawing_randomness_give_the_same_trace_for_the_same_seed_in_two_interpreters() -> None:
    first, second = _in_subprocess("0"), _in_subprocess("4242")
    assert len(first) == 2 and first == second
    here = run_world(leaves_scenario(), seed=3, faults=FAULTS)
    assert here.ok, here.violations
    assert first[0] == f"3 {here.trace_hash} {here.root.value}"  # type: ignore[union-attr]
    again = run_world(leaves_scenario(), seed=3, faults=FAULTS)
    assert again.trace_hash == here.trace_hash


def test_different_seeds_give_different_values_and_the_draw_is_one_decision() -> None:
    values = {run_world(leaves_scenario(), seed=s, faults="none").root.value for s in range(6)}  # type: ignore[union-attr]
    assert len(values) == 6
    result = run_world(leaves_scenario(), seed=0, faults="none")
    assert [kind for kind, _ in result.decisions].count(entropy.KIND) == 1
    replayed = run_world(leaves_scenario(), decisions=RecordedDecisions(list(result.decisions)), faults="none")
    assert replayed.trace_hash == result.trace_hash and replayed.ok


def test_every_source_is_drawn_from_the_world() -> None:
    """uuid4, random's functions, os.urandom, secrets, an unseeded Random() and a library's pre-bound
    ``getrandbits``: each gives the same value in two runs of a seed, and another in another seed."""
    def drawn(seed: int) -> str:
        result = run_world(leaves_scenario(1), seed=seed, faults="none")
        assert result.ok, result.violations
        return result.root.value  # type: ignore[union-attr, return-value]

    one, other = drawn(5), drawn(6)
    assert drawn(5) == one
    for field in ("uuid", "number", "raw", "token", "instance", "library"):
        assert f'"{field}":' in one
        assert one.split(f'"{field}":')[1].split(",")[0] != other.split(f'"{field}":')[1].split(",")[0], field
    library = [text.split('"library":"')[1].split(" ")[0] for text in (one, other)]  # choice() bound early
    assert library[0].startswith("msg-") and library[0] != library[1]


def test_a_world_that_draws_no_randomness_draws_no_entropy() -> None:
    from tests.helpers.sim_scenarios import fan_out_scenario

    result = run_world(fan_out_scenario(3), seed=4, faults=FAULTS)
    assert entropy.KIND not in {kind for kind, _ in result.decisions}


def test_a_body_that_draws_randomness_is_still_reported_as_nondeterministic() -> None:
    for seed in range(3):
        result = run_world(body_scenario(), seed=seed, faults="none")
        assert [v.check for v in result.violations][:1] == ["nondeterminism"]
        text = str(result.violations[0])
        assert "replaying ids body_draws(2)" in text and "calls child ids.0 as notify(" in text


def test_a_module_copy_that_drew_at_import_is_never_reused_in_another_world() -> None:
    first = run_world(salt_scenario(), seed=1, faults="none")
    second = run_world(salt_scenario(), seed=2, faults="none")
    again = run_world(salt_scenario(), seed=1, faults="none")
    assert first.ok and second.ok and again.ok
    assert first.root.value == again.root.value != second.root.value  # type: ignore[union-attr]
    assert again.trace_hash == first.trace_hash


def test_nothing_leaks_outside_a_world() -> None:
    real = (os.urandom, random.random, random.seed, random.Random.seed, random._urandom)  # type: ignore[attr-defined]
    random.seed(1234)
    expected = [random.random() for _ in range(3)]
    random.seed(1234)
    run_world(leaves_scenario(), seed=2, faults="crash")
    assert [random.random() for _ in range(3)] == expected
    assert (os.urandom, random.random, random.seed, random.Random.seed, random._urandom) == real  # type: ignore[attr-defined]
    assert uuid.uuid4() != uuid.uuid4()


def test_a_ctrl_c_inside_the_window_puts_everything_back() -> None:
    real, state = os.urandom, random.getstate()
    with pytest.raises(KeyboardInterrupt), entropy.seeded(SeededDecisions(0)):
        assert os.urandom is not real
        os.urandom(8)
        raise KeyboardInterrupt
    assert os.urandom is real and random.getstate() == state


def test_another_thread_gets_the_real_functions_while_a_world_runs() -> None:
    seen: list[bytes] = []
    decisions = SeededDecisions(0)
    with entropy.seeded(decisions):
        thread = threading.Thread(target=lambda: seen.extend(os.urandom(8) for _ in range(2)))
        thread.start()
        thread.join()
    assert len(seen) == 2 and seen[0] != seen[1]
    assert decisions.log == []  # the other thread drew nothing from the world
