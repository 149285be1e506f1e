"""Write a golden store: a small program with every kind of event, as this release records it.

    python -m tests.golden.make_golden 0.1.0

writes ``tests/golden/<release>/``:

- ``ledger.sqlite3``: the embedded store (one file, checkpointed);
- ``ledger.pg.sql``: the same program on PostgreSQL, as ``pg_dump`` prints one schema
  (restored by replacing the schema name ``golden``);
- ``expected.json``: what this release answered about it over HTTP: every relationship
  at every version, its history, health, growth, lists, the audit trail, head and
  verification; later releases must still load, replay and verify the store and give
  the same answers (their additions aside).

It drives the service only through the HTTP contract and the token store, so the
same script writes the golden store of every release. Keep one per release.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import sqlite3
import subprocess  # nosec B404 - pg_dump, with fixed arguments
import sys
import tempfile
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
SCHEMA = "golden"
START = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)
PEOPLE = {
    "coordinator": ("ada", "coordinator"),
    "auditor": ("audrey", "auditor"),
    "mentor": ("mentor-7", "participant"),
    "mentee": ("mentee-12", "participant"),
    "mentor2": ("mentor-8", "participant"),
    "mentee2": ("mentée-13", "participant"),
}


class Clock:
    """Moves one hour forward each time it is read, so every event has its own time."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        self.now += timedelta(hours=1)
        return self.now


