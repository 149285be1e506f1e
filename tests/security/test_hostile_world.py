"""Hostile world, round two: each class of input that once reached a 500 or slipped through, on both stores.

Unencodable text, impossible times and days, spreadsheet formulas in the CSV export, ids that could not be
used, idempotency keys shared across roles, and what the service tells callers without a token.
"""

from __future__ import annotations

import csv
import io
import json

import pytest

from tests.api.conftest import build_service
from tests.security.test_hostile_input import TEXT_FIELDS, position, refused, with_value, world  # noqa: F401

LONE_SURROGATES = ["\ud800", "a\udfffb", "\udc00\ud800"]


def raw_post(service, who, path, body_text, **headers):
    return service.client.post(path, data=body_text.encode(), content_type="application/json",
                               headers=service.headers(who, **headers))


# -- text that UTF-8 cannot encode ------------------------------------------------------------------------


@pytest.mark.parametrize("command, field", TEXT_FIELDS, ids=["/".join(map(str, f)) for _, f in TEXT_FIELDS])
@pytest.mark.parametrize("surrogate", LONE_SURROGATES, ids=["alone", "inside", "reversed-pair"])
def test_a_lone_surrogate_in_any_string_field_is_a_422_naming_the_field(world, command, field, surrogate):
    service, paths = world
    path, who, body = paths[command]
    before = position(service)
    # json.dumps escapes the surrogate as \ud800, which is how a client can send one.
    response = raw_post(service, who, path, json.dumps(with_value(body, field, surrogate)))
    refused(service, response, 422)
    assert list(response.json["errors"]) == [".".join(map(str, field))]
    assert "surrogate" in response.json["errors"][".".join(map(str, field))][0]
    assert position(service) == before


def test_a_lone_surrogate_in_a_key_or_an_idempotency_replay_is_refused_too(world):
    service, paths = world
    path, who, body = paths["pause"]
    refused(service, raw_post(service, who, path, '{"reason": "r", "\\ud800": 1}'), 422)
    key = "key-1"
    assert service.post(who, path, body, Idempotency_Key=key).status_code == 200
    refused(service, raw_post(service, who, path, '{"reason": "\\ud800"}', Idempotency_Key=key), 422)


def test_paired_surrogates_are_ordinary_text(world):
    service, paths = world
    path, who, body = paths["feedback"]
    response = raw_post(service, who, path, json.dumps(with_value(body, ["content"], "well done \U0001F600")))
    assert response.status_code == 201
    state = service.get(who, path.rsplit("/", 1)[0]).json
    assert state["feedback"][-1]["content"] == "well done \U0001F600"


def test_surrogates_in_the_url_are_a_bad_request(world):
    """A surrogate's UTF-8 form is not UTF-8: read as U+FFFD it would be another id, matching nothing."""
    service, _ = world
    for target in ("/v1/relationships?program_id=%ED%A0%80", "/v1/participants/%ED%A0%80/growth"):
        answer = service.get("coordinator", target)
        assert answer.status_code == 400 and answer.mimetype == "application/problem+json", target
        assert "UTF-8" in answer.json["detail"]


# -- times and days outside what the service can represent -----------------------------------------------

IMPOSSIBLE_TIMES = ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59Z",
                    "0001-01-01T00:00:00Z", "0001-01-01T05:00:00+05:01"]
EXTREME_BUT_FINE = ["0001-01-02T00:00:00Z", "9999-12-30T23:59:59.999999Z", "0999-12-31T00:00:00Z",
                    "1969-12-31T23:59:59-12:00"]


def time_paths(rid: str) -> list[str]:
    # The audit trail with the relationship named: a participant reads it only so (else 403, before any 422)
    return [f"/v1/relationships/{rid}?as_of=", f"/v1/relationships/{rid}/health?as_of=",
            f"/v1/audit?relationship_id={rid}&since=", f"/v1/audit?relationship_id={rid}&until="]


@pytest.mark.parametrize("moment", IMPOSSIBLE_TIMES)
def test_times_outside_what_the_service_can_represent_are_422(world, moment):
    service, paths = world
    rid = paths["pause"][0].split("/")[3]
    for path in time_paths(rid):
        for who in ("coordinator", "mentor"):
            response = service.get(who, path + moment.replace("+", "%2B"))
            refused(service, response, 422)
            assert set(response.json["errors"]) <= {"as_of", "since", "until"}, response.json


