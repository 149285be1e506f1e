"""Every error as RFC 9457 application/problem+json (api/errors.py): the `type` slug, `title`, `status` and
`detail` a client reads for each status, the 5xx branches, and how validation messages are flattened."""

from __future__ import annotations

import json

import pytest
from eventsourcing.persistence import (
    InterfaceError,
    OperationalError,
    PersistenceError,
    ProgrammingError,
    RecordConflictError,
)
from werkzeug.exceptions import (
    BadRequest,
    HTTPException,
    InternalServerError,
    MethodNotAllowed,
    NotFound,
    ServiceUnavailable,
    UnprocessableEntity,
    default_exceptions,
)

from api import errors as api_errors
from api.errors import flatten_validation_messages, handle_http_exception, handle_ledger_error, problem
from domain import errors
from domain.commands import CommandRunner
from projections.service import ProjectionsNotCaughtUpError

PROBLEM = "application/problem+json"
URN = "urn:mentorship-ledger:problem:"
MISSING = "00000000-0000-0000-0000-000000000000"
FAILED = "The service failed to answer this request."


def body_of(response) -> dict:
    assert response.mimetype == PROBLEM
    return json.loads(response.get_data(as_text=True))


def logged(caplog) -> list[tuple[str, str]]:
    return [(record.levelname, record.getMessage()) for record in caplog.records if record.name == "api.errors"]


# -- problem(): the shape of every answer ------------------------------------------------------------------


def test_a_problem_carries_type_title_status_detail_extra_members_and_headers():
    response = problem(409, "Only a paused relationship can resume.", title="Relationship is not paused",
                       slug="rule-broken", headers={"Retry-After": "1"}, errors={"reason": ["Too long."]})
    assert (response.status_code, response.headers["Retry-After"]) == (409, "1")
    assert body_of(response) == {"type": URN + "rule-broken", "title": "Relationship is not paused", "status": 409,
                                 "detail": "Only a paused relationship can resume.",
                                 "errors": {"reason": ["Too long."]}}


def test_a_problem_without_a_slug_or_title_takes_them_from_its_status():
    assert body_of(problem(404, "No such thing.")) == {"type": URN + "not-found", "title": "Not Found",
                                                       "status": 404, "detail": "No such thing."}


def test_a_status_without_a_slug_of_its_own_is_a_plain_error_with_its_standard_title():
    assert body_of(problem(418, "Short and stout.")) == {"type": URN + "error", "title": "I'm a teapot",
                                                         "status": 418, "detail": "Short and stout."}


def test_a_status_http_has_no_name_for_is_titled_error():
    assert body_of(problem(499, "Closed early.")) == {"type": URN + "error", "title": "Error", "status": 499,
                                                      "detail": "Closed early."}


# -- every HTTP status the service answers, with its slug and title ----------------------------------------


HTTP_CONTRACT = [
    # status, type slug, title
    (400, "malformed-request", "Bad Request"),
    (401, "unauthenticated", "Unauthorized"),
    (403, "forbidden", "Forbidden"),
    (404, "not-found", "Not Found"),
    (405, "method-not-allowed", "Method Not Allowed"),
    (406, "not-acceptable", "Not Acceptable"),
    (410, "gone", "Gone"),
    (412, "version-mismatch", "Precondition Failed"),
    (413, "body-too-large", "Request Entity Too Large"),
    (414, "uri-too-long", "Request URI Too Long"),
    (415, "unsupported-media-type", "Unsupported Media Type"),
    (422, "validation-failed", "Unprocessable Entity"),
    (429, "too-many-requests", "Too Many Requests"),
    (431, "headers-too-large", "Request Header Fields Too Large"),
    (500, "internal-error", "Internal Server Error"),
    (501, "not-implemented", "Not Implemented"),
    (503, "unavailable", "Service Unavailable"),
]


@pytest.mark.parametrize("status, slug, title", HTTP_CONTRACT, ids=[str(c[0]) for c in HTTP_CONTRACT])
def test_an_http_error_is_answered_with_the_slug_and_title_of_its_status(status, slug, title):
    error = default_exceptions[status]()
    body = body_of(handle_http_exception(error))
    detail = FAILED if status >= 500 else error.description
    assert body == {"type": URN + slug, "title": title, "status": status, "detail": detail}


