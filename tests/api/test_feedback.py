"""The two-way feedback loop over HTTP: give, acknowledge, complete."""

from __future__ import annotations

import pytest


def test_the_mentor_gives_feedback_and_the_mentee_owns_its_actions(service):
    rid = service.start()["id"]
    response = service.post("mentor", f"/v1/relationships/{rid}/feedback", {
        "content": "Clear review.", "kind": "improvement", "skills": ["presenting"],
        "action_items": [{"description": "Prepare a trade-off table", "due_on": "2026-02-01"}]})
    body = response.json
    assert response.status_code == 201 and response.headers["ETag"] == '"2"'
    assert (body["relationship_id"], body["version"], body["giver_role"], body["recipient_role"]) == (
        rid, 2, "mentor", "mentee")
    assert body["action_items"][0] | {"action_id": None} == {
        "action_id": None, "description": "Prepare a trade-off table", "due_on": "2026-02-01",
        "owner_id": "mentee-12"}


def test_the_mentee_gives_feedback_to_the_mentor(service):
    rid = service.start()["id"]
    body = service.give(rid, who="mentee", kind="strength", action_items=[{"description": "Share notes"}])
    assert (body["giver_role"], body["recipient_role"]) == ("mentee", "mentor")
    assert body["action_items"][0]["owner_id"] == "mentor-7"
    assert body["action_items"][0]["due_on"] is None


@pytest.mark.parametrize("body, field", [
    ({"kind": "general"}, "content"),
    ({"content": "", "kind": "general"}, "content"),
    ({"content": "x" * 5001, "kind": "general"}, "content"),
    ({"content": "x", "kind": "praise"}, "kind"),
    ({"content": "x", "kind": "general", "skills": ["s"] * 21}, "skills"),
    ({"content": "x", "kind": "general", "skills": ["s" * 65]}, "skills.0"),
    ({"content": "x", "kind": "general", "action_items": [{"description": "d"}] * 11}, "action_items"),
    ({"content": "x", "kind": "general", "action_items": [{"description": "d", "due_on": "soon"}]},
     "action_items.0.due_on"),
    ({"content": "x", "kind": "general", "action_items": [{"description": "d", "owner_id": "me"}]},
     "action_items.0.owner_id"),
    ({"content": "x", "kind": "general", "giver": "mentor-7"}, "giver"),
    ({"content": 5, "kind": "general"}, "content"),
])
def test_malformed_feedback_is_unprocessable_and_changes_nothing(service, body, field):
    rid = service.start()["id"]
    response = service.post("mentor", f"/v1/relationships/{rid}/feedback", body)
    assert response.status_code == 422
    assert field in response.json["errors"]
    assert service.get("auditor", f"/v1/relationships/{rid}").json["version"] == 1


def test_a_coordinator_does_not_give_feedback(service):
    rid = service.start()["id"]
    assert service.post("coordinator", f"/v1/relationships/{rid}/feedback",
                        {"content": "x", "kind": "general"}).status_code == 403


def test_no_feedback_on_a_paused_relationship(service):
    rid = service.start()["id"]
    service.post("coordinator", f"/v1/relationships/{rid}/pause")
    response = service.post("mentor", f"/v1/relationships/{rid}/feedback", {"content": "x", "kind": "general"})
    assert response.status_code == 409


def test_the_recipient_acknowledges_feedback_once(service):
    rid = service.start()["id"]
    given = service.give(rid)
    path = f"/v1/relationships/{rid}/feedback/{given['feedback_id']}/receipt"
    response = service.post("mentee", path, {"reflection": "Fair; I rushed.", "usefulness": 4})
    assert response.status_code == 201
    assert (response.json["reflection"], response.json["usefulness"], response.json["version"]) == (
        "Fair; I rushed.", 4, 3)
    assert service.post("mentee", path, {}).status_code == 409


def test_only_the_recipient_acknowledges(service):
    rid = service.start()["id"]
    given = service.give(rid)
    path = f"/v1/relationships/{rid}/feedback/{given['feedback_id']}/receipt"
    assert service.post("mentor", path).status_code == 403
    assert service.post("coordinator", path).status_code == 403


@pytest.mark.parametrize("body", [{"usefulness": 0}, {"usefulness": 6}, {"usefulness": "4"},
                                  {"usefulness": 4.5}, {"reflection": "x" * 5001}])
def test_a_malformed_receipt_is_unprocessable(service, body):
    rid = service.start()["id"]
    given = service.give(rid)
    path = f"/v1/relationships/{rid}/feedback/{given['feedback_id']}/receipt"
    assert service.post("mentee", path, body).status_code == 422


def test_unknown_feedback_is_not_found(service):
    rid = service.start()["id"]
    response = service.post("mentee", f"/v1/relationships/{rid}/feedback/{rid}/receipt", {"usefulness": 9})
    assert response.status_code == 404


def test_the_owner_completes_an_action_once(service):
    rid = service.start()["id"]
    action_id = service.give(rid)["action_items"][0]["action_id"]
    path = f"/v1/relationships/{rid}/actions/{action_id}/completion"
    response = service.post("mentee", path, {"outcome": "Table shared with the team"})
    assert response.status_code == 201
    assert (response.json["completed_by"], response.json["outcome"]) == ("mentee-12", "Table shared with the team")
    assert service.post("mentee", path).status_code == 409


def test_a_coordinator_may_complete_an_action_but_not_the_other_participant(service):
    rid = service.start()["id"]
    action_id = service.give(rid)["action_items"][0]["action_id"]
    path = f"/v1/relationships/{rid}/actions/{action_id}/completion"
    assert service.post("mentor", path).status_code == 403
    assert service.post("auditor", path).status_code == 403
    assert service.post("coordinator", path).status_code == 201


def test_unknown_actions_are_not_found(service):
    rid = service.start()["id"]
    assert service.post("mentee", f"/v1/relationships/{rid}/actions/{rid}/completion").status_code == 404


def test_receipts_and_completions_go_on_while_paused(service):
    rid = service.start()["id"]
    given = service.give(rid)
    service.post("coordinator", f"/v1/relationships/{rid}/pause")
    assert service.post("mentee", f"/v1/relationships/{rid}/feedback/{given['feedback_id']}/receipt").status_code == 201
    action_id = given["action_items"][0]["action_id"]
    assert service.post("mentee", f"/v1/relationships/{rid}/actions/{action_id}/completion").status_code == 201
