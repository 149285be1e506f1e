"""The projection endpoints over HTTP, with each role's permissions, on both stores."""

from __future__ import annotations

import csv
import io
import json
import threading
from datetime import datetime, timezone

import pytest

from api import reads
from api.reads import READS_ALONG
from domain.principal import Principal
from tests.api.conftest import build_service


@pytest.fixture
def busy(service):
    """Two relationships with feedback both ways, a receipt and a completion."""
    first = service.start()["id"]
    second = service.start(program_id="autumn", mentor_id="mentor-99", mentee_id="mentee-5")["id"]
    given = service.give(first, skills=["Presenting"])
    service.give(first, who="mentee", kind="strength", skills=["coaching"], action_items=[])
    service.post("mentee", f"/v1/relationships/{first}/feedback/{given['feedback_id']}/receipt", {"usefulness": 4})
    service.post("mentee", f"/v1/relationships/{first}/actions/{given['action_items'][0]['action_id']}/completion")
    service.post("coordinator", f"/v1/relationships/{second}/pause")
    return service, first, second


def fresh(service, path, who="coordinator"):
    """Read through the worker-free path: ask the views to catch up first when they run in a worker."""
    if service.app.config["PROJECTIONS_MODE"] == "worker":
        service.app.extensions["projections"].catch_up()
    return service.get(who, path)


def test_coordinators_list_every_relationship(busy):
    service, first, second = busy
    body = fresh(service, "/v1/relationships").json
    assert [(r["id"], r["status"], r["version"]) for r in body["items"]] == [(first, "active", 5), (second, "paused", 2)]
    assert body["next"] is None


def test_participants_list_only_their_own(busy):
    service, first, _ = busy
    assert [r["id"] for r in fresh(service, "/v1/relationships", "mentee").json["items"]] == [first]
    assert fresh(service, "/v1/relationships?participant_id=mentee-5", "mentee").json["items"] == []


def test_the_list_filters_and_pages(busy):
    service, first, second = busy
    assert [r["id"] for r in fresh(service, "/v1/relationships?program_id=autumn").json["items"]] == [second]
    assert [r["id"] for r in fresh(service, "/v1/relationships?status=active").json["items"]] == [first]
    page = fresh(service, "/v1/relationships?limit=1").json
    assert [r["id"] for r in page["items"]] == [first]
    assert [r["id"] for r in fresh(service, f"/v1/relationships?limit=1&cursor={page['next']}").json["items"]] == [second]
    assert service.get("auditor", "/v1/relationships?status=asleep").status_code == 422


def test_a_relationship_has_health_figures(busy):
    service, first, _ = busy
    body = fresh(service, f"/v1/relationships/{first}/health", "mentor").json
    assert body["feedback_given"] == {"by_mentor": 1, "by_mentee": 1}
    assert (body["two_way_ratio"], body["acknowledged"], body["acknowledgement_rate"]) == (1.0, 1, 0.5)
    assert body["actions"] == {"total": 1, "completed": 1, "open": 0, "overdue": 0}
    # balance 25 + closure 12.5 + follow-through 20 + cadence 20 + responsiveness 10 (acknowledged in minutes)
    assert (body["score"], body["status"]) == (88, "thriving")
    assert body["as_of_position"] == service.app.extensions["ledger"].position()


def test_health_as_it_stood_at_a_version(busy):
    service, first, _ = busy
    then = service.get("auditor", f"/v1/relationships/{first}/health?version=2").json
    assert then["feedback_given"] == {"by_mentor": 1, "by_mentee": 0} and then["acknowledged"] == 0
    assert service.get("auditor", f"/v1/relationships/{first}/health?version=99").status_code == 404
    assert service.get("auditor", f"/v1/relationships/{first}/health?as_of=2000-01-01T00:00:00Z").status_code == 404


def test_health_is_hidden_from_outsiders(busy):
    service, first, _ = busy
    assert service.get("outsider", f"/v1/relationships/{first}/health").status_code == 404