class Driver:
    """The service's test client with a token per person, failing loudly on any unexpected answer."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.client = app.test_client()
        self.tokens = {who: app.extensions["tokens"].issue(pid, role) for who, (pid, role) in PEOPLE.items()}

    def call(self, method: str, who: str, path: str, body: Any = None, status: int = 200, **headers: str) -> Any:
        headers = {"Authorization": f"Bearer {self.tokens[who]}", **{k.replace("_", "-"): v for k, v in headers.items()}}
        response = self.client.open(path, method=method, json=body, headers=headers)
        if response.status_code != status:
            raise SystemExit(f"{method} {path} as {who}: {response.status_code} {response.get_data(as_text=True)}")
        return response.get_json() if response.is_json else response.get_data(as_text=True)

    def post(self, who: str, path: str, body: Any = None, status: int = 201, **headers: str) -> Any:
        return self.call("POST", who, path, body, status, **headers)

    def get(self, who: str, path: str, **headers: str) -> Any:
        return self.call("GET", who, path, **headers)


def program(d: Driver) -> list[str]:
    """Three relationships that between them hold every kind of event, snapshots and idempotency records."""
    due = (START.date() + timedelta(days=20)).isoformat()
    first = d.post("coordinator", "/v1/relationships", {
        "program_id": "spring-2026", "mentor_id": "mentor-7", "mentee_id": "mentee-12",
        "goals": ["Lead a design review", "Public speaking"]}, Idempotency_Key="start-first")["id"]
    given = d.post("mentor", f"/v1/relationships/{first}/feedback", {
        "content": "Your design review was clear; slow down on the trade-offs.", "kind": "improvement",
        "skills": ["presenting", "System Design"],
        "action_items": [{"description": "Prepare a trade-off table", "due_on": due},
                         {"description": "Read one design doc a week"}]}, Idempotency_Key="fb-1")
    back = d.post("mentee", f"/v1/relationships/{first}/feedback", {
        "content": "Thank you — the examples helped; more of them, please.", "kind": "strength",
        "skills": ["mentoring"], "action_items": [{"description": "Bring two examples", "due_on": due}]})
    d.post("mentee", f"/v1/relationships/{first}/feedback/{given['feedback_id']}/receipt",
           {"reflection": "Fair; I rushed the trade-offs.", "usefulness": 4}, Idempotency_Key="rcpt-1")
    d.post("mentor", f"/v1/relationships/{first}/feedback/{back['feedback_id']}/receipt", {})
    d.post("mentee", f"/v1/relationships/{first}/actions/{given['action_items'][0]['action_id']}/completion",
           {"outcome": "Shared the table with the team"}, Idempotency_Key="done-1")
    d.post("coordinator", f"/v1/relationships/{first}/actions/{back['action_items'][0]['action_id']}/completion", {})
    d.post("coordinator", f"/v1/relationships/{first}/pause", {"reason": "Mentor on leave"}, status=200)
    d.post("coordinator", f"/v1/relationships/{first}/resume", {}, status=200, Idempotency_Key="resume-1")
    d.post("mentee", f"/v1/relationships/{first}/feedback", {
        "content": "General note\twith a tab\nand a line break.", "kind": "general", "skills": [], "action_items": []})
    d.post("mentee", f"/v1/relationships/{first}/end", {"reason": "Goals met; thank you!"}, status=200)

    second = d.post("coordinator", "/v1/relationships", {
        "program_id": "autumn-2026", "mentor_id": "mentor-8", "mentee_id": "mentée-13", "goals": []})["id"]
    d.post("mentee2", f"/v1/relationships/{second}/feedback", {
        "content": "Ünïcödé and emoji 🙂 survive.", "kind": "strength", "skills": ["Écoute"], "action_items": []})
    d.post("coordinator", f"/v1/relationships/{second}/pause", {}, status=200)

    third = d.post("coordinator", "/v1/relationships", {
        "program_id": "spring-2026", "mentor_id": "mentor-8", "mentee_id": "mentee-12",
        "goals": ["Ship a project"]})["id"]
    for n in range(7):  # long enough for snapshots (the script sets a short interval)
        who = "mentor2" if n % 2 == 0 else "mentee"
        d.post(who, f"/v1/relationships/{third}/feedback", {
            "content": f"Note {n}: steady progress.", "kind": "general", "skills": ["planning"],
            "action_items": [{"description": f"Step {n}", "due_on": (date(2026, 3, 1) + timedelta(days=n)).isoformat()}]})
    return [first, second, third]


def answers(d: Driver, relationships: list[str]) -> dict[str, Any]:
    """What this release says about the program, as later releases must still say it."""
    expected: dict[str, Any] = {"relationships": {}}
    for rid in relationships:
        current = d.get("coordinator", f"/v1/relationships/{rid}")
        expected["relationships"][rid] = {
            "versions": {str(v): d.get("coordinator", f"/v1/relationships/{rid}?version={v}")
                         for v in range(1, current["version"] + 1)},
            "events": d.get("coordinator", f"/v1/relationships/{rid}/events?limit=500")["items"],
            "health_then": {str(v): d.get("coordinator", f"/v1/relationships/{rid}/health?version={v}")
                            for v in range(1, current["version"] + 1)},
        }
    expected["list"] = d.get("coordinator", "/v1/relationships?limit=500")["items"]
    expected["growth"] = {pid: d.get("coordinator", f"/v1/participants/{pid}/growth")
                          for pid, role in PEOPLE.values() if role == "participant"}
    expected["audit"] = d.get("auditor", "/v1/audit?limit=500")["items"]
    expected["audit_head"] = d.get("auditor", "/v1/audit/head")
    expected["verify"] = d.get("auditor", "/v1/audit/verify")
    return expected


def make(url: str, instance: str, env: dict[str, str]) -> dict[str, Any]:
    from api import create_app

    app = create_app({"TESTING": True, "DATABASE_URL": url, "STORE_ENV": env, "CLOCK": Clock(),
                      "SNAPSHOT_INTERVAL": 3, "PROJECTIONS_MODE": "inline"})
    driver = Driver(app)
    relationships = program(driver)
    expected = answers(driver, relationships)
    app.extensions["ledger"].close()
    return expected


def signing_env(target: Path) -> dict[str, str]:
    """The snapshot signing key of this golden store (made once, kept beside it: a test key, not a secret)."""
    key_file = target / "signing.key"
    if not key_file.exists():
        key_file.write_text(secrets.token_hex(32) + "\n")
    return {"LEDGER_SIGNING_KEY": key_file.read_text().strip()}


def sqlite_store(target: Path) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "ledger.sqlite3")
        expected = make(f"sqlite:///{path}", tmp, signing_env(target))
        with sqlite3.connect(path) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            conn.execute("PRAGMA journal_mode=DELETE")
        shutil.copyfile(path, target / "ledger.sqlite3")
    return expected


def postgres_store(target: Path, database_url: str) -> dict[str, Any]:
    import psycopg2

    def run(statement: str) -> None:
        conn = psycopg2.connect(database_url)
        conn.autocommit = True
        with conn.cursor() as cursor:
            cursor.execute(statement)
        conn.close()

    run(f'DROP SCHEMA IF EXISTS "{SCHEMA}" CASCADE')
    with tempfile.TemporaryDirectory() as tmp:
        expected = make(database_url, tmp, {"POSTGRES_SCHEMA": SCHEMA, **signing_env(target)})
    dump = subprocess.run(["pg_dump", "--no-owner", "--no-privileges", "--schema", SCHEMA, database_url],  # nosec
                          check=True, capture_output=True, text=True).stdout
    (target / "ledger.pg.sql").write_text(dump)
    run(f'DROP SCHEMA IF EXISTS "{SCHEMA}" CASCADE')
    return expected


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("release", help="the release the store is written by, e.g. 0.1.0")
    parser.add_argument("--database-url", default=os.environ.get("TEST_DATABASE_URL")
                        or "postgresql://postgres@127.0.0.1:5432/mentorship_ledger_test")
    args = parser.parse_args(argv)
    target = HERE / args.release
    target.mkdir(parents=True, exist_ok=True)
    expected = {"release": args.release, "sqlite": sqlite_store(target),
                "postgres": postgres_store(target, args.database_url)}
    (target / "expected.json").write_text(json.dumps(expected, indent=1, ensure_ascii=False, sort_keys=True) + "\n")
    print(f"golden store of {args.release} written to {target}", file=sys.stderr)


if __name__ == "__main__":
    main()