@pytest.mark.parametrize("moment", EXTREME_BUT_FINE)
def test_times_at_the_edges_are_answered(world, moment):
    service, paths = world
    rid = paths["pause"][0].split("/")[3]
    for path in time_paths(rid):
        response = service.get("coordinator", path + moment.replace("+", "%2B"))
        assert response.status_code in (200, 404), (path, response.get_data(as_text=True))
        if response.status_code == 404:  # the relationship did not exist yet at that time
            assert "as_of" in path and moment < "2000"


def test_since_and_until_compare_as_times_for_every_year(world):
    service, _ = world
    everything = service.get("auditor", "/v1/audit?limit=200").json["items"]
    assert len(everything) >= 2
    assert service.get("auditor", "/v1/audit?since=0999-12-31T00:00:00Z&limit=200").json["items"] == everything
    assert service.get("auditor", "/v1/audit?until=0999-12-31T00:00:00Z").json["items"] == []
    assert service.get("auditor", "/v1/audit?since=9999-12-30T00:00:00Z").json["items"] == []


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31", "10000-01-01", "0000-12-31", "2026-02-30", "20260101",
                                 "2026-W01-1", 20260101])
def test_days_outside_the_calendar_the_service_computes_with_are_422(world, day):
    service, paths = world
    path, who, body = paths["feedback"]
    before = position(service)
    response = service.post(who, path, with_value(body, ["action_items", 0, "due_on"], day))
    refused(service, response, 422)
    assert "action_items.0.due_on" in response.json["errors"]
    rid = path.split("/")[3]
    response = service.post("mentor", f"/v1/relationships/{rid}/check-ins", {"held_on": day, "minutes": 30})
    refused(service, response, 422)
    assert list(response.json["errors"]) == ["held_on"]
    assert position(service) == before


@pytest.mark.parametrize("day", ["0001-01-02", "9999-12-30"])
def test_days_at_the_edges_are_kept_and_every_view_answers(world, day):
    service, paths = world
    path, who, body = paths["feedback"]
    rid = path.split("/")[3]
    assert service.post(who, path, with_value(body, ["action_items", 0, "due_on"], day)).status_code == 201
    for view in (f"/v1/relationships/{rid}", f"/v1/relationships/{rid}/health", "/v1/health",
                 "/v1/participants/mentee-12/growth", f"/v1/relationships/{rid}/events", "/v1/audit"):
        assert service.get("coordinator", view).status_code == 200, view
    assert service.get("auditor", "/v1/audit/verify").json["ok"] is True


# -- spreadsheet formulas in the CSV export ----------------------------------------------------------------

FORMULAS = ["=1+1", "done;=1+1;=cmd|' /C calc'!A0", "ok,+SUM(A1)", "a\t@x", "line\n-2+3", "fine; =HYPERLINK(\"x\")"]


def csv_cells(service) -> list[str]:
    exported = service.client.get("/v1/audit", headers={**service.headers("auditor"), "Accept": "text/csv"})
    assert exported.status_code == 200 and exported.mimetype == "text/csv"
    return [cell for row in csv.reader(io.StringIO(exported.get_data(as_text=True))) for cell in row]


def starts_a_formula(cell: str) -> bool:
    """Whether a spreadsheet splitting on any of , ; tab | or a line break would find a formula in ``cell``."""
    pieces = [cell]
    for separator in (",", ";", "\t", "|", "\r", "\n"):
        pieces = [part for piece in pieces for part in piece.split(separator)]
    return any(piece.lstrip(" ")[:1] in ("=", "+", "-", "@") for piece in pieces)


@pytest.mark.parametrize("formula", FORMULAS)
def test_no_cell_of_the_csv_export_can_start_a_formula_at_any_separator(world, formula):
    service, paths = world
    path, who, body = paths["pause"]
    assert service.post(who, path, with_value(body, ["reason"], formula)).status_code == 200
    rid = path.split("/")[3]
    assert service.post("coordinator", f"/v1/relationships/{rid}/end", {"reason": formula}).status_code == 200
    cells = csv_cells(service)
    assert [cell for cell in cells if starts_a_formula(cell)] == []
    # The text is all still there (summaries put it on one line), an apostrophe before each formula start;
    # JSON keeps it as it was.
    one_line = " ".join(formula.split())
    assert any(one_line.replace("'", "") in cell.replace("'", "") for cell in cells)
    trail = service.get("auditor", f"/v1/audit?relationship_id={rid}&limit=200").json["items"]
    assert any(one_line in entry["summary"] for entry in trail)


