"""Reads answered from memory are never stale: a process asks the store about a relationship again as soon as
anything was written anywhere since it last did (the store's position is read with each request's token)."""

from __future__ import annotations

import re
import sqlite3
import time

from persistence.stores import sqlite_reads
from tests.api.conftest import build_service


def test_a_write_by_another_process_is_seen_by_the_next_read(store, tmp_path):
    first = build_service(store, tmp_path / "a", PROJECTIONS_MODE="inline")
    second = build_service(store, tmp_path / "b", PROJECTIONS_MODE="inline")  # another API process, same store
    try:
        rid = first.start()["id"]
        for _ in range(3):  # read, and read again: answered from memory when nothing changed
            assert first.get("mentor", f"/v1/relationships/{rid}").json["version"] == 1
        second.give(rid)
        after = first.get("mentor", f"/v1/relationships/{rid}")
        assert after.json["version"] == 2 and after.headers["ETag"] == '"2"'
        assert first.get("mentee", f"/v1/relationships/{rid}/health").json["feedback_given"]["by_mentor"] == 1
        second.post("coordinator", f"/v1/relationships/{rid}/pause", {"reason": "holiday"})
        refused = first.post("mentor", f"/v1/relationships/{rid}/feedback", {"content": "x", "kind": "general"})
        assert refused.status_code == 409  # decided on the fresh state: paused by the other process
    finally:
        first.app.extensions["ledger"].close()
        second.app.extensions["ledger"].close()


def test_views_read_in_embedded_mode_catch_up_with_writes_another_process_left_unprojected(store, tmp_path):
    """A read skips catching up only when the store's position, read with its token, shows nothing new: events
    written by a process that keeps no views (a worker's job) are in the very next read's answer."""
    reader = build_service(store, tmp_path / "a", PROJECTIONS_MODE="inline")
    writer = build_service(store, tmp_path / "b", PROJECTIONS_MODE="worker")
    try:
        rid = reader.start()["id"]
        for _ in range(3):  # nothing new: answered without catching up
            assert reader.get("mentee", f"/v1/relationships/{rid}/health").json["feedback_given"]["by_mentor"] == 0
        writer.give(rid)
        assert reader.get("mentee", f"/v1/relationships/{rid}/health").json["feedback_given"]["by_mentor"] == 1
        page = reader.get("coordinator", "/v1/health?limit=5").json["items"]
        assert [row["feedback_given"]["by_mentor"] for row in page] == [1]
        listed = reader.get("coordinator", "/v1/relationships?limit=5").json["items"]
        assert [row["version"] for row in listed] == [2]
    finally:
        reader.app.extensions["ledger"].close()
        writer.app.extensions["ledger"].close()


def counted(recorder, name):
    """Count the calls of one of a recorder's methods (each still goes to the store)."""
    calls = []
    method = getattr(recorder, name)

    def counting(*args, **kwargs):
        calls.append(args)
        return method(*args, **kwargs)

    setattr(recorder, name, counting)
    return calls


def test_a_command_after_another_process_wrote_decides_on_the_current_state_without_losing_a_race(store, tmp_path):
    """The relationship's newest version is read with the request's token: a copy held in memory that another
    process has left behind is brought up to date before deciding, so the first save is the one that lands."""
    first = build_service(store, tmp_path / "a", PROJECTIONS_MODE="inline")
    second = build_service(store, tmp_path / "b", PROJECTIONS_MODE="inline")
    try:
        rid = first.start()["id"]
        first.give(rid)  # held in memory by the first process at version 2
        second.give(rid)  # version 3, by the other process
        saves = counted(first.app.extensions["ledger"].recorder, "insert_events")
        answer = first.post("mentor", f"/v1/relationships/{rid}/feedback", {"content": "More.", "kind": "general"})
        assert answer.status_code == 201 and answer.headers["ETag"] == '"4"'
        assert len(saves) == 1  # no save refused on the version, no second attempt
        assert first.get("mentor", f"/v1/relationships/{rid}").json["version"] == 4
    finally:
        first.app.extensions["ledger"].close()
        second.app.extensions["ledger"].close()


def test_a_relationship_nobody_wrote_to_is_answered_from_memory_while_others_change(store, tmp_path):
    """Writes elsewhere move the store's position; the relationship's own version, read with the token, shows
    that the copy held is current: no events are read for it."""
    first = build_service(store, tmp_path / "a", PROJECTIONS_MODE="inline")
    second = build_service(store, tmp_path / "b", PROJECTIONS_MODE="inline")
    try:
        rid, other = first.start()["id"], first.start()["id"]
        assert first.get("mentor", f"/v1/relationships/{rid}").json["version"] == 1
        second.give(other)
        reads = counted(first.app.extensions["ledger"].recorder, "select_events")
        assert first.get("mentor", f"/v1/relationships/{rid}").json["version"] == 1
        assert reads == []
        second.give(rid)  # and once it does change, the next read has it
        assert first.get("mentor", f"/v1/relationships/{rid}").json["version"] == 2
    finally:
        first.app.extensions["ledger"].close()
        second.app.extensions["ledger"].close()