def test_the_slugs_of_the_contract_are_all_the_slugs_there_are():
    assert api_errors.HTTP_SLUGS == {status: slug for status, slug, _ in HTTP_CONTRACT}


# -- handle_http_exception: the detail, validation, headers, 5xx --------------------------------------------------


class Teapot(HTTPException):
    code = 418  # no description of its own


class ClientClosedRequest(HTTPException):
    code = 499  # neither a description nor a standard name


def test_the_detail_is_the_message_the_handler_gave_before_the_errors_description():
    error = BadRequest(description="The browser sent nonsense.")
    error.data = {"message": "The cursor is not one this service gave."}
    assert body_of(handle_http_exception(error))["detail"] == "The cursor is not one this service gave."


def test_without_a_message_the_detail_is_the_errors_description():
    assert body_of(handle_http_exception(BadRequest(description="The browser sent nonsense.")))["detail"] == (
        "The browser sent nonsense.")


def test_without_a_message_or_description_the_detail_is_the_status_name():
    assert body_of(handle_http_exception(Teapot())) == {"type": URN + "error", "title": "I'm a teapot",
                                                        "status": 418, "detail": "I'm a teapot"}


def test_without_a_message_description_or_status_name_the_detail_is_error():
    assert body_of(handle_http_exception(ClientClosedRequest())) == {"type": URN + "error", "title": "Error",
                                                                     "status": 499, "detail": "Error"}


def test_validation_messages_become_the_errors_member_and_extra_headers_are_kept():
    error = UnprocessableEntity()
    error.data = {"messages": {"json": {"goals": {"0": ["Shorter than minimum length 1."]}}},
                  "headers": {"X-Hint": "see errors"}}
    response = handle_http_exception(error)
    assert (response.status_code, response.headers["X-Hint"]) == (422, "see errors")
    assert body_of(response) == {"type": URN + "validation-failed", "title": "Validation failed", "status": 422,
                                 "detail": "The request did not pass validation.",
                                 "errors": {"goals.0": ["Shorter than minimum length 1."]}}


def test_a_422_without_messages_is_answered_with_its_description():
    response = handle_http_exception(UnprocessableEntity(description="The body names no relationship."))
    assert body_of(response) == {"type": URN + "validation-failed", "title": "Unprocessable Entity",
                                 "status": 422, "detail": "The body names no relationship."}


def test_messages_on_another_status_do_not_make_it_a_validation_problem():
    error = BadRequest(description="Unreadable.")
    error.data = {"messages": {"json": {"x": ["Not a number."]}}}
    response = handle_http_exception(error)
    assert response.status_code == 400
    assert body_of(response) == {"type": URN + "malformed-request", "title": "Bad Request", "status": 400,
                                 "detail": "Unreadable."}


def test_an_http_500_hides_its_description_and_is_logged(caplog):
    response = handle_http_exception(InternalServerError(description="KeyError: 'password' in settings.py"))
    assert body_of(response) == {"type": URN + "internal-error", "title": "Internal Server Error", "status": 500,
                                 "detail": FAILED}
    assert logged(caplog) == [("ERROR", "unexpected server error 500")]


def test_an_http_503_keeps_its_retry_after_and_hides_its_description(caplog):
    response = handle_http_exception(ServiceUnavailable(description="pool exhausted", retry_after=1))
    assert (response.status_code, response.headers["Retry-After"]) == (503, "1")
    assert body_of(response)["detail"] == FAILED
    assert logged(caplog) == [("ERROR", "unexpected server error 503")]


def test_an_http_error_without_a_code_is_an_internal_error():
    response = handle_http_exception(HTTPException(description="no code"))
    assert (response.status_code, body_of(response)["type"], body_of(response)["detail"]) == (
        500, URN + "internal-error", FAILED)


# -- handle_ledger_error: a domain error's family decides its status --------------------------------------------


