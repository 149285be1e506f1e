"""Projection rebuild against scanning and decoding, worker memory, and queries at scale.

    python -m bench.views [--store sqlite|postgres|both] [--full]

Full size: 100,000 relationships of 10 events (1,000,000 events and audit entries).
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from datetime import timedelta
from typing import Any

from bench.common import emit, machine
from bench.data import Store, populate
from domain.principal import Principal
from projections.audit import AuditFilter
from projections.feed import read_batch
from projections.health.rank import next_midnight
from projections.queries import LedgerQueries
from projections.service import VIEW_CLASSES, Projections

AUDITOR = Principal("audrey", "auditor")


def scan_and_decode(ledger) -> float:
    """Events per second merely reading and decoding the whole store, in batches of 500."""
    started, count, after = time.perf_counter(), 0, 0
    while True:
        items = read_batch(ledger, after, 500)
        if not items:
            break
        count += len(items)
        after = items[-1].position
    return count / (time.perf_counter() - started)


def rebuild_rate(store: Store, events: int) -> dict[str, float]:
    """Each view rebuilt from zero in a child process: events per second and the child's peak RSS."""
    child = subprocess.run([sys.executable, "-m", "bench.views", "--rebuild-child", json.dumps(store.env())],
                           capture_output=True, text=True, check=True)
    return json.loads(child.stdout)