def test_every_text_field_of_the_csv_export_is_quoted(world):
    service, _ = world
    exported = service.client.get("/v1/audit", headers={**service.headers("auditor"), "Accept": "text/csv"})
    header, first = exported.get_data(as_text=True).splitlines()[:2]
    assert header.startswith('"position","relationship_id"')
    assert first.split(",")[0].isdigit() and first.split(",")[1].startswith('"')


# -- ids that can be used everywhere ---------------------------------------------------------------------


@pytest.mark.parametrize("bad_id, reason", [
    ("mentee-12 ", "spaces"), (" mentee-12", "spaces"), ("org/alice", "'/'"), ("org\\alice", "'/'"),
    ("..", "'.'"), ("mentee\u200b12", "U+200B"), ("mentee\u202e12", "U+202E"), ("a\u2028b", "U+2028"),
    ("\ue000", "U+E000"), ("mentee-12\ufe0f", "U+FE0F"), ("ment\u034fee", "U+034F"), ("\u3164", "U+3164"),
    ("\u2800", "U+2800"), ("\u0301a", "combining mark"), ("m\u0435ntee-12", "one writing system"),
])
def test_ids_that_could_not_be_used_everywhere_are_refused(world, bad_id, reason):
    service, _ = world
    before = position(service)
    for field in ("mentee_id", "program_id"):
        body = {"program_id": "p", "mentor_id": "mentor-7", "mentee_id": "mentee-12", field: bad_id}
        response = service.post("coordinator", "/v1/relationships", body)
        refused(service, response, 422)
        assert reason in response.json["errors"][field][0]
    assert position(service) == before


@pytest.mark.parametrize("look_alike", ["mentor-7 ", "MENTOR-7", "Mentor-7", "\uff4d\uff45\uff4e\uff54\uff4f\uff52-7",
                                        "mentor-\uff17"])
def test_a_mentor_cannot_be_their_own_mentee_under_another_spelling(world, look_alike):
    service, _ = world
    before = position(service)
    body = {"program_id": "p", "mentor_id": "mentor-7", "mentee_id": look_alike}
    response = service.post("coordinator", "/v1/relationships", body)
    refused(service, response, 422)
    assert "mentee_id" in response.json["errors"]
    assert position(service) == before


def test_ids_are_kept_in_nfc_and_found_in_any_normal_form(world):
    service, _ = world
    decomposed, composed = "jose\u0301", "jos\u00e9"
    started = service.post("coordinator", "/v1/relationships",
                           {"program_id": "p", "mentor_id": "mentor-7", "mentee_id": decomposed})
    assert started.status_code == 201 and started.json["mentee_id"] == composed
    token = service.app.extensions["tokens"].issue(decomposed, "participant")
    mine = service.client.get("/v1/relationships", headers={"Authorization": f"Bearer {token}"}).json["items"]
    assert [r["id"] for r in mine] == [started.json["id"]]
    for spelling in (decomposed, composed):
        growth = service.client.get(f"/v1/participants/{spelling}/growth",
                                    headers={"Authorization": f"Bearer {token}"})
        assert growth.status_code == 200, growth.json
        listed = service.get("coordinator", f"/v1/relationships?participant_id={spelling}").json["items"]
        assert [r["id"] for r in listed] == [started.json["id"]]


@pytest.mark.parametrize("odd_id", ["o'brien@example.org", "50%off", "a?b#c", "name with spaces", "\u00e9l\u00e8ve",
                                    "\u4e2d\u6587", "a.b", "..."])
