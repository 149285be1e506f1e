"""Every endpoint against every kind of caller, as API.md rules it (OWASP API1: object-level authorization).

The relationship R pairs mentor-7 and mentee-12; the mentor gave feedback F
with an action A that the mentee owns; the mentee raised a concern K. "outsider" is a participant of another
relationship; "revoked" held a token that was revoked; "nobody" sends none.
"""

from __future__ import annotations

import logging

import pytest

from tests.api.conftest import build_service

CALLERS = ["coordinator", "auditor", "mentor", "mentee", "outsider", "revoked", "nobody"]

#  method, path, body: expected status for each caller in CALLERS order
MATRIX = [
    ("POST", "/v1/relationships", {"program_id": "p", "mentor_id": "x", "mentee_id": "y"},
     [201, 403, 403, 403, 403, 401, 401]),
    ("GET", "/v1/relationships", None, [200, 200, 200, 200, 200, 401, 401]),
    ("GET", "/v1/relationships/{R}", None, [200, 200, 200, 200, 404, 401, 401]),
    ("GET", "/v1/relationships/{R}?version=1", None, [200, 200, 200, 200, 404, 401, 401]),
    ("GET", "/v1/relationships/{R}/events", None, [200, 200, 200, 200, 404, 401, 401]),
    ("GET", "/v1/relationships/{R}/health", None, [200, 200, 200, 200, 404, 401, 401]),
    ("POST", "/v1/relationships/{R}/pause", {}, [200, 403, 403, 403, 404, 401, 401]),
    ("POST", "/v1/relationships/{R}/resume", {}, [409, 403, 403, 403, 404, 401, 401]),
    ("POST", "/v1/relationships/{R}/end", {}, [200, 403, 200, 200, 404, 401, 401]),
    ("POST", "/v1/relationships/{R}/feedback", {"content": "c", "kind": "general"},
     [403, 403, 201, 201, 404, 401, 401]),
    ("POST", "/v1/relationships/{R}/feedback/{F}/receipt", {}, [403, 403, 403, 201, 404, 401, 401]),
    ("POST", "/v1/relationships/{R}/actions/{A}/completion", {}, [201, 403, 403, 201, 404, 401, 401]),
    ("POST", "/v1/relationships/{R}/check-ins", {"held_on": "2026-01-05", "minutes": 30},
     [403, 403, 201, 201, 404, 401, 401]),
    ("POST", "/v1/relationships/{R}/concerns", {"content": "c"}, [403, 403, 201, 201, 404, 401, 401]),
    ("GET", "/v1/relationships/{R}/concerns", None, [200, 200, 200, 200, 404, 401, 401]),
    # K is the mentee's: to the mentor it does not exist (404 before the role's 403, contract 1.9)
    ("POST", "/v1/relationships/{R}/concerns/{K}/resolution", {}, [201, 403, 404, 403, 404, 401, 401]),
    ("GET", "/v1/health", None, [200, 200, 403, 403, 403, 401, 401]),
    ("GET", "/v1/participants/mentee-12/growth", None, [200, 200, 404, 200, 404, 401, 401]),
    ("GET", "/v1/audit", None, [200, 200, 403, 403, 403, 401, 401]),
    ("GET", "/v1/audit?relationship_id={R}", None, [200, 200, 200, 200, 404, 401, 401]),
    ("GET", "/v1/audit/head", None, [200, 200, 403, 403, 403, 401, 401]),
    ("GET", "/v1/audit/verify", None, [200, 200, 403, 403, 403, 401, 401]),
]

CASES = [(method, path, body, caller, statuses[i])
         for method, path, body, statuses in MATRIX for i, caller in enumerate(CALLERS)]


@pytest.fixture
def world(store, tmp_path):
    service = build_service(store, tmp_path, PROJECTIONS_MODE="inline")
    service.tokens["revoked"] = service.app.extensions["tokens"].issue("mentor-7", "participant")
    service.app.extensions["tokens"].revoke(service.tokens["revoked"])
    rid = service.start()["id"]
    service.start(mentor_id="mentor-99", mentee_id="mentee-98")
    given = service.give(rid)
    concern = service.post("mentee", f"/v1/relationships/{rid}/concerns", {"content": "private"}).json
    ids = {"R": rid, "F": given["feedback_id"], "A": given["action_items"][0]["action_id"],
           "K": concern["concern_id"]}
    yield service, ids
    service.app.extensions["ledger"].close()


@pytest.mark.parametrize("method, path, body, caller, expected", CASES,
                         ids=[f"{c[0]} {c[1]} as {c[3]}" for c in CASES])
def test_access(world, method, path, body, caller, expected, caplog):
    service, ids = world
    caplog.set_level(logging.DEBUG)
    headers = service.headers(None if caller == "nobody" else caller)
    response = service.client.open(path.format(**ids), method=method, json=body, headers=headers)
    assert response.status_code == expected, response.get_data(as_text=True)
    if expected >= 400:
        assert response.mimetype == "application/problem+json"
    for token in service.tokens.values():
        assert token not in caplog.text


def test_participants_list_nothing_of_others(world):
    service, ids = world
    listed = service.get("outsider", "/v1/relationships").json["items"]
    assert ids["R"] not in [r["id"] for r in listed]
    assert [e["relationship_id"] for e in service.get("mentor", f"/v1/audit?relationship_id={ids['R']}").json[
        "items"]] == [ids["R"]] * 2  # the start and the feedback: not the mentee's concern
    assert len(service.get("mentee", f"/v1/audit?relationship_id={ids['R']}").json["items"]) == 3


def test_a_404_for_an_invisible_relationship_looks_like_one_for_a_missing_one(world):
    service, ids = world
    invisible = service.get("outsider", f"/v1/relationships/{ids['R']}").json
    missing = service.get("outsider", "/v1/relationships/00000000-0000-4000-8000-000000000000").json
    assert invisible == missing
