"""The benchmarks run against the code as it is (they reach into the ledger and the views, which refactors
move): each in-process measurement, at a tiny size, on SQLite. The figures themselves are not asserted."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import bench


@pytest.mark.parametrize("name", sorted(info.name for info in pkgutil.iter_modules(bench.__path__)))
def test_every_benchmark_module_imports(name):
    if name == "recorders":  # compared with the library's psycopg 3 module: needs the bench extra
        pytest.importorskip("psycopg")
    importlib.import_module(f"bench.{name}")


def test_replay_measures_loads_and_warm_reads_at_a_tiny_size():
    from bench.replay import measure

    results = measure("sqlite", [10, 30], 2)
    assert results["ratio_largest_to_smallest_warm_read"] > 0
    assert {"warm_read_10_events_ms", "warm_copy_for_a_command_30_events_ms"} <= set(results)


def test_rebuild_times_view_by_view_one_process_and_two_with_a_verdict():
    from bench.rebuild import measure

    result = measure("sqlite", 200)
    assert set(result["view_by_view_seconds"]) == {"audit_trail", "relationship_health", "relationship_index",
                                                   "skills_growth"}
    assert result["verdict"] in ("met", "missed")
    assert result["two_processes_share_of_view_by_view"] > 0


def test_a_run_whose_connections_all_went_to_one_worker_shows_as_such():
    """``busier_share``: the busier worker's share of the workers' CPU over a run (0.5 even, 1.0 all on one),
    workers started meanwhile counted from nothing, a run with no CPU at all 0."""
    from bench.targets import busier_share

    assert busier_share({1: 100, 2: 100}, {1: 150, 2: 150}) == 0.5
    assert busier_share({1: 100, 2: 100}, {1: 500, 2: 104}) == 0.99
    assert busier_share({1: 100}, {1: 100, 2: 40}) == 1.0
    assert busier_share({1: 5, 2: 5}, {1: 5, 2: 5}) == 0.0