DOMAIN_CONTRACT = [
    # error class, status, type slug (its title is the class's own)
    (errors.NotFoundError, 404, "not-found"),
    (errors.RelationshipNotFoundError, 404, "not-found"),
    (errors.FeedbackNotFoundError, 404, "not-found"),
    (errors.ActionNotFoundError, 404, "not-found"),
    (errors.VersionNotFoundError, 404, "not-found"),
    (errors.ConcernNotFoundError, 404, "not-found"),
    (errors.NotPermittedError, 403, "forbidden"),
    (errors.IdempotencyKeyReusedError, 422, "idempotency-key-reused"),
    (errors.InvalidCommandError, 422, "invalid-command"),
    (errors.SameParticipantError, 422, "invalid-command"),
    (errors.VersionMismatchError, 412, "version-mismatch"),
    (errors.RuleBrokenError, 409, "rule-broken"),
    (errors.RelationshipEndedError, 409, "rule-broken"),
    (errors.RelationshipPausedError, 409, "rule-broken"),
    (errors.RelationshipAlreadyPausedError, 409, "rule-broken"),
    (errors.RelationshipNotPausedError, 409, "rule-broken"),
    (errors.FeedbackAlreadyReceivedError, 409, "rule-broken"),
    (errors.ActionAlreadyCompletedError, 409, "rule-broken"),
    (errors.ConcernAlreadyResolvedError, 409, "rule-broken"),
    (errors.ConcurrentCommandsError, 409, "rule-broken"),
    (errors.ErasedParticipantError, 409, "erased-participant"),
    (errors.StoreNotMigratedError, 409, "store-not-migrated"),
    (errors.ParticipantErasedError, 410, "participant-erased"),
    (errors.LedgerError, 409, "rule-broken"),  # a domain error of no family breaks a rule
]


@pytest.mark.parametrize("error_class, status, slug", DOMAIN_CONTRACT, ids=[c[0].__name__ for c in DOMAIN_CONTRACT])
def test_a_domain_error_is_answered_by_its_family_with_its_own_title(error_class, status, slug):
    response = handle_ledger_error(error_class("What went wrong, in words."))
    assert response.status_code == status
    assert body_of(response) == {"type": URN + slug, "title": error_class.title, "status": status,
                                 "detail": "What went wrong, in words."}


@pytest.mark.parametrize("error_class, status, slug", DOMAIN_CONTRACT, ids=[c[0].__name__ for c in DOMAIN_CONTRACT])
def test_only_contention_says_when_to_try_again(error_class, status, slug):
    """A command that lost every race on its relationship (others kept changing it) is refused for contention,
    not for what it asked: Retry-After says the same request may be sent again. No other refusal says so."""
    headers = handle_ledger_error(error_class("What went wrong, in words.")).headers
    if error_class is errors.ConcurrentCommandsError:
        assert headers["Retry-After"] == "1"
    else:
        assert "Retry-After" not in headers


def test_a_domain_error_about_one_input_names_it_in_errors():
    error = errors.InvalidCommandError("A check-in cannot be held in the future.", field="held_on")
    assert body_of(handle_ledger_error(error)) == {
        "type": URN + "invalid-command", "title": "Invalid command", "status": 422,
        "detail": "A check-in cannot be held in the future.",
        "errors": {"held_on": ["A check-in cannot be held in the future."]}}


# -- through the service: what a client reads for each kind of failure -------------------------------------


def test_an_unreadable_body_is_a_malformed_request(sqlite_service):
    response = sqlite_service.client.post("/v1/relationships", data="{not json", content_type="application/json",
                                          headers=sqlite_service.headers("coordinator"))
    assert (response.status_code, body_of(response)) == (400, {
        "type": URN + "malformed-request", "title": "Bad Request", "status": 400,
        "detail": "The body is not valid JSON."})


def test_a_missing_token_is_unauthenticated_with_a_bearer_challenge(sqlite_service):
    response = sqlite_service.get(None, f"/v1/relationships/{MISSING}")
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="mentorship-ledger"'
    assert (response.status_code, body_of(response)) == (401, {
        "type": URN + "unauthenticated", "title": "Unauthorized", "status": 401,
        "detail": "A valid bearer token is required."})


def test_a_role_that_may_not_act_is_forbidden(sqlite_service):
    rid = sqlite_service.start()["id"]
    response = sqlite_service.post("coordinator", f"/v1/relationships/{rid}/feedback", {})
    assert (response.status_code, body_of(response)) == (403, {
        "type": URN + "forbidden", "title": "Not permitted", "status": 403,
        "detail": "A coordinator may not give feedback here."})


