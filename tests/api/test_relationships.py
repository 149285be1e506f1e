"""Relationships over HTTP: start, read, replay, history and lifecycle."""

from __future__ import annotations

import pytest


def test_a_coordinator_starts_a_relationship(service):
    response = service.post("coordinator", "/v1/relationships", {
        "program_id": "spring-2026", "mentor_id": "mentor-7", "mentee_id": "mentee-12", "goals": ["Speak up"]})
    body = response.json
    assert response.status_code == 201
    assert response.headers["Location"] == f"/v1/relationships/{body['id']}"
    assert response.headers["ETag"] == '"1"'
    assert int(response.headers["X-Position"]) >= 1
    assert {k: body[k] for k in ("program_id", "mentor_id", "mentee_id", "goals", "status", "version")} == {
        "program_id": "spring-2026", "mentor_id": "mentor-7", "mentee_id": "mentee-12",
        "goals": ["Speak up"], "status": "active", "version": 1}
    assert body["feedback"] == [] and body["actions"] == []
    assert body["started_at"].endswith("Z")


def test_the_current_state_carries_an_etag(service):
    rid = service.start()["id"]
    service.give(rid)
    response = service.get("mentee", f"/v1/relationships/{rid}")
    assert response.status_code == 200
    assert response.headers["ETag"] == '"2"'
    assert response.json["feedback"][0]["recipient_id"] == "mentee-12"
    assert response.json["actions"][0]["owner_id"] == "mentee-12"


def test_a_past_version_is_replayed_without_an_etag(service):
    rid = service.start()["id"]
    service.give(rid)
    response = service.get("auditor", f"/v1/relationships/{rid}?version=1")
    assert response.status_code == 200
    assert response.json["version"] == 1 and response.json["feedback"] == []
    assert "ETag" not in response.headers


def test_a_version_beyond_the_current_one_is_not_found(service):
    rid = service.start()["id"]
    assert service.get("auditor", f"/v1/relationships/{rid}?version=2").status_code == 404


def test_the_state_as_of_a_time_is_replayed(service):
    rid = service.start()["id"]
    started_at = service.get("auditor", f"/v1/relationships/{rid}").json["started_at"]
    service.give(rid)
    assert service.get("auditor", f"/v1/relationships/{rid}?as_of={started_at}").json["version"] == 1
    assert service.get("auditor", f"/v1/relationships/{rid}?as_of=2999-01-01T00:00:00Z").json["version"] == 2
    assert service.get("auditor", f"/v1/relationships/{rid}?as_of=2000-01-01T00:00:00Z").status_code == 404


@pytest.mark.parametrize("query", ["version=1&as_of=2026-01-01T00:00:00Z", "version=0", "version=x",
                                   "as_of=yesterday", "as_of=2026-01-01T00:00:00", "colour=blue"])
def test_bad_replay_queries_are_unprocessable(service, query):
    rid = service.start()["id"]
    response = service.get("auditor", f"/v1/relationships/{rid}?{query}")
    assert response.status_code == 422
    assert response.json["errors"]


def test_history_lists_events_in_order_with_their_actors(service):
    rid = service.start()["id"]
    given = service.give(rid)
    service.post("mentee", f"/v1/relationships/{rid}/feedback/{given['feedback_id']}/receipt", {"usefulness": 5})
    response = service.get("mentor", f"/v1/relationships/{rid}/events")
    items = response.json["items"]
    assert [(i["version"], i["type"], i["actor"], i["actor_role"]) for i in items] == [
        (1, "RelationshipStarted", "ada", "coordinator"),
        (2, "FeedbackGiven", "mentor-7", "mentor"),
        (3, "FeedbackReceived", "mentee-12", "mentee"),
    ]
    assert items[2]["data"] == {"feedback_id": given["feedback_id"], "reflection": None, "usefulness": 5}
    assert response.json["next"] is None


def test_history_pages_follow_their_cursor(service):
    rid = service.start()["id"]
    for _ in range(4):
        service.give(rid, action_items=[])
    first = service.get("auditor", f"/v1/relationships/{rid}/events?limit=2").json
    second = service.get("auditor", f"/v1/relationships/{rid}/events?limit=2&cursor={first['next']}").json
    third = service.get("auditor", f"/v1/relationships/{rid}/events?limit=2&cursor={second['next']}").json
    versions = [i["version"] for page in (first, second, third) for i in page["items"]]
    assert versions == [1, 2, 3, 4, 5] and third["next"] is None


