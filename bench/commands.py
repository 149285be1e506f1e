"""Commands over HTTP (gunicorn, wrk on loopback) against the same commands in process, and pgbench.

    python -m bench.commands [--store sqlite|postgres|both] [--full]

Feedback is posted to many relationships by their mentors at 1, 8 and 32
concurrent connections (keep-alive); the in-process figure runs the same
command through the ledger directly; pgbench inserts one row per transaction
(the durable-commit limit of the database) at 1 and 8 clients.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import emit, machine
from bench.data import Store, populate
from domain.principal import Principal
from persistence.stores import token_store_for
from tests.e2e.processes import Server

BODY = {"content": "Clear and specific; keep going.", "kind": "general", "skills": ["presenting"]}


def wrk_script(paths: list[str], tokens: list[str]) -> str:
    lua_paths = ",".join(json.dumps(p) for p in paths)
    lua_tokens = ",".join(json.dumps(t) for t in tokens)
    return f"""
local paths = {{{lua_paths}}}
local tokens = {{{lua_tokens}}}
local body = {json.dumps(json.dumps(BODY))}
request = function()
  local i = math.random(#paths)
  return wrk.format("POST", paths[i], {{["Authorization"] = "Bearer " .. tokens[i],
                                        ["Content-Type"] = "application/json"}}, body)
end
"""


def run_wrk(url: str, script: Path | None, connections: int, seconds: int) -> dict[str, float]:
    threads = min(2, connections)
    scripted = ["-s", str(script)] if script is not None else []
    out = subprocess.run(["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", *scripted, url],
                         capture_output=True, text=True, timeout=seconds + 60).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    latency = {p: _ms(re.search(rf"^\s+{p}%\s+(\S+)", out, re.M).group(1)) for p in ("50", "99")}
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"requests_per_second": round(rate, 1), "p50_ms": latency["50"], "p99_ms": latency["99"],
            "non_2xx": int(errors.group(1)) if errors else 0}


def _ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(\w+)", text).groups()
    return round(float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit], 2)


def in_process(store: Store, rids: list, seconds: float) -> float:
    ledger = store.ledger()
    rng = random.Random(3)
    mentors = {}
    for rid in rids:
        mentors[rid] = Principal(ledger.get_relationship(Principal("ada", "coordinator"), rid)["mentor_id"],
                                 "participant")
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        rid = rng.choice(rids)
        ledger.give_feedback(mentors[rid], rid, content=BODY["content"], kind="general", skills=["presenting"],
                             action_items=[])
        count += 1
    rate = count / (time.perf_counter() - started)
    ledger.close()
    return round(rate, 1)


def pgbench(url: str, clients: int, seconds: int) -> float | None:
    if not shutil.which("pgbench"):
        return None
    work = Path(tempfile.mkdtemp())
    (work / "insert.sql").write_text("INSERT INTO bench_rows (v) VALUES (1);\n")
    subprocess.run(["psql", url, "-qc", "CREATE TABLE IF NOT EXISTS bench_rows (id bigserial primary key, v int)"],
                   check=True, capture_output=True)
    out = subprocess.run(["pgbench", "-n", "-f", str(work / "insert.sql"), "-c", str(clients), "-j",
                          str(min(clients, 2)), "-T", str(seconds), url], capture_output=True, text=True).stdout
    subprocess.run(["psql", url, "-qc", "DROP TABLE bench_rows"], check=True, capture_output=True)
    match = re.search(r"tps = ([\d.]+)", out)
    return round(float(match.group(1)), 1) if match else None


def measure(kind: str, relationships: int, seconds: int) -> dict[str, Any]:
    store = Store(kind)
    result: dict[str, Any] = {}
    try:
        ledger = store.ledger()
        rids = populate(ledger, relationships, 3)
        tokens_store = token_store_for(ledger)
        mentors = [ledger.get_relationship(Principal("ada", "coordinator"), rid)["mentor_id"] for rid in rids]
        tokens = {m: tokens_store.issue(m, "participant") for m in set(mentors)}
        ledger.close()
        result["in_process_commands_per_second"] = in_process(store, rids, seconds)
        script = Path(tempfile.mkdtemp()) / "feedback.lua"
        script.write_text(wrk_script([f"/v1/relationships/{r}/feedback" for r in rids],
                                     [tokens[m] for m in mentors]))
        env = {k: v for k, v in os.environ.items() if not k.startswith(("POSTGRES_", "DATABASE_URL"))}
        server = Server({**env, **store.process_env(), "PROJECTIONS_MODE": "worker"}, Path(store.tmp) / "api.log")
        server.start()
        try:
            for connections in (1, 8, 32):
                result[f"http_{connections}_connections"] = run_wrk(server.url, script, connections, seconds)
            # The floor: what gunicorn and Flask cost for a request that does nothing (no auth, no store).
            result["http_8_connections_healthz"] = run_wrk(server.url + "/healthz", None, 8, seconds)
        finally:
            server.stop()
        result["ratio_http_8_to_in_process"] = round(
            result["http_8_connections"]["requests_per_second"] / result["in_process_commands_per_second"], 2)
        if kind == "postgres":
            url = f"{store.pg_url}?options=-csearch_path%3D{store.schema}"
            result["pgbench_1_client_tps"] = pgbench(url, 1, seconds)
            result["pgbench_8_clients_tps"] = pgbench(url, 8, seconds)
            if result["pgbench_1_client_tps"]:
                result["ratio_in_process_to_pgbench_1"] = round(
                    result["in_process_commands_per_second"] / result["pgbench_1_client_tps"], 2)
    finally:
        store.drop()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--full", action="store_true")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed (Debian: apt-get install wrk)")
    relationships, seconds = (500, 10) if args.full else (100, 2)
    kinds = ["sqlite", "postgres"] if args.store == "both" else [args.store]
    emit({"benchmark": "commands", "machine": machine(), **{k: measure(k, relationships, seconds) for k in kinds}})


if __name__ == "__main__":
    main()
