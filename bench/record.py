"""The record at scale: verification of the whole chain and incrementally, store growth, cold loads.

    python -m bench.record [--store sqlite|postgres|both] [--full] [--only verify|growth|cold]

- verify: N events written (SQLite: in process; 20 per relationship), the audit trail brought up to date,
  then the whole chain verified (sealed entries: stored bytes hashed, not decoded) by one process and in
  slices by one process per core (what `flask audit verify` does), the same with the slow
  walk (every event decoded, every entry recomputed), and an incremental run after 1,000 new events.
  Full size 1,000,000 entries; small 100,000.
- growth: one participant gives maximal feedback (5,000 characters, 20 skills, 10 action items) to one
  relationship; the store's size on disk after 300 and after 1,200 (snapshots every 100 events).
- cold: a relationship of 10 events and one of 10,000 (small: 2,000), each loaded by a fresh process-like
  ledger (nothing in memory), median of 5.
- flood: other participants' commands (50 relationships, every 20 ms in turn) alone, then while one
  participant floods their own relationship from 4 threads (default limits); latencies, the flood's answers.
- long: GET of a relationship of 10,000 feedbacks of 5,000 characters (small: 2,000), whole and ?limit=50:
  answer bytes against the feedback text, time, and peak memory allocated to answer.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import string
import time
from typing import Any
from uuid import UUID

from bench.common import emit, machine
from bench.data import Store, populate
from domain.principal import Principal
from projections.queries import LedgerQueries
from projections.service import Projections

AUDITOR = Principal("audrey", "auditor")
COORDINATOR = Principal("ada", "coordinator")
def maximal(rng: random.Random) -> dict[str, Any]:
    """Feedback as large as the contract allows, in text that does not compress away (PostgreSQL's TOAST)."""
    def text(n: int) -> str:
        return "".join(rng.choices(string.ascii_letters + " ", k=n))

    return {"content": text(5000), "kind": "improvement", "skills": [f"skill-{n}" for n in range(20)],
            "action_items": [{"description": text(500), "due_on": None} for _ in range(10)]}


def verify(kind: str, events: int) -> dict[str, Any]:
    store = Store(kind)
    try:
        ledger = store.ledger()
        populate(ledger, events // 20, 20)
        projections = Projections(ledger)
        audit = [projections.view("audit_trail")]
        started = time.perf_counter()
        projections.catch_up(audit)
        trail_seconds = time.perf_counter() - started
        queries = LedgerQueries(ledger, projections)
        started = time.perf_counter()
        fast = queries.verify_audit(AUDITOR, incremental=True)
        fast_seconds = time.perf_counter() - started
        started = time.perf_counter()
        sliced = queries.verify_audit(AUDITOR, processes=os.cpu_count() or 1)
        sliced_seconds = time.perf_counter() - started
        populate(ledger, 1000 // 20, 20, seed=2)
        projections.catch_up(audit)
        started = time.perf_counter()
        incremental = queries.verify_audit(AUDITOR, incremental=True)
        incremental_seconds = time.perf_counter() - started
        view = audit[0]
        with view.store.transaction(write=True) as cursor:
            cursor.execute(f"UPDATE {view.table('audit_trail')} SET seal = NULL WHERE position = 1")
        started = time.perf_counter()
        slow = queries.verify_audit(AUDITOR)
        slow_seconds = time.perf_counter() - started
        ledger.close()
        return {"entries": fast["entries_checked"],
                "ok": fast["ok"] and sliced["ok"] and incremental["ok"] and slow["ok"],
                "audit_trail_built_seconds": round(trail_seconds, 1),
                "verify_whole_chain_one_process_seconds": round(fast_seconds, 2),
                f"verify_whole_chain_{os.cpu_count()}_processes_seconds": round(sliced_seconds, 2),
                "of_which_derived_checks": fast["derived"] and {k: v for k, v in fast["derived"].items()
                                                                  if k != "problems"},
                "verify_decoding_every_event_seconds": round(slow_seconds, 2),
                "incremental_new_entries": incremental["entries_checked"],
                "incremental_seconds": round(incremental_seconds, 3)}
    finally:
        store.drop()


def disk_bytes(store: Store, ledger: Any) -> int:
    if store.kind == "sqlite":
        path = store.env()["SQLITE_DBNAME"]
        return sum(os.path.getsize(p) for p in (path, path + "-wal") if os.path.exists(p))
    with ledger.factory.datastore.cursor() as cursor:
        cursor.execute("SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c JOIN pg_namespace n "
                       "ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relkind = 'r'", (store.schema,))
        return int(cursor.fetchone()[0])


def growth(kind: str) -> dict[str, Any]:
    store = Store(kind)
    try:
        ledger = store.ledger(SNAPSHOT_INTERVAL="100")
        rid = ledger.start_relationship(COORDINATOR, program_id="p", mentor_id="m", mentee_id="e",
                                        goals=[]).relationship_id
        mentor = Principal("m", "participant")
        sizes, rng = {}, random.Random(7)
        for n in range(1, 1201):
            ledger.give_feedback(mentor, rid, **maximal(rng))
            if n in (300, 1200):
                if kind == "sqlite":
                    with ledger.factory.datastore.transaction(commit=False) as cursor:
                        cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                else:
                    with ledger.factory.datastore.cursor() as cursor:
                        cursor.execute("VACUUM")  # what autovacuum does in time: free the deleted snapshots
                sizes[n] = disk_bytes(store, ledger)
        ledger.close()
        return {"bytes_after_300": sizes[300], "bytes_after_1200": sizes[1200],
                "ratio": round(sizes[1200] / sizes[300], 2), "target": "<= 4.5"}
    finally:
        store.drop()


def closed_loops(ledger: Any, events: int) -> Any:
    """A relationship where every feedback is acknowledged and every action done: give, receive, complete."""
    mentor, mentee = Principal("m", "participant"), Principal("e", "participant")
    rid = ledger.start_relationship(COORDINATOR, program_id="p", mentor_id="m", mentee_id="e",
                                    goals=[]).relationship_id
    while ledger.runner.current(rid).version + 3 <= events:
        given = ledger.give_feedback(mentor, rid, content="Clear and specific.", kind="general", skills=["s"],
                                     action_items=[{"description": "next step", "due_on": None}]).body
        ledger.receive_feedback(mentee, rid, UUID(given["feedback_id"]), usefulness=4)
        ledger.complete_action(mentee, rid, UUID(str(given["action_items"][0]["action_id"])), outcome="done")
    return rid


def cold(kind: str, long_events: int) -> dict[str, Any]:
    """Cold loads: relationships whose items are closed (the snapshot holds open items only), and the same
    sizes with most items left open (bench.data: feedback acknowledged a fifth of the time)."""
    store = Store(kind)
    try:
        ledger = store.ledger()
        cases = {"closed_10": closed_loops(ledger, 10), f"closed_{long_events}": closed_loops(ledger, long_events),
                 "open_10": populate(ledger, 1, 10)[0], f"open_{long_events}": populate(ledger, 1, long_events,
                                                                                        seed=3)[0]}
        ledger.close()
        timings = {}
        for name, rid in cases.items():
            samples = []
            for _ in range(5):
                fresh = store.ledger()
                started = time.perf_counter()
                fresh.runner.current(rid)
                samples.append(time.perf_counter() - started)
                fresh.close()
            timings[name] = round(statistics.median(samples) * 1000, 2)
        return {"cold_load_ms": timings,
                "ratio_closed": round(timings[f"closed_{long_events}"] / timings["closed_10"], 2),
                "ratio_open": round(timings[f"open_{long_events}"] / timings["open_10"], 2), "target": "<= 3"}
    finally:
        store.drop()


def flood(kind: str, seconds: float = 5.0) -> dict[str, Any]:
    """Other participants' commands (50 relationships, one command every 20 ms in turn), alone and while one
    participant floods their own relationship from 4 threads, through the API (in process, default limits)."""
    import threading

    from api import create_app

    store = Store(kind)
    try:
        app = create_app({"TESTING": True, "DATABASE_URL": store.database_url, "STORE_ENV": store.extra,
                          "PROJECTIONS_MODE": "worker", "INSTANCE_PATH": store.tmp})
        tokens = app.extensions["tokens"]
        coordinator = {"Authorization": f"Bearer {tokens.issue('ada', 'coordinator')}"}
        client = app.test_client()
        def started(mentor: str) -> str:
            body = {"program_id": "p", "mentor_id": mentor, "mentee_id": f"{mentor}-mentee"}
            return client.post("/v1/relationships", headers=coordinator, json=body).json["id"]

        flooded = started("flooder")
        flooder = {"Authorization": f"Bearer {tokens.issue('flooder', 'participant')}"}
        others = [(started(f"other-{n}"), {"Authorization": f"Bearer {tokens.issue(f'other-{n}', 'participant')}"})
                  for n in range(50)]
        body = {"content": "x" * 5000, "kind": "general"}

        def steady_latencies() -> list[float]:
            """50 other participants, each on their own relationship, one command every 20 ms in turn."""
            own, latencies, until, n = app.test_client(), [], time.perf_counter() + seconds, 0
            while time.perf_counter() < until:
                rid, headers = others[n % len(others)]
                n += 1
                began = time.perf_counter()
                assert own.post(f"/v1/relationships/{rid}/feedback", headers=headers, json=body).status_code == 201
                latencies.append((time.perf_counter() - began) * 1000)
                time.sleep(0.02)
            return sorted(latencies)

        alone = steady_latencies()
        statuses: list[int] = []
        stop = threading.Event()

        def flood_a() -> None:
            own = app.test_client()
            while not stop.is_set():
                statuses.append(own.post(f"/v1/relationships/{flooded}/feedback", headers=flooder,
                                         json=body).status_code)

        threads = [threading.Thread(target=flood_a) for _ in range(4)]
        for thread in threads:
            thread.start()
        during = steady_latencies()
        stop.set()
        for thread in threads:
            thread.join()
        app.extensions["ledger"].close()

        def pct(values: list[float], p: float) -> float:
            return round(values[min(len(values) - 1, int(len(values) * p))], 2)

        return {"others_ms_alone": {"p50": pct(alone, 0.5), "p99": pct(alone, 0.99)},
                "others_ms_during_flood": {"p50": pct(during, 0.5), "p99": pct(during, 0.99)},
                "flood_requests": len(statuses), "flood_accepted": statuses.count(201),
                "flood_refused_429": statuses.count(429)}
    finally:
        store.drop()


def long_get(kind: str, events: int) -> dict[str, Any]:
    """GET of a relationship of ``events`` feedbacks (5,000 characters each) through the API, whole and with
    ?limit=50: bytes against the feedback text, and the peak memory Python allocated to answer (tracemalloc)."""
    import tracemalloc

    from api import create_app

    store = Store(kind)
    try:
        app = create_app({"TESTING": True, "DATABASE_URL": store.database_url, "STORE_ENV": store.extra,
                          "PROJECTIONS_MODE": "worker", "COMMANDS_PER_MINUTE": 0})
        ledger = app.extensions["ledger"]
        rid = ledger.start_relationship(COORDINATOR, program_id="p", mentor_id="m", mentee_id="e",
                                        goals=[]).relationship_id
        rng, text_bytes = random.Random(5), 0
        mentor = Principal("m", "participant")
        for _ in range(events - 1):
            content = "".join(rng.choices(string.ascii_letters + " ", k=5000))
            text_bytes += len(content.encode())
            ledger.give_feedback(mentor, rid, content=content, kind="general", skills=[], action_items=[])
        token = app.extensions["tokens"].issue("ada", "coordinator")
        client = app.test_client()
        result: dict[str, Any] = {"events": events, "feedback_text_bytes": text_bytes}
        for name, query in (("whole", ""), ("limit_50", "?limit=50")):
            tracemalloc.start()
            started = time.perf_counter()
            response = client.get(f"/v1/relationships/{rid}{query}", headers={"Authorization": f"Bearer {token}"})
            seconds = time.perf_counter() - started
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            assert response.status_code == 200
            result[name] = {"bytes": len(response.get_data()), "seconds": round(seconds, 3),
                            "peak_mib": round(peak / 2**20, 1)}
        result["whole_bytes_per_text_byte"] = round(result["whole"]["bytes"] / text_bytes, 2)
        ledger.close()
        return result
    finally:
        store.drop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--full", action="store_true")
    parser.add_argument("--only", choices=["verify", "growth", "cold", "flood", "long"])
    args = parser.parse_args()
    kinds = ["sqlite", "postgres"] if args.store == "both" else [args.store]
    result: dict[str, Any] = {"benchmark": "record", "machine": machine()}
    for kind in kinds:
        part: dict[str, Any] = {}
        if args.only in (None, "verify"):
            part["verify"] = verify(kind, 1_000_000 if args.full else 100_000)
        if args.only in (None, "growth"):
            part["growth"] = growth(kind)
        if args.only in (None, "cold"):
            part["cold"] = cold(kind, 10_000 if args.full else 2_000)
        if args.only in (None, "flood"):
            part["flood"] = flood(kind)
        if args.only in (None, "long"):
            part["long_get"] = long_get(kind, 10_000 if args.full else 2_000)
        result[kind] = part
    emit(result)


if __name__ == "__main__":
    main()
