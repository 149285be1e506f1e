"""Worker classes for the production command, side by side: the HTTP floor, reads, commands, slow clients.

    python -m bench.servers [--store sqlite|postgres|both] [--seconds 5]

The documented production command (``gunicorn --config gunicorn.conf.py wsgi:app``, 2 workers) is started
with each worker class in turn (GUNICORN_WORKER_CLASS) against the same store: wrk measures ``GET /healthz``
(no token, no store), ``GET /v1/relationships/{id}`` as the mentor and ``POST .../feedback`` at 8 keep-alive
connections; then 50 clients send a request line and drip a header line a second, and 15 ``/healthz`` probes
(2 s timeout each) count how many were answered.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import requests

from bench.commands import run_wrk, wrk_script
from bench.common import emit, machine
from bench.data import Store, populate
from domain.principal import Principal
from persistence.stores import token_store_for
from tests.e2e.processes import Server

WORKER_CLASSES = {"gevent (default)": "api.serving.ProblemGeventWorker", "gthread (2 x 4 threads)": "gthread",
                  "sync": "sync"}


def read_script(paths: list[str], tokens: list[str]) -> str:
    lua_paths = ",".join(json.dumps(p) for p in paths)
    lua_tokens = ",".join(json.dumps(t) for t in tokens)
    return f"""
local paths = {{{lua_paths}}}
local tokens = {{{lua_tokens}}}
request = function()
  local i = math.random(#paths)
  return wrk.format("GET", paths[i], {{["Authorization"] = "Bearer " .. tokens[i]}})
end
"""


def slow_clients_survived(port: int, clients: int = 50, probes: int = 15) -> int:
    stop, opened = threading.Event(), []

    def drip() -> None:
        try:
            sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        except OSError:
            return
        opened.append(sock)
        try:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            while not stop.wait(1.0):
                sock.sendall(b"X-Slow: 1\r\n")
        except OSError:
            return

    threads = [threading.Thread(target=drip, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    time.sleep(1.0)
    answered = 0
    for _ in range(probes):
        try:
            answered += requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200
        except requests.RequestException:
            pass
        time.sleep(0.3)
    stop.set()
    for sock in opened:
        sock.close()
    return answered


def relationships_with_mentors(store: Store, relationships: int = 64) -> tuple[list, list[str], dict[str, str]]:
    """The store filled with relationships of 3 events: their ids, their mentors, a token for each mentor."""
    ledger = store.ledger()
    try:
        rids = populate(ledger, relationships, 3)
        tokens_store = token_store_for(ledger)
        mentors = [ledger.get_relationship(Principal("ada", "coordinator"), rid)["mentor_id"] for rid in rids]
        return rids, mentors, {m: tokens_store.issue(m, "participant") for m in set(mentors)}
    finally:
        ledger.close()


def measure(kind: str, seconds: int) -> dict[str, Any]:
    store = Store(kind)
    result: dict[str, Any] = {}
    try:
        rids, mentors, tokens = relationships_with_mentors(store)
        work = Path(tempfile.mkdtemp())
        (work / "read.lua").write_text(read_script([f"/v1/relationships/{r}" for r in rids],
                                                   [tokens[m] for m in mentors]))
        (work / "write.lua").write_text(wrk_script([f"/v1/relationships/{r}/feedback" for r in rids],
                                                   [tokens[m] for m in mentors]))
        env = {k: v for k, v in os.environ.items() if not k.startswith(("POSTGRES_", "DATABASE_URL", "GUNICORN_"))}
        for label, worker_class in WORKER_CLASSES.items():
            server = Server({**env, **store.process_env(), "GUNICORN_WORKER_CLASS": worker_class},
                            work / f"{worker_class}.log")
            server.start()
            try:
                floor = run_wrk(server.url + "/healthz", None, 8, seconds)
                reads = run_wrk(server.url, work / "read.lua", 8, seconds)
                commands = run_wrk(server.url, work / "write.lua", 8, seconds)
                survived = slow_clients_survived(server.port)
            finally:
                server.stop()
            result[label] = {"healthz_per_second": floor["requests_per_second"],
                             "read_per_second": reads["requests_per_second"], "read_p99_ms": reads["p99_ms"],
                             "commands_per_second": commands["requests_per_second"],
                             "commands_p99_ms": commands["p99_ms"],
                             "non_2xx": floor["non_2xx"] + reads["non_2xx"] + commands["non_2xx"],
                             "probes_answered_with_50_slow_clients": f"{survived}/15"}
    finally:
        store.drop()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--seconds", type=int, default=5)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed (Debian: apt-get install wrk)")
    kinds = ["sqlite", "postgres"] if args.store == "both" else [args.store]
    emit({"benchmark": "servers", "machine": machine(), **{k: measure(k, args.seconds) for k in kinds}})


if __name__ == "__main__":
    main()
