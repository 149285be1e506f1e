"""The edge of the HTTP contract: problem+json, precedence of errors, ETags, idempotency, headers."""

from __future__ import annotations

import json

import pytest

PROBLEM = "application/problem+json"


def assert_problem(response, status: int) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    body = response.json
    assert {"type", "title", "status", "detail"} <= body.keys() and body["status"] == status
    return body


def raw_post(service, who, path, data: bytes | str, content_type="application/json", **headers):
    return service.client.post(path, data=data, content_type=content_type, headers=service.headers(who, **headers))


def test_unreadable_json_is_a_bad_request(service):
    assert_problem(raw_post(service, "coordinator", "/v1/relationships", "{not json"), 400)


def test_invalid_utf8_is_a_bad_request(service):
    assert_problem(raw_post(service, "coordinator", "/v1/relationships", b'{"program_id": "\xff"}'), 400)


def test_deeply_nested_json_under_the_limit_is_a_bad_request(service):
    body = "[" * 30_000 + "]" * 30_000
    assert_problem(raw_post(service, "coordinator", "/v1/relationships", body), 400)


def test_deeply_nested_json_over_the_limit_is_too_large(service):
    body = "[" * 100_000 + "]" * 100_000
    assert_problem(raw_post(service, "coordinator", "/v1/relationships", body), 413)


def test_a_body_over_64_kib_is_too_large(service):
    body = json.dumps({"program_id": "p", "mentor_id": "a", "mentee_id": "b", "goals": ["x" * 70_000]})
    assert_problem(raw_post(service, "coordinator", "/v1/relationships", body), 413)


def test_a_body_that_is_not_json_is_an_unsupported_media_type(service):
    assert_problem(raw_post(service, "coordinator", "/v1/relationships", "a=b", "application/x-www-form-urlencoded"), 415)


@pytest.mark.parametrize("media_type", ["application/merge-patch+json", "application/json-patch+json",
                                        "application/vnd.example+json", "text/json", "application/jsonx"])
def test_a_json_body_of_another_media_type_is_unsupported_and_changes_nothing(service, media_type):
    """Only ``application/json`` is read: a body labelled as another JSON type (a patch, a vendor type) was
    carried out as if it were one."""
    rid = service.start()["id"]
    answer = service.client.post(f"/v1/relationships/{rid}/pause", data="{}",
                                 headers=service.headers("coordinator", Content_Type=media_type))
    assert_problem(answer, 415)
    assert service.get("mentor", f"/v1/relationships/{rid}").json["status"] == "active"
    ok = service.client.post(f"/v1/relationships/{rid}/pause", data="{}",
                             headers=service.headers("coordinator", Content_Type="Application/JSON; charset=utf-8"))
    assert ok.status_code == 200, ok.json


def test_a_missing_token_is_unauthenticated(service):
    body = assert_problem(service.get(None, "/v1/relationships/00000000-0000-0000-0000-000000000000"), 401)
    assert "valid bearer token" in body["detail"]


@pytest.mark.parametrize("header", ["Bearer nonsense", "Bearer mlt_00000000_x", "Basic YWRhOmFkYQ==", "Bearer "])
def test_a_bad_token_is_unauthenticated(service, header):
    response = service.client.get("/v1/relationships/00000000-0000-0000-0000-000000000000",
                                  headers={"Authorization": header})
    assert_problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_revoked_token_fails_on_the_next_request(service):
    rid = service.start()["id"]
    assert service.get("mentor", f"/v1/relationships/{rid}").status_code == 200
    service.app.extensions["tokens"].revoke(service.tokens["mentor"])
    assert_problem(service.get("mentor", f"/v1/relationships/{rid}"), 401)


def test_unknown_routes_are_problems_too(service):
    assert_problem(service.get("auditor", "/v1/nowhere"), 404)
    assert_problem(service.get("auditor", "/v1/relationships/not-a-uuid"), 404)


def test_a_wrong_method_is_a_problem_with_allow(service):
    response = service.client.delete("/v1/relationships", headers=service.headers("coordinator"))
    assert_problem(response, 405)
    assert "POST" in response.headers["Allow"]


