"""Editing, deleting or reordering stored events behind the ledger's back is caught by verification."""

from __future__ import annotations

import sqlite3

import pytest

from projections.audit import AuditFilter
from projections.queries import LedgerQueries
from projections.service import Projections
from tests import pg
from tests.support import AUDITOR, MENTEE, feedback, open_ledger, start

EVENTS_TABLE = "mentorshipledger_events"


class Tamperer:
    """Direct SQL on the store, as someone with database access and bad intentions would do."""

    def __init__(self, store, tmp_path):
        self.store = store
        self.path = store.database_url.removeprefix("sqlite:///") if store.kind == "sqlite" else None

    def run(self, sqlite_sql: str, postgres_sql: str, params: tuple) -> None:
        if self.path:
            with sqlite3.connect(self.path) as conn:
                conn.execute(sqlite_sql, params)
        else:
            pg.execute(self.store.schema, postgres_sql, params)

    def state(self, position: int) -> bytes:
        if self.path:
            with sqlite3.connect(self.path) as conn:
                return conn.execute("SELECT state FROM stored_events WHERE rowid = ?", (position,)).fetchone()[0]
        return bytes(pg.execute(self.store.schema, f"SELECT state FROM {EVENTS_TABLE} WHERE notification_id = %s",
                                (position,))[0][0])

    def edit(self, position: int, old: bytes, new: bytes) -> None:
        state = self.state(position).replace(old, new)
        self.run("UPDATE stored_events SET state = ? WHERE rowid = ?",
                 f"UPDATE {EVENTS_TABLE} SET state = %s WHERE notification_id = %s", (state, position))

    def delete(self, position: int) -> None:
        self.run("DELETE FROM stored_events WHERE rowid = ?",
                 f"DELETE FROM {EVENTS_TABLE} WHERE notification_id = %s", (position,))

    def swap(self, first: int, second: int) -> None:
        parking = 1_000_000
        for old, new in ((first, parking), (second, first), (parking, second)):
            self.run("UPDATE stored_events SET rowid = ? WHERE rowid = ?",
                     f"UPDATE {EVENTS_TABLE} SET notification_id = %s WHERE notification_id = %s", (new, old))


@pytest.fixture
def world(store, tmp_path):
    ledger = open_ledger(store, str(tmp_path), SNAPSHOT_INTERVAL="0")
    projections = Projections(ledger)
    rid = start(ledger).relationship_id
    for n in range(4):
        feedback(ledger, rid, content=f"note number {n}", skills=[f"note number {n}"], action_items=[])  # skills: plain
    ledger.end_relationship(MENTEE, rid, reason="finished")
    projections.catch_up()
    yield LedgerQueries(ledger, projections), Tamperer(store, tmp_path), projections
    ledger.close()


def test_an_untouched_store_verifies(world):
    queries, _, _ = world
    assert queries.verify_audit(AUDITOR) == {
        "ok": True, "entries_checked": 6, "first_mismatch": None, "problem": None, "as_of_position": 6,
        "from_position": 0,
        "derived": {"snapshots_checked": 0, "idempotency_records_checked": 0, "index_rows_checked": 1,
                    "problems_found": 0, "problems": []}}


def test_an_edited_event_is_reported_at_its_position(world):
    queries, tamper, _ = world
    tamper.edit(3, b"note number 1", b"note number X")
    result = queries.verify_audit(AUDITOR)
    assert (result["ok"], result["first_mismatch"], result["entries_checked"]) == (False, 3, 2)


def test_an_event_edited_beyond_reading_is_reported(world):
    queries, tamper, _ = world
    tamper.edit(4, b"{", b"[")
    assert queries.verify_audit(AUDITOR)["first_mismatch"] == 4


def test_a_deleted_event_is_reported_at_its_position(world):
    queries, tamper, _ = world
    tamper.delete(2)
    result = queries.verify_audit(AUDITOR)
    assert (result["ok"], result["first_mismatch"]) == (False, 2)


def test_reordered_events_are_reported_at_the_first_moved_position(world):
    queries, tamper, _ = world
    tamper.swap(3, 5)
    result = queries.verify_audit(AUDITOR)
    assert (result["ok"], result["first_mismatch"]) == (False, 3)


def test_an_edited_trail_entry_is_reported(world):
    queries, _, projections = world
    view = projections.view("audit_trail")
    with view.store.transaction(write=True) as cursor:
        cursor.execute(f"UPDATE {view.table('audit_trail')} SET actor = 'someone-else' WHERE position = 4")
    assert queries.verify_audit(AUDITOR)["first_mismatch"] == 4


def test_a_kept_head_proves_nothing_before_it_changed(world):
    queries, tamper, projections = world
    head = queries.audit_head(AUDITOR)
    ledger = queries.ledger
    start(ledger)
    projections.catch_up()
    assert queries.verify_audit(AUDITOR, (head["position"], head["hash"]))["ok"] is True
    # Rewrite history consistently: events and trail both rebuilt from the forged store.
    tamper.edit(2, b"note number 0", b"note number Z")
    projections.rebuild("audit_trail")
    assert queries.verify_audit(AUDITOR)["ok"] is True
    result = queries.verify_audit(AUDITOR, (head["position"], head["hash"]))
    assert (result["ok"], result["first_mismatch"]) == (False, head["position"])


def test_entries_are_filtered_in_store_order(world):
    queries, _, _ = world
    page = queries.audit_page(AUDITOR, AuditFilter(type="FeedbackGiven"), 0, 2)
    assert [e["position"] for e in page] == [2, 3]
    assert [e["position"] for e in queries.audit_page(AUDITOR, AuditFilter(type="FeedbackGiven"), 3, 10)] == [4, 5]
    assert [e["position"] for e in queries.audit_page(AUDITOR, AuditFilter(actor="mentee-12"), 0, 10)] == [6]


