"""A client generated from /openapi.json (openapi-python-client, --fail-on-warning) drives a whole scenario
through its generated functions alone: idempotent retry, a stale If-Match, feedback loop, health, exports.

Generators read problem+json errors, headers and fields from the document; the one setting given to the
generator maps NDJSON (a content type it does not know) to text, and skips formatting hooks.
"""

from __future__ import annotations

import importlib
import json
import subprocess  # nosec B404 - the generator, with fixed arguments
import sys
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from tests.api.conftest import CALLERS, build_service

GENERATOR_CONFIG = "post_hooks: []\ncontent_type_overrides:\n  application/x-ndjson: text/plain\n"


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """The service on a real port, and a client package generated from its OpenAPI document."""
    from tests.conftest import Store

    folder = tmp_path_factory.mktemp("generated")
    service = build_service(Store("sqlite", f"sqlite:///{folder}/ledger.sqlite3"), folder, PROJECTIONS_MODE="inline",
                            CLOCK=None)
    (folder / "openapi.json").write_text(json.dumps(service.client.get("/openapi.json").json))
    (folder / "config.yml").write_text(GENERATOR_CONFIG)
    generator = Path(sys.executable).parent / "openapi-python-client"
    run = subprocess.run([str(generator), "generate", "--path", str(folder / "openapi.json"),  # nosec
                          "--output-path", str(folder / "ledger_client"), "--meta", "none", "--fail-on-warning",
                          "--config", str(folder / "config.yml")], capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    sys.path.insert(0, str(folder))
    server = make_server("127.0.0.1", 0, service.app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield service, f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        sys.path.remove(str(folder))
        for name in [m for m in sys.modules if m == "ledger_client" or m.startswith("ledger_client.")]:
            del sys.modules[name]
        service.app.extensions["ledger"].close()


def module(name: str):
    return importlib.import_module(f"ledger_client.{name}")


def test_a_generated_client_runs_a_whole_scenario_through_its_functions(generated):
    service, url = generated
    client_module, models = module("client"), module("models")
    start = module("api.relationships.start_relationship")
    get = module("api.relationships.get_relationship")
    pause = module("api.relationships.pause_relationship")
    give = module("api.feedback.give_feedback")
    receive = module("api.feedback.receive_feedback")
    complete = module("api.feedback.complete_action")
    health = module("api.health.relationship_health")
    csv_export = module("api.audit.audit_export_csv")
    ndjson_export = module("api.audit.audit_export_ndjson")
    verify = module("api.audit.audit_verify")

    def as_caller(who: str):
        return client_module.AuthenticatedClient(base_url=url, token=service.tokens[who], raise_on_unexpected_status=True)

    coordinator, mentor, mentee = as_caller("coordinator"), as_caller("mentor"), as_caller("mentee")
    body = models.StartRelationship(program_id="generated", mentor_id=CALLERS["mentor"][0],
                                    mentee_id=CALLERS["mentee"][0], goals=["Lead a design review"])
    first = start.sync_detailed(client=coordinator, body=body, idempotency_key="start-1")
    retry = start.sync_detailed(client=coordinator, body=body, idempotency_key="start-1")
    assert first.status_code == 201 and isinstance(first.parsed, models.Relationship)
    assert retry.headers["Idempotent-Replayed"] == "true" and retry.parsed.id == first.parsed.id
    rid = first.parsed.id

    given = give.sync(rid, client=mentor, body=models.GiveFeedback(
        content="Clear review; slow down on the trade-offs.", kind=models.GiveFeedbackKind.IMPROVEMENT,
        skills=["presenting"], action_items=[models.ActionItem(description="Prepare a trade-off table")]))
    assert isinstance(given, models.FeedbackGiven) and given.version == 2
    receipt = receive.sync(rid, given.feedback_id, client=mentee, body=models.Receipt(reflection="Fair.", usefulness=4))
    assert isinstance(receipt, models.ReceiptAnswer) and receipt.usefulness == 4
    done = complete.sync(rid, given.action_items[0].action_id, client=mentee, body=models.Completion(outcome="Done"))
    assert isinstance(done, models.CompletionAnswer)

    stale = pause.sync_detailed(rid, client=coordinator, body=models.Lifecycle(reason="holiday"), if_match='"1"')
    assert stale.status_code == 412 and isinstance(stale.parsed, models.Problem) and stale.parsed.status == 412
    current = get.sync_detailed(rid, client=coordinator)
    assert current.headers["ETag"] == '"4"' and current.parsed.feedback[0].reflection == "Fair."
    paused = pause.sync(rid, client=coordinator, body=models.Lifecycle(reason="holiday"), if_match='"4"')
    assert paused.status == models.RelationshipStatus.PAUSED

    figures = health.sync(rid, client=coordinator)
    assert figures.acknowledged == 1 and figures.actions.completed == 1 and figures.score_parts is not None
    csv_text = csv_export.sync(client=coordinator, relationship_id=rid)
    assert csv_text.startswith('"position"') and csv_text.count("\n") == 6  # a header and five entries
    lines = ndjson_export.sync(client=coordinator, relationship_id=rid).splitlines()
    assert [json.loads(line)["type"] for line in lines][-1] == "RelationshipPaused"
    assert verify.sync(client=coordinator).ok is True

    nobody = client_module.AuthenticatedClient(base_url=url, token="mlt_00000000_not-a-real-token-at-all")
    refused = get.sync_detailed(rid, client=nobody)
    assert refused.status_code == 401 and isinstance(refused.parsed, models.Problem)