def test_validation_problems_name_every_field(service):
    response = service.post("coordinator", "/v1/relationships", {"mentor_id": "", "colour": "blue"})
    body = assert_problem(response, 422)
    assert {"program_id", "mentor_id", "mentee_id", "colour"} <= body["errors"].keys()


def test_mentor_and_mentee_must_differ(service):
    body = assert_problem(service.post("coordinator", "/v1/relationships", {
        "program_id": "p", "mentor_id": "same", "mentee_id": "same"}), 422)
    assert "mentee_id" in body["errors"]


def test_goals_are_limited(service):
    for goals in (["g"] * 11, ["x" * 201], [""]):
        assert_problem(service.post("coordinator", "/v1/relationships", {
            "program_id": "p", "mentor_id": "a", "mentee_id": "b", "goals": goals}), 422)


def test_not_visible_wins_over_role_and_validation(service):
    rid = service.start(mentor_id="someone-else", mentee_id="another")["id"]
    assert_problem(service.post("mentee", f"/v1/relationships/{rid}/feedback", {}), 404)


def test_an_outsider_sees_a_relationship_as_missing(service):
    rid = service.start()["id"]
    assert_problem(service.get("outsider", f"/v1/relationships/{rid}"), 404)
    assert_problem(service.get("outsider", f"/v1/relationships/{rid}/events"), 404)


def test_role_wins_over_validation(service):
    rid = service.start()["id"]
    assert_problem(service.post("auditor", f"/v1/relationships/{rid}/feedback", {"bad": 1}), 403)
    assert_problem(service.post("mentor", "/v1/relationships", {"bad": 1}), 403)


def test_reads_refuse_the_caller_before_validating_the_query(service):
    """404 (not visible) and 403 (role) before 422 on reads too, as the contract orders them (before, a bad
    ``limit`` or an unknown parameter answered 422 to callers who may not read there at all)."""
    rid = service.start()["id"]
    for who, path, status in (
        ("mentor", "/v1/health?limit=abc", 403),
        ("mentor", "/v1/audit?limit=abc", 403),
        ("mentor", "/v1/audit/head?foo=1", 403),
        ("mentor", "/v1/audit/verify?head_position=x", 403),
        ("outsider", f"/v1/audit?relationship_id={rid}&limit=abc", 404),
        ("outsider", f"/v1/audit/export.csv?relationship_id={rid}&foo=1", 404),
        ("outsider", f"/v1/audit/export.ndjson?relationship_id={rid}&foo=1", 404),
        ("outsider", "/v1/participants/mentee-12/export?foo=1", 404),
        ("auditor", "/v1/participants/mentee-12/export?foo=1", 404),
        ("outsider", "/v1/participants/mentee-12/growth?foo=1", 404),
    ):
        assert_problem(service.get(who, path), status)
    for who, path in (  # callers who may read there: the query is validated
        ("coordinator", "/v1/health?limit=abc"), ("mentor", f"/v1/audit?relationship_id={rid}&limit=abc"),
        ("mentor", "/v1/audit?relationship_id=42"), ("mentee", "/v1/participants/mentee-12/growth?foo=1"),
        ("mentee", "/v1/participants/mentee-12/export?foo=1"), ("auditor", "/v1/audit/head?foo=1"),
    ):
        assert_problem(service.get(who, path), 422)


def test_validation_wins_over_if_match(service):
    rid = service.start()["id"]
    assert_problem(service.post("coordinator", f"/v1/relationships/{rid}/pause", {"reason": 7}, If_Match='"9"'), 422)


def test_if_match_wins_over_rules(service):
    rid = service.start()["id"]
    assert_problem(service.post("coordinator", f"/v1/relationships/{rid}/resume", {}, If_Match='"9"'), 412)


def test_a_stale_if_match_changes_nothing(service):
    rid = service.start()["id"]
    body = assert_problem(service.post("coordinator", f"/v1/relationships/{rid}/pause", {}, If_Match='"2"'), 412)
    assert body["type"].endswith("version-mismatch")
    assert service.get("auditor", f"/v1/relationships/{rid}").json["status"] == "active"


