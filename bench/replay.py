"""Loading one relationship with 10, 1,000 and 10,000 events, with and without snapshots.

Loads are cold (each one reads the store: the snapshot, then the events after
it); beside them, the warm cases of a relationship the ledger holds in memory: a
read (which asks the store for newer events) and the private copy a command makes.

    python -m bench.replay [--store sqlite|postgres] [--full]
"""

from __future__ import annotations

import argparse
import statistics
import time
from copy import deepcopy

from bench.common import emit, machine
from bench.data import Store, populate
from domain.principal import Principal

COORDINATOR = Principal("ada", "coordinator")


def timed(call, runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def load_times(ledger, rid, runs: int) -> list[float]:
    """Cold loads: the library's repository reads the snapshot and the events after it."""
    return timed(lambda: ledger.repository.get(rid), runs)


def measure(kind: str, sizes: list[int], runs: int) -> dict:
    results = {}
    for snapshots in (True, False):
        store = Store(kind)
        try:
            ledger = store.ledger(SNAPSHOT_INTERVAL="100" if snapshots else "0", AGGREGATE_CACHE_MAXSIZE="")
            for size in sizes:
                (rid,) = populate(ledger, 1, size, seed=size)
                samples = load_times(ledger, rid, runs)
                results[f"{'with' if snapshots else 'without'}_snapshots_{size}_events_ms"] = {
                    "median": round(statistics.median(samples), 2), "min": round(min(samples), 2),
                    "max": round(max(samples), 2), "runs": runs}
            ledger.close()
        finally:
            store.drop()
    store = Store(kind)
    try:
        ledger = store.ledger()
        for size in (min(sizes), max(sizes)):
            (rid,) = populate(ledger, 1, size, seed=size)
            ledger.get_relationship(COORDINATOR, rid)  # now held in memory
            # A read: the held relationship, after asking the store for newer events.
            samples = timed(lambda: ledger.runner.current(rid, fresh=True), runs)  # noqa: B023
            results[f"warm_read_{size}_events_ms"] = {"median": round(statistics.median(samples), 3), "runs": runs}
            # A command: its own copy of the held relationship, without reading the store.
            samples = timed(lambda: deepcopy(ledger.runner.current(rid, fresh=False)), runs)  # noqa: B023
            results[f"warm_copy_for_a_command_{size}_events_ms"] = {
                "median": round(statistics.median(samples), 3), "runs": runs}
        ledger.close()
    finally:
        store.drop()
    smallest, largest = min(sizes), max(sizes)
    results["ratio_largest_to_smallest_with_snapshots"] = round(
        results[f"with_snapshots_{largest}_events_ms"]["median"]
        / results[f"with_snapshots_{smallest}_events_ms"]["median"], 2)
    results["ratio_largest_to_smallest_warm_read"] = round(
        results[f"warm_read_{largest}_events_ms"]["median"] / results[f"warm_read_{smallest}_events_ms"]["median"], 2)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--full", action="store_true")
    args = parser.parse_args()
    sizes, runs = ([10, 1000, 10000], 20) if args.full else ([10, 1000, 3000], 7)
    kinds = ["sqlite", "postgres"] if args.store == "both" else [args.store]
    emit({"benchmark": "replay", "machine": machine(), **{kind: measure(kind, sizes, runs) for kind in kinds}})


if __name__ == "__main__":
    main()