def test_a_command_that_loses_every_race_is_told_to_try_again_and_nothing_is_stored(sqlite_service, monkeypatch):
    """Other writers won every try on the relationship (as when many clients write to one at once): contention,
    answered 409 with Retry-After, and the relationship as it was."""
    rid = sqlite_service.start()["id"]
    before = sqlite_service.get("coordinator", f"/v1/relationships/{rid}").headers["ETag"]

    def another_write_won(*_args, **_kwargs):
        raise RecordConflictError("another write took this version")

    monkeypatch.setattr(CommandRunner, "max_attempts", 3)
    monkeypatch.setattr(type(sqlite_service.app.extensions["ledger"]), "save", another_write_won)
    response = sqlite_service.post("mentor", f"/v1/relationships/{rid}/feedback", {"content": "Clear.", "kind": "general"})
    assert (response.status_code, response.headers.get("Retry-After"), body_of(response)) == (409, "1", {
        "type": URN + "rule-broken", "title": "Too many concurrent commands", "status": 409,
        "detail": "The relationship kept changing; try again."})
    monkeypatch.undo()
    assert sqlite_service.get("coordinator", f"/v1/relationships/{rid}").headers["ETag"] == before


def test_an_unknown_route_is_not_found(sqlite_service):
    response = sqlite_service.get("auditor", "/v1/nowhere")
    assert (response.status_code, body_of(response)) == (404, {
        "type": URN + "not-found", "title": "Not Found", "status": 404, "detail": NotFound.description})


def test_a_wrong_method_is_not_allowed_and_says_which_are(sqlite_service):
    response = sqlite_service.client.delete("/v1/relationships", headers=sqlite_service.headers("coordinator"))
    assert sorted(response.headers["Allow"].split(", ")) == ["GET", "HEAD", "OPTIONS", "POST"]  # in no set order
    assert (response.status_code, body_of(response)) == (405, {
        "type": URN + "method-not-allowed", "title": "Method Not Allowed", "status": 405,
        "detail": MethodNotAllowed.description})


def test_a_malformed_if_match_is_a_version_mismatch_that_says_what_to_send(sqlite_service):
    rid = sqlite_service.start()["id"]
    response = sqlite_service.post("coordinator", f"/v1/relationships/{rid}/pause", {}, If_Match="one")
    assert (response.status_code, body_of(response)) == (412, {
        "type": URN + "version-mismatch", "title": "Precondition Failed", "status": 412,
        "detail": 'If-Match must be an ETag of the relationship, e.g. "3".'})


def test_a_body_over_the_limit_is_too_large(sqlite_service):
    body = json.dumps({"program_id": "p", "mentor_id": "a", "mentee_id": "b", "goals": ["x" * 70_000]})
    response = sqlite_service.client.post("/v1/relationships", data=body, content_type="application/json",
                                          headers=sqlite_service.headers("coordinator"))
    assert (response.status_code, body_of(response)) == (413, {
        "type": URN + "body-too-large", "title": "Request Entity Too Large", "status": 413,
        "detail": "The body is larger than the limit of 65536 bytes."})


def test_a_body_that_is_not_json_is_an_unsupported_media_type(sqlite_service):
    response = sqlite_service.client.post("/v1/relationships", data="a=b",
                                          content_type="application/x-www-form-urlencoded",
                                          headers=sqlite_service.headers("coordinator"))
    assert (response.status_code, body_of(response)) == (415, {
        "type": URN + "unsupported-media-type", "title": "Unsupported Media Type", "status": 415,
        "detail": "Send the body as application/json."})


def test_validation_names_every_field_with_its_messages(sqlite_service):
    response = sqlite_service.post("coordinator", "/v1/relationships", {"mentor_id": "", "colour": "blue"})
    assert (response.status_code, body_of(response)) == (422, {
        "type": URN + "validation-failed", "title": "Validation failed", "status": 422,
        "detail": "The request did not pass validation.",
        "errors": {"program_id": ["Missing data for required field."],
                   "mentor_id": ["Length must be between 1 and 128."],
                   "mentee_id": ["Missing data for required field."],
                   "colour": ["Unknown field."]}})


def test_a_query_that_does_not_validate_names_the_parameter_without_its_location(sqlite_service):
    response = sqlite_service.get("coordinator", "/v1/relationships?limit=0")
    assert body_of(response)["errors"] == {
        "limit": ["Must be greater than or equal to 1 and less than or equal to 500."]}


