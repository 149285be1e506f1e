"""Derived state that cannot lie: snapshots, idempotency records and index rows edited in the database, on
both stores. Each edit is either reported by /v1/audit/verify (naming it) or has no effect on any answer,
and none of them grants access."""

from __future__ import annotations

import sqlite3

import pytest

from tests import pg
from tests.api.conftest import build_service

SNAPSHOT_EVERY = 5


class Database:
    """Direct SQL on the service's store, as someone with database access would do."""

    def __init__(self, store) -> None:
        self.store = store
        self.path = store.database_url.removeprefix("sqlite:///") if store.kind == "sqlite" else None
        self.snapshots = "stored_snapshots" if self.path else "mentorshipledger_snapshots"
        self.events = "stored_events" if self.path else "mentorshipledger_events"

    def run(self, sql: str, params: tuple = ()) -> list[tuple]:
        if self.path:
            with sqlite3.connect(self.path) as conn:
                return conn.execute(sql.replace("%s", "?"), params).fetchall()
        return pg.execute(self.store.schema, sql, params)

    def snapshot_rows(self) -> list[tuple]:
        return [(str(i), v, bytes(s)) for i, v, s in
                self.run(f"SELECT originator_id, originator_version, state FROM {self.snapshots}")]


@pytest.fixture
def world(store, tmp_path):
    service = build_service(store, tmp_path, PROJECTIONS_MODE="inline", SNAPSHOT_INTERVAL=SNAPSHOT_EVERY)
    rid = service.start()["id"]
    given = [service.post("mentor", f"/v1/relationships/{rid}/feedback",
                          {"content": f"note {n}", "kind": "general", "skills": ["s"]}, Idempotency_Key=f"k-{n}")
             for n in range(SNAPSHOT_EVERY)]
    assert [g.status_code for g in given] == [201] * SNAPSHOT_EVERY
    yield service, rid, Database(store), store, tmp_path
    service.app.extensions["ledger"].close()


def fresh(store, tmp_path):
    """Another process of the same deployment: nothing held in memory, the same signing key."""
    return build_service(store, tmp_path, PROJECTIONS_MODE="inline", SNAPSHOT_INTERVAL=SNAPSHOT_EVERY)


def verified(service) -> dict:
    answer = service.get("auditor", "/v1/audit/verify")
    assert answer.status_code == 200
    return answer.json


def test_an_untouched_store_verifies_with_its_derived_state(world):
    service, _, database, _, _ = world
    assert len(database.snapshot_rows()) == 1
    answer = verified(service)
    assert answer["ok"] is True
    assert answer["derived"] == {"snapshots_checked": 1, "idempotency_records_checked": SNAPSHOT_EVERY,
                                 "index_rows_checked": 1, "problems_found": 0, "problems": []}


def test_an_edited_snapshot_is_never_served_never_grants_access_and_is_reported(world):
    service, rid, database, store, tmp_path = world
    ((snapshot_id, version, state),) = database.snapshot_rows()
    assert b"mentee-12" in state
    database.run(f"UPDATE {database.snapshots} SET state = %s", (state.replace(b"mentee-12", b"mentor-99"),))
    other = fresh(store, tmp_path)
    try:
        assert other.get("outsider", f"/v1/relationships/{rid}").status_code == 404
        assert [r["id"] for r in other.get("outsider", "/v1/relationships").json["items"]] == []
        served = other.get("coordinator", f"/v1/relationships/{rid}").json
        assert served["mentee_id"] == "mentee-12" and served["version"] == SNAPSHOT_EVERY + 1
        assert other.get("mentee", f"/v1/relationships/{rid}").status_code == 200
        answer = verified(other)
        assert answer["ok"] is False and answer["derived"]["problems"] == [
            {"kind": "snapshot", "id": rid, "version": version, "problem": "signature does not verify; not used"}]
    finally:
        other.app.extensions["ledger"].close()


def test_a_snapshot_moved_to_another_relationship_is_not_used(world):
    service, rid, database, store, tmp_path = world
    other_rid = service.start(mentor_id="mentor-99", mentee_id="mentee-98")["id"]
    ((_, _, state),) = database.snapshot_rows()
    stored_id = other_rid.replace("-", "") if database.path else other_rid
    database.run(f"INSERT INTO {database.snapshots} (originator_id, originator_version, topic, state) "
                 f"SELECT %s, 1, topic, state FROM {database.snapshots}", (stored_id,))
    other = fresh(store, tmp_path)
    try:
        served = other.get("coordinator", f"/v1/relationships/{other_rid}").json
        assert (served["mentor_id"], served["mentee_id"], served["feedback"]) == ("mentor-99", "mentee-98", [])
        assert other.get("mentor", f"/v1/relationships/{other_rid}").status_code == 404
        problems = verified(other)["derived"]["problems"]
        assert [(p["kind"], p["id"], p["version"]) for p in problems] == [("snapshot", other_rid, 1)]
    finally:
        other.app.extensions["ledger"].close()