def test_the_health_list_is_worst_first_for_overseers_only(busy):
    service, first, second = busy
    body = fresh(service, "/v1/health").json
    scores = [item["score"] for item in body["items"]]
    assert scores == sorted(scores) and {i["relationship_id"] for i in body["items"]} == {first, second}
    assert [i["status"] for i in fresh(service, "/v1/health?status=paused", "auditor").json["items"]] == ["paused"]
    assert service.get("mentor", "/v1/health").status_code == 403
    page = fresh(service, "/v1/health?limit=1").json
    rest = fresh(service, f"/v1/health?limit=1&cursor={page['next']}").json
    assert [i["relationship_id"] for i in page["items"] + rest["items"]] == [i["relationship_id"] for i in body["items"]]


@pytest.mark.parametrize("limit", [1, 50])  # a next page, and none
def test_a_health_page_kept_in_memory_answers_what_dumping_the_page_answers(busy, limit):
    """The rows of a kept page are dumped once; each answer then sets only ``as_of``, the moment asked."""
    from datetime import datetime

    from marshmallow import Schema

    from api.schemas.views import HealthSchema
    from domain.principal import Principal

    service, _, _ = busy
    queries = service.app.extensions["queries"]
    answers = [fresh(service, f"/v1/health?limit={limit}"), service.get("auditor", f"/v1/health?limit={limit}")]
    assert [page.memo.keys() for page in queries.health_pages._pages.values()] == [{"body"}]  # noqa: SLF001
    first, second = (answer.json for answer in answers)
    assert first["items"][0]["as_of"] < second["items"][0]["as_of"]
    assert (first["next"] != second["next"]) if limit == 1 else (first["next"] is second["next"] is None)
    for answer in answers:
        body = answer.json
        moment = datetime.fromisoformat(body["items"][0]["as_of"].replace("Z", "+00:00"))
        rows, _ = queries.health_page(Principal("carol", "coordinator"), program_id=None, status=None, after=None,
                                      limit=limit, now=moment)  # scored at that moment, not kept
        expected = {"items": Schema.dump(HealthSchema(), rows, many=True), "next": body["next"]}  # marshmallow's
        with service.app.app_context():
            assert answer.data == service.app.json.response(expected).data  # byte for byte
        assert answer.mimetype == "application/json"
        if body["next"] is not None:
            following = fresh(service, f"/v1/health?limit=1&cursor={body['next']}").json["items"]
            assert following[0]["relationship_id"] != body["items"][0]["relationship_id"]


def test_growth_is_for_the_participant_and_overseers(busy):
    service, _, _ = busy
    skills = fresh(service, "/v1/participants/mentee-12/growth", "mentee").json["skills"]
    assert [(s["skill"], s["improvement_mentions"], s["actions_completed"]) for s in skills] == [("Presenting", 1, 1)]
    assert fresh(service, "/v1/participants/mentor-7/growth", "auditor").json["skills"][0]["skill"] == "coaching"
    assert service.get("mentor", "/v1/participants/mentee-12/growth").status_code == 404
    # Unknown ids are 404 (before: 200 with no skills, for any id, even ones no id may be)
    for unknown in ("nobody", "%E2%80%8B", "erased:" + "0" * 32, "~" + "0" * 32, "..%2F..%2Fetc"):
        answer = fresh(service, f"/v1/participants/{unknown}/growth")
        assert answer.status_code == 404 and answer.mimetype == "application/problem+json", (unknown, answer.json)
    own = service.app.extensions["tokens"].issue("newcomer-2", "participant")
    answer = service.client.get("/v1/participants/newcomer-2/growth", headers={"Authorization": f"Bearer {own}"})
    assert answer.json == {"participant_id": "newcomer-2", "skills": []}  # one's own: no feedback yet, empty


def test_the_audit_trail_pages_in_store_order(busy):
    service, first, _ = busy
    page = fresh(service, "/v1/audit?limit=3", "auditor").json
    rest = service.get("auditor", f"/v1/audit?cursor={page['next']}").json
    positions = [e["position"] for e in page["items"] + rest["items"]]
    assert positions == sorted(positions) and len(positions) == 7 and rest["next"] is None
    assert {e["type"] for e in fresh(service, f"/v1/audit?relationship_id={first}&type=FeedbackGiven").json["items"]} == {
        "FeedbackGiven"}


