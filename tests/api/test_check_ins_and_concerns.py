"""Check-ins (a meeting took place) and concerns (a private note to the coordinators), through the API."""

from __future__ import annotations

import pytest

from tests.api.conftest import build_service

START_DAY = "2026-01-05"  # the test clock starts on this day


@pytest.fixture
def world(store, tmp_path):
    service = build_service(store, tmp_path, PROJECTIONS_MODE="inline")
    rid = service.start()["id"]
    yield service, rid
    service.app.extensions["ledger"].close()


def check_in(service, rid, who="mentee", headers=None, **body):
    return service.post(who, f"/v1/relationships/{rid}/check-ins", {"held_on": START_DAY, "minutes": 30, **body},
                        **(headers or {}))


def raise_concern(service, rid, who="mentee", content="My mentor keeps cancelling."):
    return service.post(who, f"/v1/relationships/{rid}/concerns", {"content": content})


# -- check-ins -----------------------------------------------------------------------


def test_a_check_in_is_recorded_and_shown_with_the_relationship(world):
    service, rid = world
    response = check_in(service, rid, note="Went through the goals")
    assert response.status_code == 201 and response.headers["ETag"] == '"2"'
    body = response.json
    assert {k: body[k] for k in ("relationship_id", "version", "held_on", "minutes", "note", "recorded_by")} == {
        "relationship_id": rid, "version": 2, "held_on": START_DAY, "minutes": 30, "note": "Went through the goals",
        "recorded_by": "mentee-12"}
    state = service.get("coordinator", f"/v1/relationships/{rid}").json
    assert state["check_ins"] == [{k: body[k] for k in ("check_in_id", "held_on", "minutes", "note", "recorded_by",
                                                        "recorded_at")}]
    assert [e["type"] for e in service.get("mentor", f"/v1/relationships/{rid}/events").json["items"]] == [
        "RelationshipStarted", "CheckInHeld"]


@pytest.mark.parametrize("body, field", [
    ({"held_on": "2026-01-04"}, "held_on"),  # before the start
    ({"held_on": "2999-01-01"}, "held_on"),  # in the future
    ({"minutes": 0}, "minutes"),
    ({"minutes": 1441}, "minutes"),
    ({"minutes": "30"}, "minutes"),
    ({"note": "x" * 2001}, "note"),
    ({"held_on": "05/01/2026"}, "held_on"),
])
def test_an_impossible_check_in_is_refused_naming_the_field(world, body, field):
    service, rid = world
    response = check_in(service, rid, **body)
    assert response.status_code == 422 and list(response.json["errors"]) == [field], response.json
    assert service.get("coordinator", f"/v1/relationships/{rid}").json["version"] == 1


def test_the_longest_check_in_is_a_day(world):
    service, rid = world
    assert check_in(service, rid, minutes=1440).status_code == 201
    assert check_in(service, rid, minutes=1).status_code == 201


def test_only_the_participants_record_check_ins_and_not_while_paused(world):
    service, rid = world
    assert check_in(service, rid, who="coordinator").status_code == 403
    assert check_in(service, rid, who="outsider").status_code == 404
    service.post("coordinator", f"/v1/relationships/{rid}/pause", {})
    assert check_in(service, rid, who="mentor").status_code == 409


def test_check_ins_are_idempotent_and_conditional(world):
    service, rid = world
    first = check_in(service, rid, headers={"Idempotency_Key": "meet-1"})
    again = check_in(service, rid, headers={"Idempotency_Key": "meet-1"})
    assert again.status_code == 201 and again.json == first.json and again.headers["Idempotent-Replayed"] == "true"
    assert check_in(service, rid, headers={"If_Match": '"1"'}).status_code == 412
    assert check_in(service, rid, headers={"If_Match": '"2"'}).status_code == 201


def test_check_ins_count_as_contact_in_health(world):
    service, rid = world
    check_in(service, rid)
    health = service.get("coordinator", f"/v1/relationships/{rid}/health").json
    assert (health["check_ins"], health["last_check_in_on"], health["days_since_last_feedback"]) == (
        1, START_DAY, None)
    assert health["days_since_last_contact"] == 0


def test_the_audit_trail_filters_by_the_new_event_types(world):
    service, rid = world
    check_in(service, rid)
    entries = service.get("auditor", "/v1/audit?type=CheckInHeld").json["items"]
    assert [e["summary"] for e in entries] == ["mentee-12 recorded a 30-minute check-in held on 2026-01-05"]


# -- concerns ----------------------------------------------------------------------------


def test_a_concern_is_raised_without_changing_the_relationship(world):
    service, rid = world
    response = raise_concern(service, rid)
    assert response.status_code == 201 and response.headers["ETag"] == '"1"'
    body = response.json
    assert {k: body[k] for k in ("relationship_id", "raised_by", "raiser_role", "content", "status", "version",
                                 "resolved_by", "note")} == {
        "relationship_id": rid, "raised_by": "mentee-12", "raiser_role": "mentee",
        "content": "My mentor keeps cancelling.", "status": "open", "version": 1, "resolved_by": None, "note": None}
    relationship = service.get("mentor", f"/v1/relationships/{rid}")
    assert relationship.headers["ETag"] == '"1"' and relationship.json["version"] == 1