@pytest.mark.parametrize("etag", ['"1"', 'W/"1"', "*"])
def test_a_current_if_match_is_accepted(service, etag):
    rid = service.start()["id"]
    assert service.post("coordinator", f"/v1/relationships/{rid}/pause", {}, If_Match=etag).status_code == 200


def test_a_malformed_if_match_never_matches(service):
    rid = service.start()["id"]
    assert_problem(service.post("coordinator", f"/v1/relationships/{rid}/pause", {}, If_Match="one"), 412)


def test_a_repeated_post_with_its_key_returns_the_first_answer(service):
    rid = service.start()["id"]
    body = {"content": "Clear.", "kind": "strength", "action_items": [{"description": "Share"}]}
    first = service.post("mentor", f"/v1/relationships/{rid}/feedback", body, Idempotency_Key="k-1")
    again = service.post("mentor", f"/v1/relationships/{rid}/feedback", body, Idempotency_Key="k-1")
    assert (again.status_code, again.json) == (first.status_code, first.json)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert service.get("auditor", f"/v1/relationships/{rid}").json["version"] == 2


def test_the_same_json_value_counts_as_the_same_body(service):
    rid = service.start()["id"]
    path = f"/v1/relationships/{rid}/pause"
    first = raw_post(service, "coordinator", path, '{"reason": "r"}', Idempotency_Key="k")
    again = raw_post(service, "coordinator", path, '{ "reason" :"r" }', Idempotency_Key="k")
    assert (first.status_code, again.status_code, again.json) == (200, 200, first.json)


def test_a_key_reused_with_another_body_or_path_is_unprocessable(service):
    rid = service.start()["id"]
    service.post("coordinator", f"/v1/relationships/{rid}/pause", {"reason": "a"}, Idempotency_Key="k")
    body = assert_problem(service.post("coordinator", f"/v1/relationships/{rid}/pause", {"reason": "b"},
                                       Idempotency_Key="k"), 422)
    assert body["type"].endswith("idempotency-key-reused")
    assert_problem(service.post("coordinator", f"/v1/relationships/{rid}/end", {"reason": "a"},
                                Idempotency_Key="k"), 422)
    assert service.get("auditor", f"/v1/relationships/{rid}").json["version"] == 2


def test_an_idempotency_key_is_one_to_two_hundred_characters(service):
    response = service.post("coordinator", "/v1/relationships", {
        "program_id": "p", "mentor_id": "a", "mentee_id": "b"}, Idempotency_Key="k" * 201)
    assert_problem(response, 422)


def test_security_headers_are_on_every_response(service):
    for response in (service.get(None, "/healthz"), service.get(None, "/v1/x"), service.get("auditor", "/v1/x")):
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["X-Frame-Options"] == "DENY"
        assert "default-src 'none'" in response.headers["Content-Security-Policy"]


def test_store_errors_are_never_stack_traces(service, monkeypatch):
    from eventsourcing.persistence import OperationalError

    def fail(*args, **kwargs):
        raise OperationalError("connection refused by test")

    monkeypatch.setattr(service.app.extensions["ledger"].runner, "current", fail)
    response = service.post("coordinator", "/v1/relationships/00000000-0000-0000-0000-000000000000/pause")
    body = assert_problem(response, 503)
    assert response.headers["Retry-After"] == "1"
    assert "refused" not in body["detail"]


# -- details a newcomer's read of the contract found ----------------------------------------------------------


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_numbers_json_does_not_have_are_a_bad_request(service, constant):
    rid = service.start()["id"]
    body = '{"minutes": %s, "notes": "x"}' % constant
    assert_problem(raw_post(service, "mentor", f"/v1/relationships/{rid}/check-ins", body), 400)
    assert service.get("auditor", f"/v1/relationships/{rid}").json["version"] == 1


@pytest.mark.parametrize("target", ["/v1/participants/%ff%fe/growth", "/v1/relationships?program_id=%ff",
                                    "/v1/relationships/%c3%28"])
def test_a_request_target_that_is_not_utf8_is_a_bad_request(service, target):
    body = assert_problem(service.get("coordinator", target), 400)
    assert "UTF-8" in body["detail"]


