"""Projection lag on PostgreSQL under a sustained command load: commit to visible in the views.

    python -m bench.lag [--rate 250] [--full]

gunicorn serves commands at a fixed rate (a paced client on loopback); the
projection worker follows by LISTEN/NOTIFY. A monitor reads the views'
tracked positions every 2 ms; each command's lag is the time from its
acknowledgement to the first moment every view had processed its X-Position.
Also reports the peak resident memory of the API workers and of the worker.
"""

from __future__ import annotations

import argparse
import os
import statistics
import threading
import time
from pathlib import Path

import psycopg2
import requests

from bench.common import emit, machine
from bench.data import Store, populate
from domain.principal import Principal
from persistence.stores import token_store_for
from tests.e2e.processes import Server, worker


def peak_rss_mib(pid: int) -> float:
    total = 0.0
    for candidate in [pid, *children(pid)]:
        try:
            status = Path(f"/proc/{candidate}/status").read_text()
        except OSError:
            continue
        total = max(total, int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM"))))
    return round(total / 1024, 1)


def children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=250.0, help="commands per second")
    parser.add_argument("--full", action="store_true")
    args = parser.parse_args()
    seconds = 30 if args.full else 5
    store = Store("postgres")
    try:
        ledger = store.ledger()
        rids = populate(ledger, 200, 3)
        tokens = token_store_for(ledger)
        targets = []
        for rid in rids:
            mentor = ledger.get_relationship(Principal("ada", "coordinator"), rid)["mentor_id"]
            targets.append((f"/v1/relationships/{rid}/feedback", tokens.issue(mentor, "participant")))
        ledger.close()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("POSTGRES_", "DATABASE_URL"))}
        env.update({**store.process_env(), "PROJECTIONS_MODE": "worker"})
        server, projector = Server(env, Path(store.tmp) / "api.log"), worker(env, Path(store.tmp) / "worker.log")
        server.start()
        projector.start()
        wait_caught_up(store, head=len(rids) * 3)
        try:
            acks, seen = run_load(server.url, targets, args.rate, seconds, store)
            server_rss = peak_rss_mib(server.process.pid)
            worker_rss = peak_rss_mib(projector.process.pid)
        finally:
            projector.stop()
            server.stop()
        lags = []
        for acked_at, position in acks:
            visible = next((t for t, p in seen if p >= position), None)
            if visible is not None:
                lags.append(max(0.0, visible - acked_at) * 1000)
        lags.sort()
        emit({"benchmark": "projection_lag", "machine": machine(), "store": "postgres",
              "commands_per_second_offered": args.rate, "seconds": seconds,
              "commands_acknowledged": len(acks), "measured": len(lags),
              "lag_p50_ms": round(statistics.median(lags), 1), "lag_p99_ms": round(lags[int(0.99 * (len(lags) - 1))], 1),
              "lag_max_ms": round(lags[-1], 1), "api_peak_rss_mib": server_rss, "worker_peak_rss_mib": worker_rss})
    finally:
        store.drop()


def wait_caught_up(store: Store, head: int, timeout: float = 60) -> None:
    """Measure the steady state: start once the worker has processed what was there before."""
    conn = psycopg2.connect(store.pg_url)
    conn.autocommit = True
    deadline = time.monotonic() + timeout
    with conn.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(f'SELECT COUNT(*), MIN(position) FROM "{store.schema}".projection_tracking')
            count, position = cursor.fetchone()
            if count >= 4 and (position or 0) >= head:
                break
            time.sleep(0.05)
    conn.close()


def run_load(url: str, targets, rate: float, seconds: float, store: Store):
    acks: list[tuple[float, int]] = []
    seen: list[tuple[float, int]] = []
    stop = threading.Event()
    lock = threading.Lock()

    def monitor() -> None:
        conn = psycopg2.connect(store.pg_url)
        conn.autocommit = True
        with conn.cursor() as cursor:
            while not stop.is_set():
                cursor.execute(f'SELECT MIN(position) FROM "{store.schema}".projection_tracking')
                position = cursor.fetchone()[0] or 0
                seen.append((time.perf_counter(), position))
                time.sleep(0.002)
        conn.close()

    def client(offset: int, clients: int) -> None:
        session = requests.Session()
        interval = clients / rate
        next_at = time.perf_counter() + offset * interval / clients
        index = offset
        while not stop.is_set():
            time.sleep(max(0.0, next_at - time.perf_counter()))
            next_at += interval
            path, token = targets[index % len(targets)]
            index += clients
            response = session.post(url + path, json={"content": "x", "kind": "general"},
                                    headers={"Authorization": f"Bearer {token}"}, timeout=10)
            if response.status_code == 201:
                with lock:
                    acks.append((time.perf_counter(), int(response.headers["X-Position"])))

    threads = [threading.Thread(target=monitor)] + [threading.Thread(target=client, args=(n, 8)) for n in range(8)]
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    stop.set()
    time.sleep(0.5)
    for thread in threads:
        thread.join()
    return acks, seen


if __name__ == "__main__":
    main()