def test_a_deleted_snapshot_changes_no_answer(world):
    service, rid, database, store, tmp_path = world
    before = service.get("coordinator", f"/v1/relationships/{rid}").json
    database.run(f"DELETE FROM {database.snapshots}")
    other = fresh(store, tmp_path)
    try:
        assert other.get("coordinator", f"/v1/relationships/{rid}").json == before
        assert verified(other)["ok"] is True
    finally:
        other.app.extensions["ledger"].close()


def test_only_the_newest_snapshot_is_kept(world):
    service, rid, database, _, _ = world
    for n in range(SNAPSHOT_EVERY * 2):
        service.post("mentee", f"/v1/relationships/{rid}/feedback", {"content": f"more {n}", "kind": "general"})
    assert [(i.replace("-", ""), v) for i, v, _ in database.snapshot_rows()] == [
        (rid.replace("-", ""), SNAPSHOT_EVERY * 3)]


def test_an_edited_idempotency_record_is_not_replayed_and_is_reported(world):
    service, rid, database, store, tmp_path = world
    rows = database.run(f"SELECT originator_id, state FROM {database.events} WHERE topic LIKE %s",
                        ("%CommandAccepted",))
    key = service.app.extensions["ledger"].stored_key("k-1").encode()  # (a client's key is kept as a digest)
    edited = [(i, bytes(s)) for i, s in rows if b'"key":"' + key + b'"' in bytes(s)]
    assert len(edited) == 1 and b'"relationship_version":3' in edited[0][1]
    record_id, state = edited[0]
    database.run(f"UPDATE {database.events} SET state = %s WHERE originator_id = %s",
                 (state.replace(b'"relationship_version":3', b'"relationship_version":4'), record_id))
    other = fresh(store, tmp_path)
    try:
        again = other.post("mentor", f"/v1/relationships/{rid}/feedback",
                           {"content": "note 1", "kind": "general", "skills": ["s"]}, Idempotency_Key="k-1")
        assert again.status_code == 409 and again.json["title"] == "Record inconsistent"
        untouched = other.post("mentor", f"/v1/relationships/{rid}/feedback",
                               {"content": "note 2", "kind": "general", "skills": ["s"]}, Idempotency_Key="k-2")
        assert untouched.status_code == 201 and untouched.headers["Idempotent-Replayed"] == "true"
        answer = verified(other)
        assert answer["ok"] is False
        assert [(p["kind"], p["problem"]) for p in answer["derived"]["problems"]] == [
            ("idempotency record", f"points at {rid}@4, which another command wrote")]
    finally:
        other.app.extensions["ledger"].close()


def test_an_outsider_written_into_the_index_sees_nothing_and_it_is_reported(world):
    service, rid, _, _, _ = world
    view = service.app.extensions["projections"].view("relationship_index")
    with view.store.transaction(write=True) as cursor:
        cursor.execute(f"UPDATE {view.table('relationships')} SET mentee_id = 'mentor-99'")
    assert service.get("outsider", "/v1/relationships").json["items"] == []
    assert service.get("outsider", f"/v1/relationships/{rid}").status_code == 404
    answer = verified(service)
    assert answer["ok"] is False and answer["derived"]["problems"] == [
        {"kind": "relationship index row", "id": rid, "version": None,
         "problem": "program or participants differ from the events"}]


def test_on_postgresql_the_snapshots_table_is_vacuumed_and_the_events_table_is_append_only(world):
    _, _, database, store, _ = world
    if store.kind != "postgres":
        pytest.skip("PostgreSQL's table settings")
    options = dict(database.run("SELECT relname, coalesce(array_to_string(reloptions, ','), '') FROM pg_class "
                                "WHERE relname IN (%s, %s)", (database.snapshots, database.events)))
    assert "autovacuum_vacuum_threshold" not in options[database.snapshots]
    assert "autovacuum_vacuum_threshold=100000000" in options[database.events]
