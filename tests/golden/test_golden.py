"""Stores written by earlier releases still load, replay, verify and rebuild, and answer as they did.

Each folder under ``tests/golden/`` holds one release's store (SQLite file and
PostgreSQL dump) and what that release answered about it (``make_golden.py``).
Answers may have grown fields since; every field the release gave must still be
given, with the same value.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess  # nosec B404 - psql, with fixed arguments
from pathlib import Path
from typing import Any

import pytest

from api import create_app
from tests import pg

HERE = Path(__file__).parent
RELEASES = sorted(p.name for p in HERE.iterdir() if (p / "expected.json").exists())


def contains(actual: Any, expected: Any, where: str = "") -> None:
    """``actual`` says everything ``expected`` says (dicts may have more keys)."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{where}: {actual!r} is not an object"
        for key, value in expected.items():
            assert key in actual, f"{where}.{key} is missing"
            contains(actual[key], value, f"{where}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list) and len(actual) == len(expected), f"{where}: {actual!r} != {expected!r}"
        for n, (a, e) in enumerate(zip(actual, expected, strict=True)):
            contains(a, e, f"{where}[{n}]")
    else:
        assert actual == expected, f"{where}: {actual!r} != {expected!r}"


class Reader:
    """The current service on a golden store, as an auditor and a coordinator."""

    def __init__(self, url: str, env: dict[str, str], release: str) -> None:
        self.app = create_app({"TESTING": True, "DATABASE_URL": url, "STORE_ENV": {**env, **signing(release)},
                               "PROJECTIONS_MODE": "inline", **golden_keys(release)})
        tokens = self.app.extensions["tokens"]
        self.headers = {role: {"Authorization": f"Bearer {tokens.issue(pid, role)}"}
                        for pid, role in (("ada", "coordinator"), ("audrey", "auditor"))}
        self.client = self.app.test_client()

    def get(self, path: str, role: str = "coordinator") -> Any:
        response = self.client.get(path, headers=self.headers[role])
        assert response.status_code == 200, (path, response.get_json())
        return response.get_json()

    def close(self) -> None:
        self.app.extensions["ledger"].close()


def signing(release: str) -> dict[str, str]:
    """The key the release's snapshots were signed with (releases from 0.2.0 on)."""
    key_file = HERE / release / "signing.key"
    return {"LEDGER_SIGNING_KEY": key_file.read_text().strip()} if key_file.exists() else {}


def golden_keys(release: str) -> dict[str, str]:
    key_file = HERE / release / "master.key"
    return {"LEDGER_MASTER_KEY": key_file.read_text().strip()} if key_file.exists() else {}


def says_what_it_said(reader: Reader, expected: dict[str, Any]) -> None:
    for rid, said in expected["relationships"].items():
        for version, state in said["versions"].items():
            contains(reader.get(f"/v1/relationships/{rid}?version={version}"), state, f"{rid}@{version}")
            contains(reader.get(f"/v1/relationships/{rid}/health?version={version}"), said["health_then"][version],
                     f"{rid} health@{version}")
        contains(reader.get(f"/v1/relationships/{rid}/events?limit=500")["items"], said["events"], f"{rid} events")
    contains(reader.get("/v1/relationships?limit=500")["items"], expected["list"], "list")
    for pid, growth in expected["growth"].items():
        contains(reader.get(f"/v1/participants/{pid}/growth"), growth, f"growth of {pid}")
    contains(reader.get("/v1/audit?limit=500", "auditor")["items"], expected["audit"], "audit")
    head = expected["audit_head"]
    verified = reader.get(f"/v1/audit/verify?head_position={head['position']}&head_hash={head['hash']}", "auditor")
    assert verified["ok"] is True, verified
    assert verified["entries_checked"] == expected["verify"]["entries_checked"]


def rebuilds_to_the_same(reader: Reader, expected: dict[str, Any]) -> None:
    result = reader.app.test_cli_runner().invoke(args=["projections", "rebuild"])
    assert result.exit_code == 0, result.output
    says_what_it_said(reader, expected)


@pytest.mark.parametrize("release", RELEASES)
def test_a_golden_sqlite_store_loads_replays_verifies_and_rebuilds(release, tmp_path):
    path = tmp_path / "ledger.sqlite3"
    shutil.copyfile(HERE / release / "ledger.sqlite3", path)
    expected = json.loads((HERE / release / "expected.json").read_text())["sqlite"]
    reader = Reader(f"sqlite:///{path}", {}, release)
    try:
        says_what_it_said(reader, expected)
        rebuilds_to_the_same(reader, expected)
    finally:
        reader.close()


@pytest.mark.postgres
@pytest.mark.parametrize("release", RELEASES)
def test_a_golden_postgres_dump_loads_replays_verifies_and_rebuilds(release):
    pg.require_postgres()
    schema = pg.new_schema()
    dump = (HERE / release / "ledger.pg.sql").read_text()
    restore(re.sub(r"\bgolden\b", schema, dump))
    expected = json.loads((HERE / release / "expected.json").read_text())["postgres"]
    reader = Reader(pg.database_url(), {"POSTGRES_SCHEMA": schema}, release)
    try:
        says_what_it_said(reader, expected)
        rebuilds_to_the_same(reader, expected)
    finally:
        reader.close()
        pg.drop_schema(schema)


def restore(sql: str) -> None:
    """Load a plain pg_dump into the test database, as an operator would: with psql."""
    subprocess.run(["psql", "--quiet", "--no-psqlrc", "-v", "ON_ERROR_STOP=1", "-d", pg.database_url()],  # nosec
                   input=sql, text=True, check=True, capture_output=True)