def test_relationship_and_events_accept_min_position_as_every_query_does(service):
    rid = service.start()["id"]
    written = service.post("coordinator", f"/v1/relationships/{rid}/pause", {})
    position = int(written.headers["X-Position"])
    for path in (f"/v1/relationships/{rid}", f"/v1/relationships/{rid}/events"):
        reached = service.get("mentor", f"{path}?min_position={position}")
        assert reached.status_code == 200, reached.json
        assert reached.headers["ETag"] == '"2"'
        body = assert_problem(service.get("mentor", f"{path}?min_position={position + 1000}"), 422)
        assert "min_position" in body["errors"]


def test_events_carry_the_relationships_version_as_etag_and_health_none(service):
    """Health is read from a view that may be behind: a version as its ETag could name a state it does not
    show (and pass an If-Match decided on stale figures)."""
    rid = service.start()["id"]
    service.post("coordinator", f"/v1/relationships/{rid}/pause", {})
    service.app.extensions["projections"].catch_up()  # the worker's part, where a worker keeps the views
    events = service.get("mentee", f"/v1/relationships/{rid}/events?limit=1")
    assert events.headers["ETag"] == '"2"' and events.json["next"] is not None  # the relationship's, not the page's
    for query in ("", "?version=1"):
        assert "ETag" not in service.get("mentee", f"/v1/relationships/{rid}/health{query}").headers
    resumed = service.post("coordinator", f"/v1/relationships/{rid}/resume", {},
                           If_Match=events.headers["ETag"])  # usable as If-Match at once
    assert resumed.status_code == 200


def test_a_stale_if_match_on_a_concern_names_the_concern(service):
    rid = service.start()["id"]
    concern = service.post("mentee", f"/v1/relationships/{rid}/concerns", {"content": "Meetings keep moving."}).json
    resolution = f"/v1/relationships/{rid}/concerns/{concern['concern_id']}/resolution"
    body = assert_problem(service.post("coordinator", resolution, {}, If_Match='"7"'), 412)
    assert body["detail"].startswith("The concern is at version")


def test_the_openapi_document_writes_every_error_out_and_promises_only_headers_sent(service):
    spec = service.get(None, "/openapi.json").json
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if not isinstance(operation, dict):
                continue  # the path's own parameters
            for status, response in operation.get("responses", {}).items():
                assert "$ref" not in response, (method, path, status)  # written out (contract addition 1.4)
                if str(status) == "201":
                    assert ("Location" in response.get("headers", {})) == (path == "/v1/relationships"), path
    assert "ETag" in spec["paths"]["/v1/relationships/{relationship_id}/events"]["get"]["responses"]["200"]["headers"]
    assert "ETag" not in spec["paths"]["/v1/relationships/{relationship_id}/health"]["get"]["responses"]["200"].get(
        "headers", {})
    for path in ("/v1/relationships/{relationship_id}", "/v1/relationships/{relationship_id}/events"):
        assert "min_position" in [p["name"] for p in spec["paths"][path]["get"]["parameters"]]


@pytest.mark.parametrize("query", ["foo=bar", "limit=-5", "_method=GET", "x"])
def test_a_command_with_a_query_parameter_is_refused_and_changes_nothing(service, query):
    """Commands take nothing in the query string: unknown parameters are 422 there as on every read (before,
    ``POST …/pause?_method=GET`` paused the relationship). 404 and 403 still come first."""
    rid = service.start()["id"]
    position = service.app.extensions["ledger"].position()
    for who, path, body in (
        ("mentor", f"/v1/relationships/{rid}/check-ins", {"minutes": 10}),
        ("coordinator", f"/v1/relationships/{rid}/pause", {}),
        ("coordinator", "/v1/relationships", {"program_id": "p", "mentor_id": "m-1", "mentee_id": "m-2",
                                              "goals": ["Listen"]}),
        ("coordinator", "/v1/participants/mentee-12/erasure", {}),
    ):
        answer = service.post(who, f"{path}?{query}", body)
        assert answer.status_code == 422, (path, answer.json)
        assert answer.json["errors"] == {query.split("=")[0]: ["Unknown field."]}
    assert service.app.extensions["ledger"].position() == position  # nothing written, nothing erased
    assert service.get("mentor", f"/v1/relationships/{rid}").json["version"] == 1
    assert service.post("outsider", f"/v1/relationships/{rid}/check-ins?foo=1", {"minutes": 10}).status_code == 404
    assert service.post("mentor", f"/v1/relationships/{rid}/pause?foo=1", {}).status_code == 403