def test_participants_read_the_audit_of_their_own_relationship_only(busy):
    service, first, second = busy
    assert service.get("mentor", "/v1/audit").status_code == 403
    assert service.get("mentor", f"/v1/audit?relationship_id={second}").status_code == 404
    assert len(fresh(service, f"/v1/audit?relationship_id={first}", "mentor").json["items"]) == 5


def test_the_audit_trail_exports_as_ndjson_and_csv(busy):
    service, _, _ = busy
    fresh(service, "/v1/audit")
    ndjson = service.client.get("/v1/audit", headers={**service.headers("auditor"), "Accept": "application/x-ndjson"})
    lines = [json.loads(line) for line in ndjson.get_data(as_text=True).splitlines()]
    assert ndjson.mimetype == "application/x-ndjson" and len(lines) == 7
    exported = service.client.get("/v1/audit?type=FeedbackGiven", headers={**service.headers("auditor"),
                                                                            "Accept": "text/csv"})
    rows = list(csv.DictReader(io.StringIO(exported.get_data(as_text=True))))
    assert exported.mimetype == "text/csv" and [r["type"] for r in rows] == ["FeedbackGiven", "FeedbackGiven"]
    assert rows[1]["prev_hash"] == lines[3]["prev_hash"] == lines[2]["hash"]


def test_verify_and_head(busy):
    service, _, _ = busy
    head = fresh(service, "/v1/audit/head", "auditor").json
    assert head["entries"] == 7 and len(head["hash"]) == 64
    verified = service.get("auditor", f"/v1/audit/verify?head_position={head['position']}&head_hash={head['hash']}")
    assert verified.json["ok"] is True and verified.json["entries_checked"] == 7
    assert service.get("auditor", f"/v1/audit/verify?head_position={head['position']}").status_code == 422
    assert service.get("mentor", "/v1/audit/verify").status_code == 403
    # A head no write has reached is a mistake (422 naming it), not a broken chain (before: ok false, "no
    # longer in the chain", which reads as tampering)
    beyond = service.get("auditor", f"/v1/audit/verify?head_position=999999&head_hash={'0' * 64}")
    assert beyond.status_code == 422 and "head_position" in beyond.json["errors"], beyond.json
    assert service.get("mentor", f"/v1/audit/verify?head_position=999999&head_hash={'0' * 64}").status_code == 403


def test_verify_with_a_head_at_a_record_outside_the_trail_is_a_mistake_not_tampering(busy):
    """A position holding an idempotency record was never an entry: 422 naming the head, as for one no write
    reached (it answered ok false, "the anchored head is no longer in the chain")."""
    service, rid, _ = busy
    keyed = service.post("coordinator", f"/v1/relationships/{rid}/pause", {}, Idempotency_Key="pause-1")
    assert keyed.status_code == 200, keyed.json
    head = fresh(service, "/v1/audit/head", "auditor").json
    record = int(keyed.headers["X-Position"])
    assert record != head["position"]  # the pause's entry is the head; the record of its key comes after it
    mistaken = service.get("auditor", f"/v1/audit/verify?head_position={record}&head_hash={head['hash']}")
    assert mistaken.status_code == 422 and "outside the audit trail" in mistaken.json["errors"]["head_position"][0]
    kept = service.get("auditor", f"/v1/audit/verify?head_position={head['position']}&head_hash={head['hash']}")
    assert kept.json["ok"] is True, kept.json


@pytest.mark.parametrize("query", ["type=Whatever", "since=yesterday", "relationship_id=42", "limit=0", "colour=red"])
def test_bad_audit_queries_are_unprocessable(service, query):
    assert service.get("auditor", f"/v1/audit?{query}").status_code == 422


