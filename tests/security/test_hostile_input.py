"""Hostile input: each answered with a 4xx problem+json, nothing stored, nothing leaked."""

from __future__ import annotations

from copy import deepcopy

import pytest

from tests.api.conftest import build_service

SQL = "'); DROP TABLE stored_events; --"


@pytest.fixture
def world(store, tmp_path):
    service = build_service(store, tmp_path, PROJECTIONS_MODE="inline")
    rid = service.start()["id"]
    given = service.give(rid)
    paths = {
        "start": ("/v1/relationships", "coordinator",
                  {"program_id": "p", "mentor_id": "mentor-7", "mentee_id": "mentee-12", "goals": ["g"]}),
        "feedback": (f"/v1/relationships/{rid}/feedback", "mentor",
                     {"content": "c", "kind": "general", "skills": ["s"], "action_items": [{"description": "d"}]}),
        "receipt": (f"/v1/relationships/{rid}/feedback/{given['feedback_id']}/receipt", "mentee", {"reflection": "r"}),
        "completion": (f"/v1/relationships/{rid}/actions/{given['action_items'][0]['action_id']}/completion",
                       "mentee", {"outcome": "o"}),
        "pause": (f"/v1/relationships/{rid}/pause", "coordinator", {"reason": "r"}),
    }
    yield service, paths
    service.app.extensions["ledger"].close()


def position(service) -> int:
    return service.app.extensions["ledger"].position()


def refused(service, response, status: int | tuple = 422) -> None:
    statuses = status if isinstance(status, tuple) else (status,)
    assert response.status_code in statuses, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    text = response.get_data(as_text=True)
    assert "Traceback" not in text and "SELECT" not in text and "psycopg" not in text and "sqlite" not in text


TEXT_FIELDS = [
    ("start", ["program_id"]), ("start", ["mentor_id"]), ("start", ["mentee_id"]), ("start", ["goals", 0]),
    ("feedback", ["content"]), ("feedback", ["skills", 0]), ("feedback", ["action_items", 0, "description"]),
    ("receipt", ["reflection"]), ("completion", ["outcome"]), ("pause", ["reason"]),
]


def with_value(body, path, value):
    copy = deepcopy(body)
    target = copy
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return copy


@pytest.mark.parametrize("command, field", TEXT_FIELDS, ids=["/".join(map(str, f)) for _, f in TEXT_FIELDS])
@pytest.mark.parametrize("payload", ["nul\x00byte", "bell\x07", "escape\x1b[31m", "delete\x7f"])
def test_control_characters_are_refused_everywhere(world, command, field, payload):
    service, paths = world
    path, who, body = paths[command]
    before = position(service)
    refused(service, service.post(who, path, with_value(body, field, payload)))
    assert position(service) == before


@pytest.mark.parametrize("command, field", TEXT_FIELDS, ids=["/".join(map(str, f)) for _, f in TEXT_FIELDS])
def test_sql_in_text_is_only_text(world, command, field):
    service, paths = world
    path, who, body = paths[command]
    if command == "start" and field[0] in ("mentor_id", "mentee_id"):
        body = with_value(body, ["mentor_id" if field[0] == "mentee_id" else "mentee_id"], "someone")
    response = service.post(who, path, with_value(body, field, SQL))
    assert response.status_code in (200, 201), response.json
    assert service.get("auditor", "/v1/audit/verify").json["ok"] is True
    assert service.get("auditor", f"/v1/audit?program_id={SQL}").status_code == 200


def test_line_breaks_and_tabs_are_fine_in_free_text(world):
    service, paths = world
    path, who, body = paths["feedback"]
    assert service.post(who, path, with_value(body, ["content"], "line one\n\tline two\r\n")).status_code == 201


@pytest.mark.parametrize("raw", [
    '{"usefulness": 100000000000000000000000000000}',
    '{"usefulness": 1e999}',
    '{"usefulness": -1}',
    '{"usefulness": true}',
    '{"usefulness": "5"}',
])
def test_huge_or_odd_numbers_are_refused(world, raw):
    service, paths = world
    path, who, _ = paths["receipt"]
    before = position(service)
    response = service.client.post(path, data=raw, content_type="application/json", headers=service.headers(who))
    refused(service, response)
    assert position(service) == before


