"""A participant flooding one relationship is slowed (429, Retry-After) before anyone else is."""

from __future__ import annotations

import pytest

from tests.api.conftest import build_service


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def limited(store, tmp_path):
    service = build_service(store, tmp_path, PROJECTIONS_MODE="inline", COMMANDS_PER_MINUTE=60, COMMAND_BURST=3)
    clock = FakeClock()
    service.app.extensions["limiter"].clock = clock
    yield service, clock
    service.app.extensions["ledger"].close()


def give(service, who, rid, n):
    return service.post(who, f"/v1/relationships/{rid}/feedback", {"content": f"note {n}", "kind": "general"})


def test_a_burst_is_allowed_then_429_with_retry_after_and_nothing_stored(limited):
    service, clock = limited
    rid = service.start()["id"]
    assert [give(service, "mentor", rid, n).status_code for n in range(3)] == [201, 201, 201]
    refused = give(service, "mentor", rid, 3)
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "1"
    assert refused.json["type"] == "urn:mentorship-ledger:problem:too-many-requests"
    assert refused.mimetype == "application/problem+json"
    assert service.get("mentor", f"/v1/relationships/{rid}").json["version"] == 4  # started + 3 feedbacks
    clock.now += 1.0  # one token a second (60 a minute)
    assert give(service, "mentor", rid, 4).status_code == 201
    assert give(service, "mentor", rid, 5).status_code == 429


def test_the_flood_slows_no_one_else(limited):
    service, clock = limited
    rid = service.start()["id"]
    other = service.start(mentor_id="mentor-99", mentee_id="mentee-98")["id"]
    for n in range(10):
        give(service, "mentor", rid, n)
    assert give(service, "mentor", rid, 10).status_code == 429
    assert give(service, "mentee", rid, 0).status_code == 201  # the other participant of the same relationship
    assert give(service, "outsider", other, 0).status_code == 201  # someone else's relationship
    assert service.post("coordinator", f"/v1/relationships/{rid}/pause", {"reason": "calm down"}).status_code == 200


def test_refusals_before_the_command_take_no_token(limited):
    service, _ = limited
    rid = service.start()["id"]
    for _ in range(5):
        assert service.post("mentor", f"/v1/relationships/{rid}/feedback", {"kind": "nonsense"}).status_code == 422
        assert give(service, "outsider", rid, 0).status_code == 404
    assert give(service, "mentor", rid, 0).status_code == 201


def test_the_limit_can_be_switched_off(store, tmp_path):
    service = build_service(store, tmp_path, PROJECTIONS_MODE="inline", COMMANDS_PER_MINUTE=0, COMMAND_BURST=1)
    try:
        rid = service.start()["id"]
        assert [give(service, "mentor", rid, n).status_code for n in range(5)] == [201] * 5
    finally:
        service.app.extensions["ledger"].close()


def test_the_openapi_document_says_commands_may_answer_429(service):
    spec = service.get(None, "/openapi.json").json
    post = spec["paths"]["/v1/relationships/{relationship_id}/feedback"]["post"]
    assert "429" in post["responses"]


def test_writers_racing_on_one_relationship_all_succeed(store, tmp_path):
    import threading

    service = build_service(store, tmp_path, PROJECTIONS_MODE="worker")
    try:
        rid = service.start()["id"]
        statuses: list[int] = []
        barrier = threading.Barrier(4)

        def write(who: str, n: int) -> None:
            client = service.app.test_client()
            barrier.wait()
            for k in range(15):
                response = client.post(f"/v1/relationships/{rid}/feedback", headers=service.headers(who),
                                       json={"content": f"{who} {n} {k}", "kind": "general"})
                statuses.append(response.status_code)

        threads = [threading.Thread(target=write, args=(who, n)) for n, who in enumerate(["mentor", "mentee"] * 2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(set(statuses)) == [201] and len(statuses) == 60
        assert service.get("coordinator", f"/v1/relationships/{rid}").json["version"] == 61
    finally:
        service.app.extensions["ledger"].close()


def test_starting_relationships_is_not_limited(limited):
    service, _ = limited
    started = [service.post("coordinator", "/v1/relationships",
                            {"program_id": "p", "mentor_id": f"mentor-{n}", "mentee_id": f"mentee-{n}"}).status_code
               for n in range(10)]
    assert started == [201] * 10