def test_history_starts_after_a_version(service):
    rid = service.start()["id"]
    service.give(rid)
    items = service.get("auditor", f"/v1/relationships/{rid}/events?after=1").json["items"]
    assert [i["version"] for i in items] == [2]


@pytest.mark.parametrize("query", ["cursor=%%%", "cursor=bm90IGpzb24", "limit=0", "limit=501", "after=-1"])
def test_bad_history_queries_are_unprocessable(service, query):
    rid = service.start()["id"]
    assert service.get("auditor", f"/v1/relationships/{rid}/events?{query}").status_code == 422


def test_a_relationship_is_paused_resumed_and_ended(service):
    rid = service.start()["id"]
    paused = service.post("coordinator", f"/v1/relationships/{rid}/pause", {"reason": "Holidays"})
    assert (paused.status_code, paused.json["status"], paused.headers["ETag"]) == (200, "paused", '"2"')
    assert service.post("coordinator", f"/v1/relationships/{rid}/resume").json["status"] == "active"
    ended = service.post("mentee", f"/v1/relationships/{rid}/end", {"reason": "Goals met"})
    assert (ended.status_code, ended.json["status"]) == (200, "ended")


@pytest.mark.parametrize("steps, refused", [
    (["pause"], "pause"),
    ([], "resume"),
    (["end"], "pause"),
    (["end"], "end"),
])
def test_lifecycle_rules_answer_conflict(service, steps, refused):
    rid = service.start()["id"]
    for step in steps:
        assert service.post("coordinator", f"/v1/relationships/{rid}/{step}").status_code == 200
    response = service.post("coordinator", f"/v1/relationships/{rid}/{refused}")
    assert response.status_code == 409
    assert response.json["type"].endswith("rule-broken")


def test_participants_neither_pause_nor_resume_but_may_end(service):
    rid = service.start()["id"]
    assert service.post("mentor", f"/v1/relationships/{rid}/pause").status_code == 403
    assert service.post("mentor", f"/v1/relationships/{rid}/end").status_code == 200


def test_a_reason_is_at_most_a_thousand_characters(service):
    rid = service.start()["id"]
    assert service.post("coordinator", f"/v1/relationships/{rid}/pause", {"reason": "x" * 1001}).status_code == 422


def test_a_long_relationship_can_be_read_with_its_most_recent_items_only(service):
    started = service.start()
    rid, day = started["id"], started["started_at"][:10]
    given = [service.give(rid, who="mentor" if n % 2 else "mentee", content=f"note {n}",
                          action_items=[{"description": f"step {n}"}]) for n in range(7)]
    service.post("mentor", f"/v1/relationships/{rid}/feedback/{given[0]['feedback_id']}/receipt", {"usefulness": 4})
    latest = given[-1]
    # the last was given by the mentee (n = 6): the mentor acknowledges it
    assert service.post("mentor", f"/v1/relationships/{rid}/feedback/{latest['feedback_id']}/receipt",
                        {"usefulness": 5}).status_code == 201
    for n in range(4):
        checked_in = service.post("mentor", f"/v1/relationships/{rid}/check-ins", {"held_on": day, "minutes": 30 + n})
        assert checked_in.status_code == 201, checked_in.json
    everything = service.get("coordinator", f"/v1/relationships/{rid}").json
    recent = service.get("coordinator", f"/v1/relationships/{rid}?limit=3")
    body = recent.json
    assert recent.headers["ETag"] == f'"{everything["version"]}"'
    assert body["totals"] == {"feedback": 7, "actions": 7, "check_ins": 4}
    assert body["feedback"] == everything["feedback"][-3:]
    assert body["actions"] == everything["actions"][-3:]
    assert body["check_ins"] == everything["check_ins"][-3:]
    assert body["feedback"][-1]["usefulness"] == 5 and "totals" not in everything
    assert {k: v for k, v in body.items() if k not in ("feedback", "actions", "check_ins", "totals")} == {
        k: v for k, v in everything.items() if k not in ("feedback", "actions", "check_ins")}
    empty = service.get("coordinator", f"/v1/relationships/{rid}?limit=0").json
    assert (empty["feedback"], empty["actions"], empty["check_ins"]) == ([], [], [])
    replayed = service.get("coordinator", f"/v1/relationships/{rid}?limit=2&version=4")
    assert "ETag" not in replayed.headers and replayed.json["totals"]["feedback"] == 3
    assert service.get("coordinator", f"/v1/relationships/{rid}?limit=501").status_code == 422