def test_read_your_writes_waits_for_the_worker_or_answers_503(store, tmp_path):
    service = build_service(store, tmp_path, PROJECTIONS_MODE="worker", READ_YOUR_WRITES_TIMEOUT=0.3)
    created = service.post("coordinator", "/v1/relationships",
                           {"program_id": "p", "mentor_id": "mentor-7", "mentee_id": "mentee-12"})
    position = created.headers["X-Position"]
    late = service.get("coordinator", f"/v1/relationships?min_position={position}")
    assert late.status_code == 503 and late.headers["Retry-After"] == "1"
    assert late.mimetype == "application/problem+json"

    service.app.config["READ_YOUR_WRITES_TIMEOUT"] = 30
    projections = service.app.extensions["projections"]
    waiting, answers = threading.Event(), []
    original = projections.wait_for

    def wait_for(*args, **kwargs):  # the real wait, announced, so the worker runs only once the reader waits
        waiting.set()
        return original(*args, **kwargs)

    projections.wait_for = wait_for
    reader = threading.Thread(target=lambda: answers.append(
        service.get("coordinator", f"/v1/relationships?min_position={position}")))
    reader.start()
    assert waiting.wait(30)
    projections.catch_up()  # the worker's catch-up, while the reader waits
    reader.join(30)
    assert not reader.is_alive() and answers[0].status_code == 200
    assert answers[0].json["items"][0]["id"] == created.json["id"]
    service.app.extensions["ledger"].close()


def test_embedded_mode_reads_its_own_writes_at_once(sqlite_service):
    created = sqlite_service.post("coordinator", "/v1/relationships",
                                  {"program_id": "p", "mentor_id": "mentor-7", "mentee_id": "mentee-12"})
    listed = sqlite_service.get("coordinator", f"/v1/relationships?min_position={created.headers['X-Position']}")
    assert listed.json["items"][0]["id"] == created.json["id"]


def test_a_position_no_write_has_reached_is_unprocessable(sqlite_service):
    """Found by fuzzing: such a position used to wait its full timeout, then answer 503."""
    response = sqlite_service.get("coordinator", "/v1/relationships?min_position=32106")
    assert response.status_code == 422 and "min_position" in response.json["errors"]


@pytest.mark.postgres
def test_a_relationships_health_is_read_with_the_token_in_one_round_trip_on_postgresql(postgres_store, tmp_path):
    """With a worker keeping the views, ``GET .../health`` reads the view in the statement that reads the token
    (one round trip, not two), with the same answer as reading it alone; a rebuild that drops the generation a
    process last saw live costs that request the ride (the token is read alone, then the view), not an error;
    ``?min_position=`` waits and reads the view after."""
    moment = datetime(2026, 3, 2, 12, 0, tzinfo=timezone.utc)
    service = build_service(postgres_store, tmp_path, CLOCK=lambda: moment)
    try:
        rid = service.start()["id"]
        given = service.give(rid)
        service.post("mentee", f"/v1/relationships/{rid}/feedback/{given['feedback_id']}/receipt", {"usefulness": 4})
        written = service.post("mentee", f"/v1/relationships/{rid}/feedback", {
            "content": "You made the review easy to follow.", "kind": "strength", "skills": ["coaching"]})
        projections = service.app.extensions["projections"]
        projections.catch_up()
        pool = service.app.extensions["ledger"].factory.datastore.pool
        taken, get = [], pool.get
        pool.get = lambda *a, **k: taken.append(1) or get(*a, **k)
        path = f"/v1/relationships/{rid}/health"

        def health(suffix: str = "") -> tuple[dict, int]:
            taken.clear()
            response = service.get("mentor", path + suffix)
            assert response.status_code == 200, response.json
            return response.json, len(taken)

        service.get("mentor", "/v1/relationships")  # the process has seen the views' live generations
        alone = dict(READS_ALONG)
        READS_ALONG.clear()
        try:
            expected, statements = health()
        finally:
            READS_ALONG.update(alone)
        assert statements == 2 and expected["feedback_given"] == {"by_mentor": 1, "by_mentee": 1}
        assert health() == (expected, 1)
        waited, statements = health(f"?min_position={written.headers['X-Position']}")
        assert waited == expected and statements > 2  # the token, then the wait, then the view

        projections.rebuild("relationship_health")  # generation 2 live; generation 1's tables dropped
        assert health() == (expected, 3)  # the ride failed: the token alone, then the view
        assert health() == (expected, 1)  # riding on generation 2
        assert service.get("outsider", path).status_code == 404  # read along, but never shown to them
    finally:
        service.app.extensions["ledger"].close()


