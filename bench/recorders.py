"""Our psycopg2 recorders against the library's psycopg 3 recorders, side by side, on one database.

    python -m bench.recorders [--url postgresql://...] [--full]

Workloads: single-event inserts (one writer), 50-event batches from
concurrent writers, and scans of the notification log. Prints JSON with the
median and spread of several runs, and the ratios ours/library.
Needs the `bench` extra (eventsourcing[postgres], i.e. psycopg 3).
"""

from __future__ import annotations

import argparse
import threading
import uuid
from collections.abc import Callable
from typing import Any

import psycopg2
from eventsourcing.persistence import ApplicationRecorder, InfrastructureFactory, StoredEvent
from eventsourcing.utils import Environment

from bench.common import emit, machine, rate, summarise

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/mentorship_ledger_test"
STATE = b'{"content":"' + b"x" * 300 + b'","kind":"improvement"}'


def recorder(module: str, url: str, schema: str) -> tuple[InfrastructureFactory, ApplicationRecorder]:
    parts = psycopg2.extensions.parse_dsn(url)
    env = {"PERSISTENCE_MODULE": module, "POSTGRES_SCHEMA": schema, "POSTGRES_POOL_SIZE": "8",
           "POSTGRES_MAX_OVERFLOW": "8"}
    if module == "persistence.postgres":
        env["POSTGRES_DSN"] = url
    else:
        env.update({"POSTGRES_DBNAME": parts["dbname"], "POSTGRES_HOST": parts.get("host", "127.0.0.1"),
                    "POSTGRES_PORT": parts.get("port", "5432"), "POSTGRES_USER": parts.get("user", "postgres"),
                    "POSTGRES_PASSWORD": parts.get("password", "")})
    factory = InfrastructureFactory.construct(Environment("bench", env))
    return factory, factory.application_recorder()


def events(count: int) -> list[StoredEvent]:
    originator = uuid.uuid4()
    return [StoredEvent(originator, v + 1, "bench:Event", STATE) for v in range(count)]


def single_inserts(rec: ApplicationRecorder, count: int) -> float:
    return rate(count, lambda: [rec.insert_events(events(1)) for _ in range(count)])


def concurrent_batches(rec: ApplicationRecorder, writers: int, batches: int) -> float:
    def write() -> None:
        for _ in range(batches):
            rec.insert_events(events(50))

    def run() -> None:
        threads = [threading.Thread(target=write) for _ in range(writers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    return rate(writers * batches * 50, run)


def scan(rec: ApplicationRecorder) -> float:
    total = rec.max_notification_id() or 0

    def run() -> None:
        start = 0
        while True:
            page = rec.select_notifications(start=start, limit=500, inclusive_of_start=False)
            if not page:
                return
            start = page[-1].id

    return rate(total, run)


def measure(name: str, workload: Callable[[ApplicationRecorder], float], recorders: dict, runs: int) -> dict[str, Any]:
    samples: dict[str, list[float]] = {label: [] for label in recorders}
    for _ in range(runs):
        for label, rec in recorders.items():  # interleaved, so both see the same machine state
            samples[label].append(workload(rec))
    result = {label: summarise(values) for label, values in samples.items()}
    result["ratio_ours_to_library"] = round(result["ours"]["median"] / result["library"]["median"], 2)
    return {name: result}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=DEFAULT_URL)
    parser.add_argument("--full", action="store_true", help="full size (default: a quick run)")
    args = parser.parse_args()
    size = {"single": 3000, "writers": 8, "batches": 60, "runs": 5} if args.full else \
        {"single": 500, "writers": 4, "batches": 10, "runs": 3}
    schemas = {"ours": f"bench_ours_{uuid.uuid4().hex[:8]}", "library": f"bench_lib_{uuid.uuid4().hex[:8]}"}
    conn = psycopg2.connect(args.url)
    conn.autocommit = True
    with conn.cursor() as cursor:
        for schema in schemas.values():
            cursor.execute(f'CREATE SCHEMA "{schema}"')
    factories, recorders = {}, {}
    try:
        for label, module in (("ours", "persistence.postgres"), ("library", "eventsourcing.postgres")):
            factories[label], recorders[label] = recorder(module, args.url, schemas[label])
        result: dict[str, Any] = {"benchmark": "recorders", "size": size, "machine": machine()}
        result.update(measure("single_event_inserts_per_second",
                              lambda r: single_inserts(r, size["single"]), recorders, size["runs"]))
        result.update(measure(f"events_per_second_50_event_batches_{size['writers']}_writers",
                              lambda r: concurrent_batches(r, size["writers"], size["batches"]), recorders,
                              size["runs"]))
        result.update(measure("notifications_scanned_per_second", scan, recorders, size["runs"]))
        emit(result)
    finally:
        for factory in factories.values():
            factory.close()
        with conn.cursor() as cursor:
            for schema in schemas.values():
                cursor.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        conn.close()


if __name__ == "__main__":
    main()