def test_a_number_with_thousands_of_digits_is_unreadable(world):
    service, paths = world
    path, who, _ = paths["receipt"]
    response = service.client.post(path, data='{"usefulness": ' + "9" * 5000 + "}",
                                   content_type="application/json", headers=service.headers(who))
    refused(service, response, 400)


@pytest.mark.parametrize("query", ["version=99999999999999999999999", "after=99999999999999999999999",
                                   "min_position=99999999999999999999", "limit=99999999999999999999"])
def test_huge_numbers_in_queries_are_refused(world, query):
    service, paths = world
    rid = paths["pause"][0].split("/")[3]
    for path in (f"/v1/relationships/{rid}", f"/v1/relationships/{rid}/events", "/v1/relationships", "/v1/audit"):
        response = service.get("coordinator", f"{path}?{query}")
        assert response.status_code in (422,), (path, response.get_data(as_text=True))


@pytest.mark.parametrize("query", ["program_id=%00", "participant_id=a%00b", "actor=%1b", "cursor=%00"])
def test_control_characters_in_queries_are_refused(world, query):
    service, _ = world
    for path in ("/v1/relationships", "/v1/audit", "/v1/health"):
        refused(service, service.get("coordinator", f"{path}?{query}"))


def test_invalid_utf8_in_a_query_is_a_bad_request_not_another_id(world):
    """Read as U+FFFD it would be another id, matching nothing (or, in a path, a made-up participant): 400."""
    service, _ = world
    refused(service, service.get("coordinator", "/v1/relationships?program_id=%ff%fe"), 400)


def test_a_nul_in_a_path_is_not_found(world):
    service, _ = world
    refused(service, service.get("coordinator", "/v1/participants/a%00b/growth"), 404)


@pytest.mark.parametrize("cursor", ["eyJhZnRlciI6IC0xfQ", "eyJzdGFydGVkX2F0IjogIlx1MDAwMCIsICJpZCI6ICJ4In0",
                                    "eyJhZnRlciI6IDk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5fQ"])
def test_forged_cursors_are_refused(world, cursor):
    service, paths = world
    rid = paths["pause"][0].split("/")[3]
    for path in ("/v1/relationships", "/v1/audit", f"/v1/relationships/{rid}/events", "/v1/health"):
        refused(service, service.get("coordinator", f"{path}?cursor={cursor}"))


def test_oversized_headers_are_refused(world):
    service, _ = world
    response = service.client.get("/healthz", headers={"X-Padding": "x" * 20_000})
    refused(service, response, 431)


def test_a_token_with_odd_characters_is_just_unauthenticated(world):
    service, _ = world
    for token in ("mlt_00000000_\x00\x00", "mlt_" + "a" * 5000, "mlt_zzzzzzzz_abc'--"):
        refused(service, service.client.get("/v1/relationships", headers={"Authorization": f"Bearer {token}"}), 401)


def test_an_idempotency_key_with_control_characters_is_refused(world):
    service, paths = world
    path, who, body = paths["pause"]
    refused(service, service.post(who, path, body, Idempotency_Key="key\x01"))


def test_a_body_that_is_not_an_object_is_refused(world):
    service, paths = world
    path, who, _ = paths["pause"]
    for raw in ("[]", '"text"', "42", "null"):
        response = service.client.post(path, data=raw, content_type="application/json", headers=service.headers(who))
        refused(service, response, (400, 422))


def test_limits_are_configurable(store, tmp_path):
    service = build_service(store, tmp_path, MAX_BODY_BYTES=100, MAX_HEADER_BYTES=600)
    refused(service, service.post("coordinator", "/v1/relationships", {"program_id": "p" * 120}), 413)
    refused(service, service.client.get("/healthz", headers={"X-Padding": "x" * 700}), 431)
    service.app.extensions["ledger"].close()
