"""The suite's longest tests, and an order that starts them first on every xdist worker.

Under ``--dist worksteal`` each worker is first handed one contiguous slice of the collected items and
later steals from the tail of another's slice. A long test near the end of a slice starts last and
leaves the other core idle while it runs; started first on its worker, the short tests that follow
fill the end and both cores finish together. Which tests run long is measured (``--durations``), not
guessed; a test here that no longer exists fails ``tests/e2e/test_long_tests_first.py``.
"""

from __future__ import annotations

from collections.abc import Sequence

# Node-id prefixes (every parametrization of a test) and the seconds each took in one `pytest -n 2
# --dist worksteal --durations=60` of the whole suite on a loaded 2-core machine: only their order counts.
LONG: dict[str, float] = {
    "tests/sim/test_window_shape.py::test_the_sliding_window_passes_1000_worlds_of_every_fault": 289,
    "tests/plugin/test_plugin.py::test_check_determinism_covers_worlds_drawn_by_hypothesis": 124,
    "tests/sim/test_upgrade_worlds.py::test_the_patched_version_passes_a_thousand_worlds_of_every_fault": 57,
    "tests/sim/test_cancel_child.py::test_300_worlds_of_each_fault_pass": 122,
    "tests/plugin/test_upgrade_plugin.py::test_the_default_run_fails_a_reordering_deploy_and_passes_a_patched": 22,
    "tests/e2e/test_readme_snippets.py::test_the_deploying_session_runs_as_written_and_prints_what_the_readme": 23,
    "tests/live/test_rollout.py::test_a_rollout_with_a_patch_completes_every_root_and_says_when_the_patch": 21,
    "tests/live/test_schedules_live.py::test_a_schedule_starts_one_root_per_tick_through_kill_9_of_every_worker": 15,
    "tests/sim/test_window_shape.py::test_the_plugins_default_run_passes_the_window_and_fails_its_twin": 104,
    "tests/sim/test_verdicts.py::test_a_correct_workflow_passes_1000_worlds_with_every_fault": 101,
    "tests/sim/test_verdicts.py::test_faults_do_change_those_outcomes": 98,
    "tests/plugin/test_plugin.py::test_xdist_gives_the_same_seeds_and_verdicts": 83,
    "tests/plugin/test_aimed.py::test_the_default_run_finds_three_example_bugs_at_one_fault": 65,
    "tests/plugin/test_stateful.py::test_the_machine_finds_a_leaf_charging_without_an_idempotency_key": 62,
    "tests/sim/test_sim_sqlite_store.py::test_the_plugin_runs_worlds_over_the_store_it_is_told": 62,
    "tests/sim/test_sim_cli.py::test_the_issue_sweep_passes_with_every_fault_kind_injected": 61,
    "tests/plugin/test_stateful.py::test_the_machine_finds_the_checkout_bug": 47,
    "tests/plugin/test_progress.py::test_a_durable_test_shows_worlds_done_and_failing_and_leaves_the_line": 41,
    "tests/plugin/test_plugin.py::test_readme_quick_start_test_passes": 40,
    "tests/sim/test_fidelity.py::test_the_plugin_switch_catches_set_iteration_and_passes_sorted": 39,
    "tests/core/test_store_contract.py::test_postgres_store_contract": 38,
    "tests/live/test_store_differential.py::test_sqlite_store_answers_every_operation_as_the_memory_store": 37,
    "tests/plugin/test_pins.py::test_crash_search_prints_a_plan_pin_that_fails_the_test_every_time": 30,
    "tests/sim/test_sim_sqlite_store.py::test_the_cli_sweep_over_sqlite_passes_and_leaves_no_files": 33,
    "tests/plugin/test_check_determinism_leaves.py::test_sim_run_check_determinism_passes_leaves": 30,
    "tests/sim/test_settle_retry_worlds.py::test_an_approver_answers_the_waiting_workflow_in_300_worlds": 23,
    "tests/sim/test_aimed_sweep.py::test_a_bug_two_faults_show_is_missed_by_single_faults_and_found": 27,
    "tests/plugin/test_report_hygiene.py::test_the_durable_report_appears_once_under_xdist": 26,
    "tests/sim/test_replay_scope.py::test_leaving_out_the_replays_that_cannot_disagree_changes_no_verdict": 21,
    "tests/plugin/test_progress.py::test_where_the_line_is_not_pytests_own_nothing_is_drawn": 23,
    "tests/plugin/test_progress.py::test_on_a_non_terminal_nothing_is_drawn": 25,
    "tests/live/test_store_differential.py::test_postgres_store_answers_every_operation_as_the_memory_store": 24,
    "tests/sim/test_window_shape.py::test_approval_or_timeout_under_every_fault": 24,
    "tests/plugin/test_stateful.py::test_the_machine_passes_the_fixed_checkout": 24,
    "tests/sim/test_outcomes.py::test_a_timeout_fallback_passes_1000_seeds_of_every_fault": 24,
    "tests/sim/test_outcomes.py::test_a_compensating_saga_passes_1000_seeds_of_every_fault": 23,
    "tests/sim/test_verdicts.py::test_the_twin_that_makes_the_same_calls_passes": 23,
    "tests/plugin/test_actor_shapes_plugin.py::test_the_default_run_passes_the_shapes_and_finds_their": 22,
    "tests/plugin/test_progress.py::test_a_test_shorter_than_the_delay_shows_nothing": 22,
    "tests/sim/test_saga_shape.py::test_the_booking_saga_passes_1000_worlds_of_every_fault": 22,
    "tests/sim/test_sim_scale.py::test_ten_thousand_children_in_one_world": 22,
    "tests/plugin/test_plugin.py::test_check_determinism_runs_each_world_twice_and_catches_random": 20,
    "tests/live/test_worker_lifecycle.py::test_a_worker_restarted_under_its_id_finishes_a_1000_child_fan_out": 16,
}


def seconds(nodeid: str) -> float:
    """How long ``nodeid`` ran when measured, or 0 for a test not listed (a short one)."""
    return next((s for prefix, s in LONG.items() if nodeid.startswith(prefix)), 0.0)


def slices(total: int, workers: int) -> list[int]:
    """The sizes of the slices worksteal first hands ``workers`` workers out of ``total`` items (each
    takes an equal share of what is left, in turn)."""
    sizes = []
    for k in range(workers):
        sizes.append((total - sum(sizes)) // (workers - k))
    return sizes


def longest_first(nodeids: Sequence[str], workers: int) -> list[int]:
    """A permutation of ``range(len(nodeids))``: the long tests, longest first, spread over the workers'
    slices so each slice holds about the same long seconds and starts with them; the other tests keep
    their order and fill the slices after them."""
    sizes = slices(len(nodeids), max(1, workers))
    long = sorted((i for i, n in enumerate(nodeids) if seconds(n) > 0), key=lambda i: -seconds(nodeids[i]))
    heads: list[list[int]] = [[] for _ in sizes]
    load = [0.0 for _ in sizes]
    for i in long:  # the longest to the slice with the fewest long seconds that still has room
        open_slices = [s for s in range(len(sizes)) if len(heads[s]) < sizes[s]]
        s = min(open_slices, key=lambda s: (load[s], s))
        heads[s].append(i)
        load[s] += seconds(nodeids[i])
    placed = set(long)
    rest = iter(i for i in range(len(nodeids)) if i not in placed)
    order: list[int] = []
    for head, size in zip(heads, sizes, strict=True):
        order += head
        order += [next(rest) for _ in range(size - len(head))]
    return order
