"""Liveness, readiness, the OpenAPI document and the token command line."""

from __future__ import annotations

from persistence.tokens import TokenStore


def test_healthz_needs_no_token(service):
    assert service.get(None, "/healthz").json == {"status": "ok"}


def test_readyz_reports_the_store_and_its_position_to_operators_only(service):
    service.start()
    for who in ("coordinator", "auditor"):
        body = service.get(who, "/readyz").json
        assert body["status"] == "ready" and body["position"] >= 1
        assert body["store"] == ("sqlite" if service.app.config["DATABASE_URL"].startswith("sqlite") else "postgresql")
        assert set(body["projections"]["views"]) >= {"audit_trail", "relationship_health"}
    # Without a token, or with a participant's, the status alone: positions tell how busy the store is.
    for who in (None, "mentor"):
        response = service.get(who, "/readyz")
        assert (response.status_code, response.json) == (200, {"status": "ready"})
    refused = service.client.get("/readyz", headers={"Authorization": "Bearer mlt_00000000_forged"})
    assert (refused.status_code, refused.json) == (200, {"status": "ready"})


def test_the_openapi_document_lists_every_endpoint(service):
    spec = service.get(None, "/openapi.json").json
    assert spec["openapi"].startswith("3.")
    assert set(spec["paths"]) >= {
        "/v1/relationships",
        "/v1/relationships/{relationship_id}",
        "/v1/relationships/{relationship_id}/events",
        "/v1/relationships/{relationship_id}/pause",
        "/v1/relationships/{relationship_id}/resume",
        "/v1/relationships/{relationship_id}/end",
        "/v1/relationships/{relationship_id}/feedback",
        "/v1/relationships/{relationship_id}/feedback/{feedback_id}/receipt",
        "/v1/relationships/{relationship_id}/actions/{action_id}/completion",
    }
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


def test_tokens_are_issued_alone_on_stdout_and_stored_only_as_hashes(service):
    runner = service.app.test_cli_runner()
    result = runner.invoke(args=["tokens", "issue", "--role", "auditor", "--principal", "funder-1"])
    token = result.stdout.strip()
    assert result.exit_code == 0 and token.startswith("mlt_") and "\n" not in token
    store: TokenStore = service.app.extensions["tokens"]
    with store.datastore.transaction(commit=False) as cursor:
        cursor.execute(f"SELECT * FROM {store.table}")
        rows = [tuple(row) for row in cursor.fetchall()]
    secret = token.split("_", 2)[2]  # mlt_<prefix>_<secret>; the secret itself may hold "_"
    assert len(secret) >= 40
    assert all(token not in str(value) and secret not in str(value) for row in rows for value in row)
    assert service.client.get("/healthz").status_code == 200
    assert service.client.get("/v1/x", headers={"Authorization": f"Bearer {token}"}).status_code == 404


def test_tokens_are_listed_and_revoked_by_prefix(service):
    runner = service.app.test_cli_runner()
    token = runner.invoke(args=["tokens", "issue", "--role", "coordinator", "--principal", "grace"]).stdout.strip()
    prefix = token.split("_")[1]
    listing = runner.invoke(args=["tokens", "list"]).stdout
    assert f"{prefix}\tcoordinator\tgrace" in listing and token not in listing
    assert runner.invoke(args=["tokens", "revoke", prefix]).exit_code == 0
    assert "revoked" in runner.invoke(args=["tokens", "list"]).stdout.split(prefix)[1].splitlines()[0]
    assert service.client.get("/v1/x", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_unknown_roles_and_tokens_are_refused_by_the_cli(service):
    runner = service.app.test_cli_runner()
    assert runner.invoke(args=["tokens", "issue", "--role", "admin", "--principal", "x"]).exit_code != 0
    assert runner.invoke(args=["tokens", "revoke", "nothing1"]).exit_code != 0


def test_the_openapi_document_declares_the_contracts_headers_and_export_formats(service):
    spec = service.get(None, "/openapi.json").json
    for path, item in spec["paths"].items():
        if "post" in item and path.startswith("/v1/participants/"):  # erasure: no version, no event position
            assert [p["name"] for p in item["post"]["parameters"] if p["in"] == "header"] == ["Idempotency-Key"]
        elif "post" in item and path.startswith("/v1/"):
            names = {p["name"] for p in item["post"].get("parameters", []) if p["in"] == "header"}
            # starting a relationship: no version to match yet (a tag there is 412)
            assert names == ({"Idempotency-Key"} if path == "/v1/relationships" else {"Idempotency-Key", "If-Match"}), path
            created = next(r for status, r in item["post"]["responses"].items() if status.startswith("2"))
            assert {"ETag", "X-Position", "Idempotent-Replayed"} <= set(created["headers"]), path
    relationship = spec["paths"]["/v1/relationships/{relationship_id}"]["get"]["responses"]["200"]
    assert "ETag" in relationship["headers"]
    audit = spec["paths"]["/v1/audit"]["get"]["responses"]["200"]["content"]
    assert {"application/json", "text/csv", "application/x-ndjson"} <= set(audit)
    feedback = spec["paths"]["/v1/relationships/{relationship_id}/feedback"]["post"]["responses"]
    assert "Retry-After" in feedback["429"]["headers"]
    assert "Retry-After" in spec["paths"]["/v1/health"]["get"]["responses"]["503"]["headers"]
    for path in ("/v1/audit/export.csv", "/v1/audit/export.ndjson"):  # an operation of its own per format
        assert len(spec["paths"][path]["get"]["responses"]["200"]["content"]) == 1


def test_every_error_answer_of_every_operation_is_problem_json(service):
    spec = service.get(None, "/openapi.json").json
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if not isinstance(operation, dict) or not path.startswith("/v1/"):
                continue
            assert operation["operationId"] == operation["operationId"].lower(), path
            for status in ("401", "403", "404", "422", "default"):
                answer = operation["responses"][status]
                assert list(answer["content"]) == ["application/problem+json"], (path, method, status)