def test_every_accepted_id_is_usable_on_every_endpoint(world, odd_id):
    from urllib.parse import quote
    service, _ = world
    started = service.post("coordinator", "/v1/relationships",
                           {"program_id": odd_id, "mentor_id": "mentor-7", "mentee_id": odd_id})
    assert started.status_code == 201, started.json
    rid = started.json["id"]
    token = service.app.extensions["tokens"].issue(odd_id, "participant")
    as_them = {"Authorization": f"Bearer {token}"}
    escaped = quote(odd_id, safe="")
    assert service.client.get(f"/v1/participants/{escaped}/growth", headers=as_them).status_code == 200
    assert [r["id"] for r in service.client.get("/v1/relationships", headers=as_them).json["items"]] == [rid]
    for query in (f"program_id={escaped}", f"participant_id={escaped}"):
        assert [r["id"] for r in service.get("coordinator", f"/v1/relationships?{query}").json["items"]] == [rid]
    health = service.get("coordinator", f"/v1/health?program_id={escaped}").json["items"]
    assert [r["relationship_id"] for r in health] == [rid]
    feedback = service.client.post(f"/v1/relationships/{rid}/feedback", headers=as_them,
                                   json={"content": "c", "kind": "general", "skills": ["s"]})
    assert feedback.status_code == 201, feedback.json
    actors = service.get("auditor", f"/v1/audit?actor={escaped}").json["items"]
    assert [entry["type"] for entry in actors] == ["FeedbackGiven"]


def test_token_principals_follow_the_same_rules(world):
    service, _ = world
    tokens = service.app.extensions["tokens"]
    for bad in ("ada ", "org/ada", "a\u200bda", ""):
        with pytest.raises(ValueError):
            tokens.issue(bad, "coordinator")
    result = service.app.test_cli_runner().invoke(args=["tokens", "issue", "--role", "auditor", "--principal", "a/b"])
    assert result.exit_code == 2 and "not a principal id" in result.output


# -- idempotency keys belong to a principal in a role ----------------------------------------------------


def test_one_principal_in_two_roles_has_two_sets_of_idempotency_keys(store, tmp_path):
    service = build_service(store, tmp_path, PROJECTIONS_MODE="inline")
    try:
        coordinator_mentor = service.app.extensions["tokens"].issue("mentor-7", "coordinator")
        as_coordinator = {"Authorization": f"Bearer {coordinator_mentor}", "Idempotency-Key": "same-key"}
        rid = service.start()["id"]
        given = service.post("mentor", f"/v1/relationships/{rid}/feedback",
                             {"content": "c", "kind": "general", "skills": []}, Idempotency_Key="same-key")
        assert given.status_code == 201
        paused = service.client.post(f"/v1/relationships/{rid}/pause", json={"reason": "r"}, headers=as_coordinator)
        assert paused.status_code == 200 and "Idempotent-Replayed" not in paused.headers, paused.json
        again = service.client.post(f"/v1/relationships/{rid}/pause", json={"reason": "r"}, headers=as_coordinator)
        assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
        assert again.json == paused.json
    finally:
        service.app.extensions["ledger"].close()


def test_rfc_3339_times_may_use_a_lowercase_t_and_z(world):
    service, paths = world
    rid = paths["pause"][0].split("/")[3]
    assert service.get("coordinator", f"/v1/relationships/{rid}?as_of=2999-01-01t00:00:00z").status_code == 200


def test_an_idempotency_key_is_the_same_key_without_surrounding_spaces(world):
    service, paths = world
    path, who, body = paths["pause"]
    first = service.post(who, path, body, Idempotency_Key="pause-1")
    again = service.post(who, path, body, Idempotency_Key=" pause-1 ")
    assert first.status_code == 200 and again.headers.get("Idempotent-Replayed") == "true"


def test_a_request_line_over_the_limit_is_414_from_the_application_too(world):
    service, _ = world
    refused(service, service.get("coordinator", "/v1/relationships?program_id=" + "p" * 8200), 414)
    assert service.get("coordinator", "/v1/relationships?program_id=" + "p" * 100).status_code == 200


def test_a_malformed_chunked_body_is_400_on_the_development_server_too(sqlite_store, tmp_path):
    import socket
    import threading

    from werkzeug.serving import make_server

    service = build_service(sqlite_store, tmp_path)
    server = make_server("127.0.0.1", 0, service.app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with socket.create_connection(("127.0.0.1", server.server_port), timeout=10) as sock:
            sock.sendall(b"POST /v1/relationships HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                         + service.tokens["coordinator"].encode()
                         + b"\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nab\r\n0\r\n\r\n")
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 400") and b"application/problem+json" in head, answer[:300]
        assert service.app.extensions["ledger"].position() == 0
    finally:
        server.shutdown()
        service.app.extensions["ledger"].close()