def child_rebuild(env: dict[str, str]) -> None:
    from domain.ledger import MentorshipLedger

    ledger = MentorshipLedger(env=env)
    projections = Projections(ledger)
    head = ledger.position()
    rates = {}
    for name in VIEW_CLASSES:
        started = time.perf_counter()
        projections.rebuild(name)
        rates[name] = round(head / (time.perf_counter() - started), 1)
    rates["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    print(json.dumps(rates))


def timed(call, runs: int) -> dict[str, float]:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return {"p50_ms": round(statistics.median(samples), 2), "p99_ms": round(samples[int(0.99 * (len(samples) - 1))], 2),
            "runs": runs}


def queries(ledger, projections: Projections, rids: list, runs: int) -> dict[str, Any]:
    reader = LedgerQueries(ledger, projections)
    head = ledger.position()
    deep = max(0, head - 1000)
    import random

    rng = random.Random(5)
    return {
        "health_page_worst_first": timed(
            lambda: reader.health_page(AUDITOR, program_id=None, status=None, after=None, limit=50), runs),
        "health_page_one_program": timed(
            lambda: reader.health_page(AUDITOR, program_id="program-3", status=None, after=None, limit=50), runs),
        # Scored at the moment (as a cursor's pages are), not answered from the pages kept in memory:
        "health_page_worst_first_scored": timed(
            lambda: reader.health_page(AUDITOR, program_id=None, status=None, after=None, limit=50,
                                       now=ledger.clock()), runs),
        "one_relationship_health": timed(lambda: reader.health(AUDITOR, rng.choice(rids)), runs),
        "audit_page_deep_keyset": timed(lambda: reader.audit_page(AUDITOR, AuditFilter(), deep, 50), runs),
        "relationship_list_page": timed(
            lambda: reader.list_relationships(AUDITOR, __import__("projections.index").index.IndexFilter(
                program_id="program-7"), None, 50), runs),
        "audit_verify_whole_chain": timed(lambda: reader.verify_audit(AUDITOR), 1),
        **ranking_from_nothing(ledger, projections, reader, runs),
    }


def ranking_from_nothing(ledger, projections: Projections, reader: LedgerQueries, runs: int) -> dict[str, Any]:
    """The worst case of health worst first: every ranking falls due at midnight (a deadline for everyone),
    pages at the first second of the day without and with the ranking made ahead; then ranking all."""
    view = projections.view("relationship_health")
    midnight = next_midnight(ledger.clock())
    just_after = midnight + timedelta(seconds=1)
    with view.store.transaction(write=True) as cursor:
        cursor.execute(f"UPDATE {view.table('health_rank')} SET next_change = ?", (midnight.timestamp(),))
    settled(view, "health_rank")  # hours pass before midnight: autovacuum has been by
    # Pages scored at a given moment (never answered from kept pages): the first second of the day.
    stale_page = timed(lambda: reader.health_page(AUDITOR, program_id=None, status=None, after=None, limit=50,
                                                  now=just_after), max(3, runs // 20))
    # The same moment when the worker has ranked ahead of midnight (projections.health.rank).
    started = time.perf_counter()
    with view.store.transaction(write=True) as cursor:
        ahead = view.rank_ahead(cursor, midnight - timedelta(seconds=300))
    ahead_seconds = round(time.perf_counter() - started, 2)
    settled(view, "health_rank_ahead")  # minutes pass before midnight: autovacuum analyses the new rows
    ahead_page = timed(lambda: reader.health_page(AUDITOR, program_id=None, status=None, after=None, limit=50,
                                                  now=just_after), runs)
    ahead_program = timed(lambda: reader.health_page(AUDITOR, program_id="program-3", status=None, after=None,
                                                     limit=50, now=just_after), runs)
    started = time.perf_counter()  # the worker's first round after midnight: it takes the ranking over
    with view.store.transaction(write=True) as cursor:
        view.rerank(cursor, just_after)
    take_over_seconds = round(time.perf_counter() - started, 2)
    with view.store.transaction(write=True) as cursor:
        cursor.execute(f"DELETE FROM {view.table('health_rank_ahead')}")
        cursor.execute(f"UPDATE {view.table('health_rank')} SET next_change = 0, ranked_at = 0")
    started = time.perf_counter()
    with view.store.transaction(write=True) as cursor:
        ranked = view.rerank(cursor, ledger.clock())
    return {"health_page_worst_first_every_ranking_stale": stale_page,
            "health_page_worst_first_every_ranking_stale_ranked_ahead": ahead_page,
            "health_page_one_program_every_ranking_stale_ranked_ahead": ahead_program,
            "rank_ahead_of_midnight": {"relationships": ahead, "seconds": ahead_seconds},
            "take_over_ranking_ahead_after_midnight": {"seconds": take_over_seconds},
            "rank_every_relationship": {"relationships": ranked,
                                        "seconds": round(time.perf_counter() - started, 2)}}


def settled(view, logical: str) -> None:
    """PostgreSQL: vacuum and analyse a view table, as autovacuum does after many rows change."""
    if view.store.postgres:
        with view.store.datastore.cursor() as cursor:
            cursor.execute(f"VACUUM ANALYZE {view.table(logical)}")


def measure(kind: str, relationships: int, runs: int, midnight_only: bool = False) -> dict[str, Any]:
    store = Store(kind)
    try:
        ledger = store.ledger(SNAPSHOT_INTERVAL="0")
        started = time.perf_counter()
        rids = populate(ledger, relationships, 10)
        events = ledger.position()
        result: dict[str, Any] = {"events": events, "relationships": relationships,
                                  "populate_events_per_second": round(events / (time.perf_counter() - started), 1)}
        if midnight_only:
            projections = Projections(ledger)
            projections.catch_up()
            result["queries"] = ranking_from_nothing(ledger, projections, LedgerQueries(ledger, projections), runs)
            ledger.close()
            return result
        result["scan_and_decode_events_per_second"] = round(scan_and_decode(ledger), 1)
        result["rebuild_events_per_second"] = rebuild_rate(store, events)
        scan = result["scan_and_decode_events_per_second"]
        result["ratio_rebuild_to_scan"] = {name: round(result["rebuild_events_per_second"][name] / scan, 2)
                                           for name in VIEW_CLASSES}
        projections = Projections(ledger)
        projections.catch_up()
        result["queries"] = queries(ledger, projections, rids, runs)
        ledger.close()
        return result
    finally:
        store.drop()


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--rebuild-child":
        child_rebuild(json.loads(sys.argv[2]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--full", action="store_true")
    parser.add_argument("--midnight-only", action="store_true", help="only the health pages around midnight")
    args = parser.parse_args()
    relationships, runs = (100_000, 100) if args.full else (2_000, 30)
    kinds = ["sqlite", "postgres"] if args.store == "both" else [args.store]
    emit({"benchmark": "views", "machine": machine(),
          **{k: measure(k, relationships, runs, args.midnight_only) for k in kinds}})


if __name__ == "__main__":
    main()