def test_views_catch_up_behind_a_burst_of_commands_in_one_go_and_a_read_never_misses_them(store, tmp_path):
    """Embedded mode under the production command (CATCH_UP_WITHIN > 0): commands are answered before the
    views catch up; the commands of that moment are applied together, once; a read in between catches up
    first, so it never misses a write."""
    service = build_service(store, tmp_path, PROJECTIONS_MODE="inline", CATCH_UP_WITHIN=0.5)
    projections = service.app.extensions["projections"]
    ledger = service.app.extensions["ledger"]
    rounds = counted(projections, "_catch_up")
    try:
        rid = service.start()["id"]
        for _ in range(4):
            service.give(rid)
        head = ledger.position()
        assert min(projections.positions().values()) < head  # answered before the views caught up
        deadline = time.monotonic() + 10
        while min(projections.positions().values()) < head and time.monotonic() < deadline:
            time.sleep(0.05)
        assert projections.positions() == dict.fromkeys(projections.positions(), head)  # nobody read: caught up
        assert len(rounds) == 1  # five commands, one catch-up

        service.give(rid)  # and a read before the promised catch-up: it catches up itself
        assert service.get("mentee", f"/v1/relationships/{rid}/health").json["feedback_given"]["by_mentor"] == 5
        assert [row["version"] for row in service.get("coordinator", "/v1/relationships?limit=5").json["items"]] \
            == [6]
    finally:
        projections.cancel_soon()
        ledger.close()


def test_without_a_moment_to_wait_views_catch_up_before_the_command_is_answered(store, tmp_path):
    service = build_service(store, tmp_path, PROJECTIONS_MODE="inline", CATCH_UP_WITHIN=0)
    projections = service.app.extensions["projections"]
    try:
        rid = service.start()["id"]
        service.give(rid)
        head = service.app.extensions["ledger"].position()
        assert projections.positions() == dict.fromkeys(projections.positions(), head)
    finally:
        service.app.extensions["ledger"].close()


def signed_in_pages(service, who: str):
    """The service's test client signed in to the pages (/app) with ``who``'s token."""
    client = service.client
    form = client.get("https://localhost/app/sign-in").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    answer = client.post("https://localhost/app/sign-in", data={"token": service.tokens[who], "csrf_token": csrf})
    assert answer.status_code == 302
    return client


def test_the_pages_audit_export_holds_every_write_acknowledged_before_it(store, tmp_path):
    """The auditor's download from the pages catches up first, as every query does, while views would
    otherwise catch up only behind the commands (and never, here, within the test)."""
    service = build_service(store, tmp_path, PROJECTIONS_MODE="inline", CATCH_UP_WITHIN=600)
    pages = signed_in_pages(service, "auditor")
    try:
        rid = service.start()["id"]
        service.give(rid)
        head = service.app.extensions["ledger"].position()
        for kind in ("csv", "ndjson"):
            lines = pages.get(f"https://localhost/app/audit/export.{kind}").get_data(as_text=True).strip()
            assert len(lines.splitlines()) - (kind == "csv") == head  # one entry per event (CSV: and a header)
    finally:
        service.app.extensions["projections"].cancel_soon()
        service.app.extensions["ledger"].close()


def test_a_busy_sqlite_store_answers_the_token_check_503_not_500(sqlite_store, tmp_path):
    """The token check runs its one statement outside a library transaction: a locked database is still the
    store being unavailable for a moment (503, Retry-After), not a failure of the service."""
    sqlite_store.extra_env["SQLITE_LOCK_TIMEOUT"] = "1"
    service = build_service(sqlite_store, tmp_path)
    try:
        rid = service.start()["id"]
        datastore = service.app.extensions["ledger"].factory.datastore
        pool = datastore.pool
        while pool._pool:  # noqa: SLF001 - connections opened before the lock would read from their snapshot
            pool._pool.popleft().close()  # noqa: SLF001
        sqlite_reads(datastore).close()  # the readers' kept connections too
        blocker = sqlite3.connect(sqlite_store.database_url.removeprefix("sqlite:///"), isolation_level=None)
        blocker.execute("PRAGMA locking_mode=EXCLUSIVE")
        blocker.execute("BEGIN EXCLUSIVE")
        blocker.execute("CREATE TABLE IF NOT EXISTS held (x)")
        try:
            answer = service.get("coordinator", f"/v1/relationships/{rid}")
        finally:
            blocker.rollback()
            blocker.close()
        assert (answer.status_code, answer.headers["Retry-After"]) == (503, "1")
        assert answer.json["detail"] == "The event store is unavailable; try again shortly."
    finally:
        service.app.extensions["ledger"].close()
