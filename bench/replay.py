"""Loading one relationship with 10, 1,000 and 10,000 events, with and without snapshots.

Loads are cold (the ledger's in-memory cache of relationships is switched off),
so each one reads the store; a warm load from the cache is reported beside them.

    python -m bench.replay [--store sqlite|postgres] [--full]
"""

from __future__ import annotations

import argparse
import statistics
import time

from bench.common import emit, machine
from bench.data import Store, populate


def load_times(ledger, rid, runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        ledger.repository.get(rid)
        samples.append((time.perf_counter() - started) * 1000)
    return samples


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
            ledger.repository.get(rid)
            samples = load_times(ledger, rid, runs)
            results[f"warm_from_cache_{size}_events_ms"] = {"median": round(statistics.median(samples), 2),
                                                            "runs": runs}
        ledger.close()
    finally:
        store.drop()
    smallest, largest = min(sizes), max(sizes)
    results["ratio_largest_to_smallest_with_snapshots"] = round(
        results[f"with_snapshots_{largest}_events_ms"]["median"]
        / results[f"with_snapshots_{smallest}_events_ms"]["median"], 2)
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
