"""What the OpenAPI document says beyond the schemas: the headers of the contract, the export formats.

Clients generated from ``/openapi.json`` then have parameters for ``Idempotency-Key`` and ``If-Match`` on
every command, read ``ETag``, ``X-Position``, ``Location``, ``Idempotent-Replayed`` and ``Retry-After``, and
know that the audit trail also answers CSV and NDJSON.
"""

from __future__ import annotations

from typing import Any

from apispec import BasePlugin

COMMAND_HEADERS = [
    {"in": "header", "name": "Idempotency-Key", "required": False,
     "description": "1-200 printable characters; a repeat with the same key, path and body answers as the first "
                    "time and changes nothing (scoped to the token's principal and role).",
     "schema": {"type": "string", "minLength": 1, "maxLength": 200}},
    {"in": "header", "name": "If-Match", "required": False,
     "description": 'The version the command expects, as an ETag ("3"); another version is 412.',
     "schema": {"type": "string"}},
]
ETAG = {"description": 'The relationship\'s version, e.g. "3".', "schema": {"type": "string"}}
ANSWER_HEADERS = {
    "ETag": ETAG,
    "X-Position": {"description": "The store position of the last event written (for ?min_position=).",
                   "schema": {"type": "integer"}},
    "Idempotent-Replayed": {"description": "true when this is the first answer to an earlier request with the same "
                                           "Idempotency-Key.", "schema": {"type": "string", "enum": ["true"]}},
}
LOCATION = {"description": "Where the created resource is read.", "schema": {"type": "string"}}
RETRY_AFTER = {"description": "Seconds to wait before trying again.", "schema": {"type": "integer"}}
# The answers that say when to try again: 429 and 503 always, 409 only when contention refused the command.
RETRY_AFTER_OF = {
    "409": {"description": "Only on contention (other commands kept changing the relationship): seconds to wait "
                           "before sending the same request again.", "schema": {"type": "integer"}},
    "429": RETRY_AFTER, "503": RETRY_AFTER,
}
# The commands whose 201 says where the created resource is read (the others' answers hold their ids).
CREATED_WITH_LOCATION = {"/v1/relationships"}
# The reads that carry the relationship's version as an ETag (now: a replay carries none).
READS_WITH_ETAG = {"/v1/relationships/{relationship_id}", "/v1/relationships/{relationship_id}/events"}
EXPORTS = {"text/csv": {"schema": {"type": "string"}}, "application/x-ndjson": {"schema": {"type": "string"}}}


# The error answers each kind of operation can give (each a problem+json component of LedgerApi).
ERRORS_OF_EVERY_CALL = {"401": "UNAUTHORIZED", "403": "FORBIDDEN", "404": "NOT_FOUND",
                        "422": "UNPROCESSABLE_ENTITY"}
ERRORS_OF_COMMANDS = {"400": "BAD_REQUEST", "409": "CONFLICT", "412": "PRECONDITION_FAILED",
                      "413": "REQUEST_ENTITY_TOO_LARGE", "429": "TOO_MANY_REQUESTS"}
ERRORS_OF_QUERIES = {"503": "SERVICE_UNAVAILABLE"}


def problem_response(status: str, name: str) -> dict[str, Any]:
    """An error answer written out in the operation: RFC 9457 problem details."""
    description = "An error, as RFC 9457 problem details" if status == "default" else \
        name.replace("_", " ").capitalize() + " (problem details)"
    answer: dict[str, Any] = {"description": description,
                              "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}
    if status in RETRY_AFTER_OF:
        answer["headers"] = {"Retry-After": RETRY_AFTER_OF[status]}
    return answer


class ContractHeaders(BasePlugin):
    """An apispec plugin adding the contract's headers and export formats to the operations."""

    def operation_helper(self, path: str | None = None, operations: dict[str, Any] | None = None,
                         **kwargs: Any) -> None:
        for method, operation in (operations or {}).items():
            responses = operation.get("responses", {})
            if path and path.startswith("/v1/"):
                errors = {**ERRORS_OF_EVERY_CALL,
                          **(ERRORS_OF_COMMANDS if method == "post" else ERRORS_OF_QUERIES)}
                for status, name in errors.items():
                    responses.setdefault(status, {"$ref": f"#/components/responses/{name}"})
                responses.setdefault("default", {"$ref": "#/components/responses/DEFAULT_ERROR"})
            for status, response in list(responses.items()):  # written out: generators do not follow these refs
                if isinstance(response, dict) and "$ref" in response:
                    responses[status] = problem_response(str(status), response["$ref"].rsplit("/", 1)[-1])
                elif isinstance(response, str) and not str(status).startswith("2"):  # alt_response(response=NAME)
                    responses[status] = problem_response(str(status), response.rsplit("/", 1)[-1])
            if method == "post" and path and path.startswith("/v1/participants/"):  # erasure: idempotent itself
                operation.setdefault("parameters", []).append(dict(COMMAND_HEADERS[0]))
            if method == "post" and path and path.startswith("/v1/relationships"):  # the ledger's commands
                # Starting one: no version to match yet (a tag in If-Match is 412), so no If-Match offered
                offered = COMMAND_HEADERS[:1] if path in CREATED_WITH_LOCATION else COMMAND_HEADERS
                operation.setdefault("parameters", []).extend(dict(p) for p in offered)
                for status, response in responses.items():
                    if str(status).startswith("2") and isinstance(response, dict):
                        headers = response.setdefault("headers", {})
                        headers.update(ANSWER_HEADERS)
                        if str(status) == "201" and path in CREATED_WITH_LOCATION:
                            headers["Location"] = LOCATION
            if method == "get" and path in READS_WITH_ETAG:
                response = responses.get("200") or responses.get(200)
                if isinstance(response, dict):
                    response.setdefault("headers", {})["ETag"] = ETAG
            if method == "get" and path == "/v1/audit":
                response = responses.get("200") or responses.get(200)
                if isinstance(response, dict):
                    response.setdefault("content", {}).update(EXPORTS)
