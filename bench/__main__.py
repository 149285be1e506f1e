"""Every benchmark, one after the other: `python -m bench` (small, about two minutes) or `python -m bench --full`.

Prints one JSON document with each benchmark's figures; needs a PostgreSQL
(the tests' TEST_DATABASE_URL, or bench/data.py's default), wrk and pgbench,
and the `bench` extra.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

BENCHMARKS = ["bench.recorders", "bench.commands", "bench.replay", "bench.views", "bench.lag", "bench.targets",
              "bench.rebuild"]


def half_the_maximum(commands: dict) -> float:
    """Half the best HTTP command rate on PostgreSQL, over 1, 8 and 32 connections."""
    postgres = commands["postgres"]
    best = max(postgres[f"http_{n}_connections"]["requests_per_second"] for n in (1, 8, 32))
    return round(best / 2, 1)


def main() -> None:
    full = "--full" in sys.argv[1:]
    results, started = {}, time.perf_counter()
    for module in BENCHMARKS:
        begun = time.perf_counter()
        extra = ["--full"] if full else []
        if module == "bench.targets" and not full:
            extra += ["--requests", "20000"]
        if module == "bench.rebuild":  # the target's size with --full (about half an hour per store)
            extra = ["--events", "1000000" if full else "100000"]
        if module == "bench.lag":
            # The lag is measured at half the maximum command throughput this same run measured.
            extra += ["--rate", str(half_the_maximum(results["commands"]))]
        out = subprocess.run([sys.executable, "-m", module, *extra],
                             stdout=subprocess.PIPE, text=True, check=True).stdout  # stderr shows as it comes
        results[module.split(".")[1]] = json.loads(out)
        print(f"{module}: {time.perf_counter() - begun:.0f}s", file=sys.stderr)
    results["total_seconds"] = round(time.perf_counter() - started, 1)
    print(json.dumps(results, indent=2))
    for store, measured in results["targets"].items():  # the speed targets, one line each, last
        if isinstance(measured, dict) and "targets" in measured:
            for target, verdict in measured["targets"].items():
                print(f"{store:9} {target:32} {verdict['value']:>8} {verdict['verdict']}", file=sys.stderr)
    for store, measured in results["rebuild"].items():
        if isinstance(measured, dict) and "verdict" in measured:
            print(f"{store:9} {'rebuild <= 60 % of view by view':32} "
                  f"{measured['two_processes_share_of_view_by_view']:>8} {measured['verdict']}", file=sys.stderr)


if __name__ == "__main__":
    main()
