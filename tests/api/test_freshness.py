"""Reads answered from memory are never stale: a process asks the store about a relationship again as soon as
anything was written anywhere since it last did (the store's position is read with each request's token)."""

from __future__ import annotations

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