def test_starting_a_relationship_with_a_version_in_if_match_is_412_and_starts_nothing(service):
    """A new relationship has no version, so no tag matches it (RFC 9110); before, If-Match was ignored there
    and the relationship started. ``*`` and no header start one; the OpenAPI document offers no If-Match."""
    body = {"program_id": "p", "mentor_id": "mentor-1", "mentee_id": "mentee-1", "goals": ["Listen"]}
    position = service.app.extensions["ledger"].position()
    for tag in ('"5"', '"0"', 'W/"1"'):
        assert_problem(service.post("coordinator", "/v1/relationships", body, If_Match=tag), 412)
    assert service.app.extensions["ledger"].position() == position
    assert service.post("coordinator", "/v1/relationships", body, If_Match="*").status_code == 201
    assert_problem(service.post("coordinator", "/v1/relationships", {"bad": 1}, If_Match='"5"'), 422)  # 422 first
    keyed = service.post("coordinator", "/v1/relationships", body, Idempotency_Key="start-1")
    assert keyed.status_code == 201
    other = {**body, "goals": ["Speak up"]}  # the key reused for another body: 422 before the tag's 412
    assert_problem(service.post("coordinator", "/v1/relationships", other, Idempotency_Key="start-1",
                                If_Match='"5"'), 422)
    start = service.client.get("/openapi.json").json["paths"]["/v1/relationships"]["post"]
    assert [p["name"] for p in start["parameters"] if p["in"] == "header"] == ["Idempotency-Key"]


def test_a_body_naming_a_member_twice_is_a_bad_request_and_changes_nothing(service):
    """Which of two values a parser keeps is its own choice (a proxy checking the first, the service storing
    the last, would see two requests): refused, as I-JSON does (before: the last one was stored)."""
    rid = service.start()["id"]
    for raw in ('{"content": "Fine work.", "content": "Something else", "kind": "general"}',
                '{"content": "Fine.", "kind": "general", "action_items": [{"description": "a", "description": "b"}]}'):
        answer = service.client.post(f"/v1/relationships/{rid}/feedback", data=raw,
                                     headers=service.headers("mentor", Content_Type="application/json"))
        body = assert_problem(answer, 400)
        assert "appears twice" in body["detail"]
    assert service.get("mentor", f"/v1/relationships/{rid}").json["version"] == 1


def test_a_compressed_body_is_unsupported_and_changes_nothing(service):
    """No Content-Encoding is read (RFC 9110: 415); before, the header was ignored and a plain body so labelled
    was carried out."""
    rid = service.start()["id"]
    answer = service.client.post(f"/v1/relationships/{rid}/pause", data="{}", headers=service.headers(
        "coordinator", Content_Type="application/json", Content_Encoding="gzip"))
    assert_problem(answer, 415)
    assert service.get("mentor", f"/v1/relationships/{rid}").json["status"] == "active"


def test_a_query_parameter_given_twice_is_refused(service):
    body = assert_problem(service.get("coordinator", "/v1/relationships?program_id=a&program_id=b"), 422)
    assert body["errors"] == {"program_id": ["Give this parameter once."]}
    assert_problem(service.get("auditor", "/v1/audit?limit=1&limit=2"), 422)


def test_paths_are_routed_as_sent(service):
    """``//`` is no route (before: a 308 with an HTML body), and OPTIONS answers 204 with Allow, not an empty
    text/html 200. (An encoded ``/`` stays part of a segment: ids from stores before 1.3 may hold one.)"""
    service.start()
    assert_problem(service.get("mentor", "/v1//relationships"), 404)
    options = service.client.options("/v1/relationships", headers=service.headers("mentor"))
    assert options.status_code == 204 and "POST" in options.headers["Allow"]
    assert "Content-Type" not in options.headers and options.data == b""
