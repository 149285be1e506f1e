"""Rebuilding all four views: view by view, in one process, and in parallel processes (both cores at work).

    python -m bench.rebuild [--store sqlite|postgres|both] [--events N]

The store is filled with N events (bench.data, 10 per relationship); then, timed as an operator runs them:

- view by view: `flask --app wsgi projections rebuild NAME` for each view in turn, each reading the whole
  store (how every rebuild ran up to release 0.3.3: the time the target is measured against);
- `flask --app wsgi projections rebuild`: the four views in one process, from one reading of the store;
- `... rebuild --processes 2`: two processes, each its share of the views from one reading of its own.

The target (issue "Speed, round 2"): the rebuild of all four views in <= 60 % of the view-by-view time.
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
from projections.service import VIEW_CLASSES, Projections

ROOT = Path(__file__).resolve().parents[1]


def timed_rebuild(store: Store, processes: int, names: tuple[str, ...] = ()) -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POSTGRES_", "DATABASE_URL"))}
    env.update(store.process_env())
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "projections", "rebuild", *names,  # nosec
                    "--processes", str(processes)], cwd=ROOT, env=env, check=True, capture_output=True, timeout=3600)
    return round(time.perf_counter() - started, 1)


def measure(kind: str, events: int) -> dict[str, Any]:
    store = Store(kind)
    try:
        ledger = store.ledger()
        populate(ledger, events // 10, 10)
        Projections(ledger).catch_up()
        ledger.close()
        by_view = {name: timed_rebuild(store, 1, (name,)) for name in sorted(VIEW_CLASSES)}
        view_by_view = round(sum(by_view.values()), 1)
        one_process = timed_rebuild(store, 1)
        parallel = timed_rebuild(store, 2)
        ratio = round(parallel / view_by_view, 2)
        return {"events": events, "view_by_view_seconds": by_view, "view_by_view_total_seconds": view_by_view,
                "one_process_seconds": one_process, "two_processes_seconds": parallel,
                "one_process_share_of_view_by_view": round(one_process / view_by_view, 2),
                "two_processes_share_of_one_process": round(parallel / one_process, 2),
                "two_processes_share_of_view_by_view": ratio, "target": "<= 0.6",
                "verdict": "met" if ratio <= 0.6 else "missed"}
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