# -- seals: the fast walk, and incremental verification from a checkpoint -------------------------------------


def trail_sql(projections, sql: str, params: tuple = ()) -> None:
    view = projections.view("audit_trail")
    with view.store.transaction(write=True) as cursor:
        cursor.execute(sql.format(trail=view.table("audit_trail"), checkpoint=view.table("audit_checkpoint")), params)


def test_every_entry_is_sealed_and_a_forged_seal_is_reported(world):
    queries, _, projections = world
    view = projections.view("audit_trail")
    with view.store.transaction(write=False) as cursor:
        assert view.all_sealed(cursor)
    trail_sql(projections, "UPDATE {trail} SET seal = ? WHERE position = 3", ("0" * 64,))
    result = queries.verify_audit(AUDITOR)
    assert (result["ok"], result["first_mismatch"], result["entries_checked"]) == (False, 3, 2)


def test_entries_without_a_seal_are_verified_the_slow_way(world):
    queries, tamper, projections = world
    trail_sql(projections, "UPDATE {trail} SET seal = NULL WHERE position = 4")
    assert queries.verify_audit(AUDITOR)["ok"] is True
    tamper.edit(5, b"note number 3", b"note number Y")  # the slow walk decodes and compares every event
    assert queries.verify_audit(AUDITOR)["first_mismatch"] == 5


def test_incremental_verification_checks_only_what_is_new_from_a_sealed_checkpoint(world):
    queries, tamper, projections = world
    first = queries.verify_audit(AUDITOR, incremental=True)
    assert (first["ok"], first["from_position"], first["entries_checked"]) == (True, 0, 6)
    ledger = queries.ledger
    rid = start(ledger).relationship_id
    feedback(ledger, rid, content="after the checkpoint", action_items=[])
    projections.catch_up()
    second = queries.verify_audit(AUDITOR, incremental=True)
    assert (second["ok"], second["from_position"], second["entries_checked"]) == (True, 6, 2)
    # An edit before the checkpoint is the full verification's to find; one after it, the incremental one's.
    tamper.edit(2, b"note number 0", b"note number Q")
    assert queries.verify_audit(AUDITOR, incremental=True)["ok"] is True
    assert queries.verify_audit(AUDITOR)["first_mismatch"] == 2
    feedback(ledger, rid, content="one more note", skills=["one more note"], action_items=[])
    projections.catch_up()
    tamper.edit(9, b"one more note", b"one more NOTE")
    third = queries.verify_audit(AUDITOR, incremental=True)
    assert (third["ok"], third["from_position"], third["first_mismatch"]) == (False, 8, 9)


def test_a_forged_checkpoint_is_not_believed(world):
    queries, _, projections = world
    queries.verify_audit(AUDITOR, incremental=True)
    trail_sql(projections, "UPDATE {checkpoint} SET position = 5")  # its seal no longer matches
    again = queries.verify_audit(AUDITOR, incremental=True)
    assert (again["ok"], again["from_position"], again["entries_checked"]) == (True, 0, 6)


def test_the_command_line_verifies_with_progress_and_an_exit_status(sqlite_store, tmp_path):
    from api import create_app

    app = create_app({"TESTING": True, "DATABASE_URL": sqlite_store.database_url})
    ledger = app.extensions["ledger"]
    rid = start(ledger).relationship_id
    feedback(ledger, rid, content="a note", action_items=[])
    runner = app.test_cli_runner()
    result = runner.invoke(args=["audit", "verify", "--incremental"])
    assert result.exit_code == 0, result.output
    assert '"ok": true' in result.stdout and "2 entries checked" in result.stderr
    again = runner.invoke(args=["audit", "verify", "--incremental"])
    assert '"from_position": 2' in again.stdout and "0 entries checked" in again.stderr
    view = app.extensions["projections"].view("audit_trail")
    with view.store.transaction(write=True) as cursor:
        cursor.execute(f"UPDATE {view.table('audit_trail')} SET summary = 'nothing happened' WHERE position = 2")
    broken = runner.invoke(args=["audit", "verify"])
    assert broken.exit_code == 1 and '"first_mismatch": 2' in broken.stdout and "NOT OK" in broken.stderr
    ledger.close()


@pytest.fixture
def long_world(store, tmp_path):
    """A chain long enough to be verified in slices by other processes."""
    from bench.data import populate

    ledger = open_ledger(store, str(tmp_path), SNAPSHOT_INTERVAL="0")
    populate(ledger, 1100, 20)  # 22,000 events
    projections = Projections(ledger)
    projections.catch_up([projections.view("audit_trail")])
    yield LedgerQueries(ledger, projections), Tamperer(store, tmp_path)
    ledger.close()


def test_verification_in_slices_agrees_with_one_walk_and_finds_an_edit_in_any_slice(long_world):
    queries, tamper = long_world
    whole = queries.verify_audit(AUDITOR)
    head = queries.audit_head(AUDITOR)
    sliced = queries.verify_audit(AUDITOR, (head["position"], head["hash"]), processes=2)
    assert whole["ok"] and sliced["ok"] and sliced["entries_checked"] == whole["entries_checked"] == 22_000
    late = 20_000
    state = tamper.state(late)
    tamper.run("UPDATE stored_events SET state = ? WHERE rowid = ?",
               f"UPDATE {EVENTS_TABLE} SET state = %s WHERE notification_id = %s", (state.replace(b'"', b"'", 1), late))
    broken = queries.verify_audit(AUDITOR, processes=2)
    assert (broken["ok"], broken["first_mismatch"], broken["entries_checked"]) == (False, late, late - 1)