def test_a_domain_refusal_about_one_input_names_it_like_validation_does(sqlite_service):
    response = sqlite_service.post("coordinator", "/v1/relationships",
                                   {"program_id": "p", "mentor_id": "same", "mentee_id": "same"})
    message = "A relationship needs two different people as mentor and mentee."
    assert (response.status_code, body_of(response)) == (422, {
        "type": URN + "invalid-command", "title": "Mentor and mentee must differ", "status": 422,
        "detail": message, "errors": {"mentee_id": [message]}})


def test_a_broken_rule_is_a_conflict_without_an_errors_member(sqlite_service):
    rid = sqlite_service.start()["id"]
    response = sqlite_service.post("coordinator", f"/v1/relationships/{rid}/resume", {})
    assert (response.status_code, body_of(response)) == (409, {
        "type": URN + "rule-broken", "title": "Relationship is not paused", "status": 409,
        "detail": "Only a paused relationship can resume."})


def test_headers_over_the_limit_are_too_large(sqlite_service):
    response = sqlite_service.get("coordinator", "/v1/relationships", X_Big="x" * 17_000)
    assert (response.status_code, body_of(response)) == (431, {
        "type": URN + "headers-too-large", "title": "Request Header Fields Too Large", "status": 431,
        "detail": "The request headers are larger than the limit of 16384 bytes."})


# -- 5xx: what fails inside is never shown, only logged ---------------------------------------------------------


def failing_store(service, monkeypatch, error: Exception) -> None:
    def fail(*args, **kwargs):
        raise error

    monkeypatch.setattr(service.app.extensions["ledger"].runner, "current", fail)


@pytest.mark.parametrize("error", [OperationalError("could not connect to host db password=hunter2"),
                                   InterfaceError("connection already closed password=hunter2")],
                         ids=["OperationalError", "InterfaceError"])
def test_an_unreachable_store_is_unavailable_and_asks_for_a_retry_in_a_second(sqlite_service, monkeypatch, caplog,
                                                                                error):
    failing_store(sqlite_service, monkeypatch, error)
    response = sqlite_service.post("coordinator", f"/v1/relationships/{MISSING}/pause")
    assert (response.status_code, response.headers["Retry-After"]) == (503, "1")
    assert body_of(response) == {"type": URN + "unavailable", "title": "Service Unavailable", "status": 503,
                                 "detail": "The event store is unavailable; try again shortly."}
    assert logged(caplog) == [("WARNING", f"store unavailable: {type(error).__name__}")]


def test_any_other_store_error_is_an_internal_error_without_retry_after(sqlite_service, monkeypatch, caplog):
    failing_store(sqlite_service, monkeypatch, ProgrammingError('relation "events" does not exist'))
    response = sqlite_service.post("coordinator", f"/v1/relationships/{MISSING}/pause")
    assert (response.status_code, "Retry-After" in response.headers) == (500, False)
    assert body_of(response) == {"type": URN + "internal-error", "title": "Internal Server Error", "status": 500,
                                 "detail": FAILED}
    assert logged(caplog) == [("ERROR", "store error: ProgrammingError")]


def test_the_base_store_error_is_an_internal_error_too(sqlite_service, monkeypatch):
    failing_store(sqlite_service, monkeypatch, PersistenceError("something in the store"))
    response = sqlite_service.post("coordinator", f"/v1/relationships/{MISSING}/pause")
    assert (response.status_code, body_of(response)["type"]) == (500, URN + "internal-error")


def test_an_unexpected_exception_is_an_internal_error_with_the_stack_trace_only_in_the_log(sqlite_service,
                                                                                           monkeypatch, caplog):
    failing_store(sqlite_service, monkeypatch, RuntimeError("secret token mlt_123 in a traceback"))
    response = sqlite_service.post("coordinator", f"/v1/relationships/{MISSING}/pause")
    assert response.status_code == 500
    assert body_of(response) == {"type": URN + "internal-error", "title": "Internal Server Error", "status": 500,
                                 "detail": FAILED}
    assert logged(caplog) == [("ERROR", "unhandled error answering a request")]
    record = next(r for r in caplog.records if r.name == "api.errors")
    assert record.exc_info[0] is RuntimeError