@pytest.mark.postgres
def test_a_page_of_relationships_is_read_with_the_token_in_one_round_trip_on_postgresql(postgres_store, tmp_path):
    """With a worker keeping the views, ``GET /v1/relationships`` reads its page in the statement that reads the
    token, made for whom the token stood for when last seen: the same pages (filters, cursors, a participant's
    own only) in one round trip; a guess that no longer fits costs the ride, never the answer."""
    service = build_service(postgres_store, tmp_path)
    try:
        first = service.start()["id"]
        second = service.start(program_id="autumn", mentor_id="mentor-99", mentee_id="mentee-5")["id"]
        third = service.start(mentee_id="mentee-6")["id"]
        service.app.extensions["projections"].catch_up()
        pool = service.app.extensions["ledger"].factory.datastore.pool
        taken, get = [], pool.get
        pool.get = lambda *a, **k: taken.append(1) or get(*a, **k)

        def listed(who: str, query: str = "") -> tuple[dict, int]:
            taken.clear()
            response = service.get(who, "/v1/relationships" + query)
            assert response.status_code == 200, response.json
            return response.json, len(taken)

        queries = ["", "?limit=1", "?program_id=autumn", "?participant_id=mentee-6", "?status=active&limit=2"]
        callers = ["coordinator", "mentor", "outsider"]
        alone = dict(READS_ALONG)
        READS_ALONG.clear()
        try:
            expected = {(who, q): listed(who, q)[0] for who in callers for q in queries}
        finally:
            READS_ALONG.update(alone)
        for who in callers:
            for query in queries:
                assert listed(who, query) == (expected[(who, query)], 1), (who, query)
        assert [r["id"] for r in expected[("mentor", "")]["items"]] == [first, third]
        assert [r["id"] for r in expected[("outsider", "")]["items"]] == [second]
        following = expected[("coordinator", "?limit=1")]["next"]
        assert listed("coordinator", f"?limit=1&cursor={following}")[0]["items"][0]["id"] == second

        tokens = service.app.extensions["tokens"]
        prefix = service.tokens["outsider"].split("_")[1]
        tokens._seen[prefix] = Principal("mentor-7", "participant")  # noqa: SLF001 - a guess that no longer fits
        assert listed("outsider") == (expected[("outsider", "")], 2)  # its own page, read after the token
        assert listed("outsider") == (expected[("outsider", "")], 1)
        assert service.get("mentor", "/v1/relationships?limit=abc").status_code == 422
        for bad in ("", "Bearer nonsense", f"Bearer mlt_{prefix}_{'x' * 43}"):  # refused: whom tokens stood for is kept
            assert service.client.get("/v1/relationships", headers={"Authorization": bad}).status_code == 401
        assert listed("mentor") == (expected[("mentor", "")], 1)

        kept = lambda: repr(reads.LOADED_QUERIES._loaded)  # noqa: E731, SLF001 - the query values kept for rides
        assert "mentee-6" in kept()
        assert service.post("coordinator", "/v1/participants/mentee-6/erasure").status_code == 200
        listed("coordinator")  # reads the erasure's generation: whom tokens stood for is forgotten
        assert "mentee-6" not in kept()  # and the query values kept (an erased id among them)
        alone, ridden = listed("coordinator"), listed("coordinator")
        assert alone[0] == ridden[0] and ridden[1] == alone[1] - 1  # riding again once the token is seen again
        revoked = tokens.issue("mentor-7", "participant")
        assert service.client.get("/v1/relationships", headers={"Authorization": f"Bearer {revoked}"}).status_code == 200
        tokens.revoke(revoked)
        assert service.client.get("/v1/relationships", headers={"Authorization": f"Bearer {revoked}"}).status_code == 401
    finally:
        service.app.extensions["ledger"].close()
