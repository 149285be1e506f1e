"""Rebuilding all four views: one after another, and in parallel processes (both cores at work).

    python -m bench.rebuild [--store sqlite|postgres|both] [--events N]

The store is filled with N events (bench.data, 10 per relationship); then
`flask --app wsgi projections rebuild` and `... rebuild --processes 2` are timed as an operator runs them.
"""

from __future__ import annotations

import argparse
import os
import subprocess  # nosec B404 - our own CLI, fixed arguments
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import emit, machine
from bench.data import Store, populate
from projections.service import Projections

ROOT = Path(__file__).resolve().parents[1]


def timed_rebuild(store: Store, processes: int) -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POSTGRES_", "DATABASE_URL"))}
    env.update(store.process_env())
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "projections", "rebuild", "--processes",  # nosec
                    str(processes)], cwd=ROOT, env=env, check=True, capture_output=True, timeout=3600)
    return round(time.perf_counter() - started, 1)


def measure(kind: str, events: int) -> dict[str, Any]:
    store = Store(kind)
    try:
        ledger = store.ledger()
        populate(ledger, events // 10, 10)
        Projections(ledger).catch_up()
        ledger.close()
        sequential = timed_rebuild(store, 1)
        parallel = timed_rebuild(store, 2)
        return {"events": events, "one_after_another_seconds": sequential, "two_processes_seconds": parallel,
                "ratio": round(parallel / sequential, 2), "target": "<= 0.6"}
    finally:
        store.drop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--events", type=int, default=100_000)
    args = parser.parse_args()
    kinds = ["sqlite", "postgres"] if args.store == "both" else [args.store]
    emit({"benchmark": "rebuild", "machine": machine(), **{k: measure(k, args.events) for k in kinds}})


if __name__ == "__main__":
    main()