def test_views_behind_the_asked_position_are_unavailable_for_now(sqlite_service, monkeypatch):
    created = sqlite_service.post("coordinator", "/v1/relationships",
                                  {"program_id": "p", "mentor_id": "mentor-7", "mentee_id": "mentee-12"})
    projections = sqlite_service.app.extensions["projections"]

    def not_caught_up(*args, **kwargs):
        raise ProjectionsNotCaughtUpError("index at 0, asked for 1")

    monkeypatch.setattr(projections, "wait_for", not_caught_up)
    response = sqlite_service.get("coordinator", f"/v1/relationships?min_position={created.headers['X-Position']}")
    assert (response.status_code, response.headers["Retry-After"]) == (503, "1")
    assert body_of(response) == {"type": URN + "not-caught-up", "title": "Views not caught up", "status": 503,
                                 "detail": "The views have not reached that position yet; try again shortly."}


# -- flatten_validation_messages: field -> messages, whatever the nesting ------------------------------------


@pytest.mark.parametrize("location", ["json", "query", "querystring", "headers", "view_args"])
def test_a_request_location_is_dropped_from_the_field_names(location):
    assert flatten_validation_messages({location: {"limit": ["Too big."]}}) == {"limit": ["Too big."]}


def test_a_top_level_key_that_is_not_a_location_is_a_field():
    assert flatten_validation_messages({"colour": ["Unknown field."]}) == {"colour": ["Unknown field."]}


def test_nested_fields_are_joined_with_dots():
    messages = {"json": {"action_items": {0: {"description": ["Missing data for required field."]},
                                          2: {"due_on": ["Not a valid date."]}}}}
    assert flatten_validation_messages(messages) == {
        "action_items.0.description": ["Missing data for required field."],
        "action_items.2.due_on": ["Not a valid date."]}


def test_messages_for_the_same_field_from_two_locations_are_kept_together():
    messages = {"json": {"limit": ["Not an integer."]}, "query": {"limit": ["Too big."]}}
    assert flatten_validation_messages(messages) == {"limit": ["Not an integer.", "Too big."]}


def test_a_single_message_that_is_not_in_a_list_is_kept_whole():
    assert flatten_validation_messages({"json": {"reason": "Not a string."}}) == {"reason": ["Not a string."]}


def test_a_message_that_is_not_a_string_is_written_as_one():
    assert flatten_validation_messages({"json": {"minutes": 30}}) == {"minutes": ["30"]}


def test_a_list_mixing_messages_and_other_values_is_written_as_one_message():
    assert flatten_validation_messages({"json": {"goals": ["Too long.", 3]}}) == {"goals": ["['Too long.', 3]"]}


def test_messages_about_the_whole_body_go_under_schema():
    assert flatten_validation_messages({"json": ["Invalid input type."]}) == {"_schema": ["Invalid input type."]}


def test_a_bare_list_of_messages_goes_under_schema():
    assert flatten_validation_messages(["Invalid input type.", "Empty."]) == {
        "_schema": ["Invalid input type.", "Empty."]}


def test_a_bare_message_goes_under_schema():
    assert flatten_validation_messages("Invalid input type.") == {"_schema": ["Invalid input type."]}


def test_a_bare_value_that_is_not_a_string_goes_under_schema_as_one():
    assert flatten_validation_messages({"json": 7}) == {"_schema": ["7"]}


# -- the production server's own refusals (api.serving) -------------------------------------------------------


@pytest.mark.parametrize("status, reason", [(400, "Bad Request"), (414, "URI Too Long"),
                                            (431, "Request Header Fields Too Large"), (501, "Not Implemented")])
def test_gunicorn_refusals_are_whole_problem_json_responses_with_the_security_headers(status, reason):
    from api.http import SECURITY_HEADERS
    from api.serving import problem_bytes

    head, _, body = problem_bytes(status, reason).partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    assert lines[0] == f"HTTP/1.1 {status} {reason}"
    assert headers["Content-Type"] == "application/problem+json" and headers["Connection"] == "close"
    assert int(headers["Content-Length"]) == len(body)
    assert {name: headers[name] for name in SECURITY_HEADERS} == SECURITY_HEADERS
    problem = json.loads(body)
    assert problem["type"] == URN + api_errors.HTTP_SLUGS[status] and problem["status"] == status
    assert problem["title"] == reason and problem["detail"]