def test_the_other_participant_cannot_tell_a_concern_exists(world):
    service, rid = world
    before = {path: service.get("mentor", path).json for path in (
        f"/v1/relationships/{rid}", f"/v1/relationships/{rid}/events", f"/v1/relationships/{rid}/health",
        f"/v1/audit?relationship_id={rid}", f"/v1/relationships/{rid}/concerns")}
    concern = raise_concern(service, rid).json
    for path, seen in before.items():
        now = service.get("mentor", path).json
        if path.endswith("/health"):
            assert "open_concerns" not in now
            now, seen = ({k: v for k, v in x.items() if k not in ("as_of", "as_of_position")} for x in (now, seen))
        assert now == seen, path
    assert service.get("mentor", f"/v1/relationships/{rid}/concerns").json["items"] == []
    assert service.get("mentor", f"/v1/audit?relationship_id={rid}&type=ConcernRaised").json["items"] == []
    assert "My mentor" not in service.get("mentor", f"/v1/audit?relationship_id={rid}",
                                          Accept="application/x-ndjson").get_data(as_text=True)
    resolution = f"/v1/relationships/{rid}/concerns/{concern['concern_id']}/resolution"
    # A concern the caller may not see is 404, before the role's 403 (it was 403, as for one that exists).
    assert service.post("mentor", resolution, {}).status_code == 404
    unknown = f"/v1/relationships/{rid}/concerns/00000000-0000-4000-8000-000000000000/resolution"
    assert service.post("mentor", unknown, {}).status_code == 404
    assert service.post("mentee", unknown, {}).status_code == 404
    assert service.post("mentee", resolution, {}).status_code == 403  # the raiser sees it: a participant may not
    assert service.post("auditor", resolution, {}).status_code == 403  # auditors see every concern
    assert service.post("auditor", unknown, {}).status_code == 404
    assert service.get("coordinator", f"/v1/relationships/{rid}/concerns").json["items"][0]["status"] == "open"


def test_the_raiser_and_the_overseers_see_the_concern(world):
    service, rid = world
    concern = raise_concern(service, rid).json
    for who in ("mentee", "coordinator", "auditor"):
        assert service.get(who, f"/v1/relationships/{rid}/concerns").json["items"] == [concern], who
    assert service.get("coordinator", f"/v1/relationships/{rid}/health").json["open_concerns"] == 1
    assert "open_concerns" not in service.get("mentee", f"/v1/relationships/{rid}/health").json
    mentee_audit = service.get("mentee", f"/v1/audit?relationship_id={rid}").json["items"]
    assert [e["type"] for e in mentee_audit] == ["RelationshipStarted", "ConcernRaised"]


def test_a_coordinator_resolves_a_concern_once(world):
    service, rid = world
    concern = raise_concern(service, rid).json
    path = f"/v1/relationships/{rid}/concerns/{concern['concern_id']}/resolution"
    assert service.post("coordinator", path, {"note": "Spoke to both"}, If_Match='"2"').status_code == 412
    resolved = service.post("coordinator", path, {"note": "Spoke to both"}, If_Match='"1"')
    assert resolved.status_code == 201 and resolved.headers["ETag"] == '"2"'
    assert {k: resolved.json[k] for k in ("status", "resolved_by", "note", "version")} == {
        "status": "resolved", "resolved_by": "ada", "note": "Spoke to both", "version": 2}
    assert service.post("coordinator", path, {}).status_code == 409
    assert service.get("coordinator", f"/v1/relationships/{rid}/health").json["open_concerns"] == 0
    assert service.get("mentee", f"/v1/relationships/{rid}/concerns").json["items"][0]["status"] == "resolved"


def test_a_concern_is_found_only_in_its_own_relationship(world):
    service, rid = world
    other = service.start(mentor_id="mentor-99", mentee_id="mentee-98")["id"]
    concern = raise_concern(service, rid).json
    wrong = service.post("coordinator", f"/v1/relationships/{other}/concerns/{concern['concern_id']}/resolution", {})
    unknown = service.post("coordinator", f"/v1/relationships/{rid}/concerns/{rid}/resolution", {})
    assert wrong.status_code == unknown.status_code == 404
    assert wrong.json["type"] == unknown.json["type"] == "urn:mentorship-ledger:problem:not-found"


def test_concerns_are_idempotent(world):
    service, rid = world
    first = raise_concern(service, rid, content="once")
    again = service.post("mentee", f"/v1/relationships/{rid}/concerns", {"content": "once"})
    keyed = service.post("mentee", f"/v1/relationships/{rid}/concerns", {"content": "k"}, Idempotency_Key="c-1")
    replay = service.post("mentee", f"/v1/relationships/{rid}/concerns", {"content": "k"}, Idempotency_Key="c-1")
    assert first.json["concern_id"] != again.json["concern_id"]
    assert replay.json == keyed.json and replay.headers["Idempotent-Replayed"] == "true"
    assert len(service.get("coordinator", f"/v1/relationships/{rid}/concerns").json["items"]) == 3


def test_concerns_are_paged(world):
    service, rid = world
    for n in range(3):
        raise_concern(service, rid, content=f"concern {n}")
    first = service.get("coordinator", f"/v1/relationships/{rid}/concerns?limit=2").json
    second = service.get("coordinator", f"/v1/relationships/{rid}/concerns?limit=2&cursor={first['next']}").json
    assert [c["content"] for c in first["items"] + second["items"]] == ["concern 0", "concern 1", "concern 2"]
    assert second["next"] is None
