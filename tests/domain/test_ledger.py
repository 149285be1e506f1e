"""The ledger's use cases and replay, on a real SQLite file and on real PostgreSQL."""

from __future__ import annotations

import threading
from datetime import timedelta
from uuid import UUID, uuid4

import pytest
from eventsourcing.application import Application

from domain import errors, history
from domain.principal import CommandContext
from tests.support import AUDITOR, COORDINATOR, MENTEE, MENTOR, OUTSIDER, feedback, open_ledger, start


@pytest.fixture
def ledger(store, tmp_path):
    ledger = open_ledger(store, str(tmp_path))
    yield ledger
    ledger.close()


def test_the_whole_feedback_loop_is_recorded_in_order(ledger):
    rid = start(ledger).relationship_id
    given = feedback(ledger, rid)
    feedback_id = UUID(given.body["feedback_id"])
    action_id = UUID(given.body["action_items"][0]["action_id"])
    ledger.receive_feedback(MENTEE, rid, feedback_id, reflection="Fair point", usefulness=4)
    ledger.complete_action(MENTEE, rid, action_id, outcome="Table made")
    feedback(ledger, rid, by=MENTEE, content="Thanks for the time", kind="strength", action_items=[])
    ledger.pause_relationship(COORDINATOR, rid, reason="Holidays")
    ledger.resume_relationship(COORDINATOR, rid)
    ledger.end_relationship(MENTOR, rid, reason="Goals met")

    items, more = ledger.list_events(AUDITOR, rid)
    assert [i["type"] for i in items] == [
        "RelationshipStarted", "FeedbackGiven", "FeedbackReceived", "ActionCompleted", "FeedbackGiven",
        "RelationshipPaused", "RelationshipResumed", "RelationshipEnded",
    ]
    assert [i["actor"] for i in items] == ["ada", "mentor-7", "mentee-12", "mentee-12", "mentee-12",
                                           "ada", "ada", "mentor-7"]
    assert [i["actor_role"] for i in items][:3] == ["coordinator", "mentor", "mentee"]
    assert more is False


def test_positions_grow_with_every_command(ledger):
    first = start(ledger)
    second = feedback(ledger, first.relationship_id)
    assert second.position > first.position
    assert ledger.position() == second.position


def test_state_can_be_replayed_at_every_version(ledger):
    rid = start(ledger).relationship_id
    feedback(ledger, rid)
    ledger.pause_relationship(COORDINATOR, rid)
    assert ledger.get_relationship(MENTOR, rid, version=1)["feedback"] == []
    assert len(ledger.get_relationship(MENTOR, rid, version=2)["feedback"]) == 1
    assert ledger.get_relationship(MENTOR, rid, version=2)["status"] == "active"
    assert ledger.get_relationship(MENTOR, rid, version=3)["status"] == "paused"
    with pytest.raises(errors.VersionNotFoundError):
        ledger.get_relationship(MENTOR, rid, version=4)


def test_state_can_be_replayed_as_of_a_time(ledger):
    rid = start(ledger).relationship_id
    started_at = ledger.get_relationship(COORDINATOR, rid)["started_at"]
    feedback(ledger, rid)
    assert ledger.get_relationship(COORDINATOR, rid, as_of=started_at)["version"] == 1
    assert ledger.get_relationship(COORDINATOR, rid, as_of=started_at + timedelta(days=999))["version"] == 2
    with pytest.raises(errors.VersionNotFoundError):
        ledger.get_relationship(COORDINATOR, rid, as_of=started_at - timedelta(seconds=1))


def test_history_is_paged_after_a_version(ledger):
    rid = start(ledger).relationship_id
    for _ in range(4):
        feedback(ledger, rid, action_items=[])
    page, more = ledger.list_events(COORDINATOR, rid, after=1, limit=2)
    assert [i["version"] for i in page] == [2, 3] and more is True
    page, more = ledger.list_events(COORDINATOR, rid, after=3, limit=2)
    assert [i["version"] for i in page] == [4, 5] and more is False


def test_participants_see_only_their_own_relationships(ledger):
    rid = start(ledger).relationship_id
    with pytest.raises(errors.RelationshipNotFoundError):
        ledger.get_relationship(OUTSIDER, rid)
    with pytest.raises(errors.RelationshipNotFoundError):
        feedback(ledger, rid, by=OUTSIDER)
    assert ledger.get_relationship(AUDITOR, rid)["id"] == rid


def test_auditors_read_but_never_act(ledger):
    rid = start(ledger).relationship_id
    with pytest.raises(errors.NotPermittedError):
        ledger.end_relationship(AUDITOR, rid)
    with pytest.raises(errors.NotPermittedError):
        ledger.start_relationship(AUDITOR, program_id="p", mentor_id="a", mentee_id="b", goals=[])


def test_unknown_relationships_are_not_found(ledger):
    with pytest.raises(errors.RelationshipNotFoundError):
        ledger.get_relationship(COORDINATOR, uuid4())


def test_a_repeated_command_with_its_key_writes_nothing_and_answers_the_same(ledger):
    rid = start(ledger).relationship_id
    context = CommandContext(key="retry-1", fingerprint="f")
    first = ledger.give_feedback(MENTOR, rid, content="x", kind="general", skills=[], action_items=[],
                                 context=context)
    again = ledger.give_feedback(MENTOR, rid, content="x", kind="general", skills=[], action_items=[],
                                 context=context)
    assert again.body == first.body and again.replayed
    assert ledger.get_relationship(MENTOR, rid)["version"] == 2


def test_a_repeated_start_creates_one_relationship(ledger):
    context = CommandContext(key="start-1", fingerprint="f")
    first = start(ledger, context=context)
    again = start(ledger, context=context)
    assert again.relationship_id == first.relationship_id and again.body == first.body


def test_a_key_reused_for_another_request_is_refused(ledger):
    rid = start(ledger).relationship_id
    ledger.pause_relationship(COORDINATOR, rid, context=CommandContext(key="k", fingerprint="pause"))
    with pytest.raises(errors.IdempotencyKeyReusedError):
        ledger.resume_relationship(COORDINATOR, rid, context=CommandContext(key="k", fingerprint="resume"))
    assert ledger.get_relationship(COORDINATOR, rid)["status"] == "paused"


def test_keys_belong_to_their_caller(ledger):
    rid = start(ledger).relationship_id
    ledger.give_feedback(MENTOR, rid, content="a", kind="general", skills=[], action_items=[],
                         context=CommandContext(key="same", fingerprint="f"))
    ledger.give_feedback(MENTEE, rid, content="a", kind="general", skills=[], action_items=[],
                         context=CommandContext(key="same", fingerprint="f"))
    assert ledger.get_relationship(MENTOR, rid)["version"] == 3


def test_a_refused_command_may_be_retried_with_the_same_key(ledger):
    rid = start(ledger).relationship_id
    context = CommandContext(key="resume", fingerprint="f")
    with pytest.raises(errors.RelationshipNotPausedError):
        ledger.resume_relationship(COORDINATOR, rid, context=context)
    ledger.pause_relationship(COORDINATOR, rid)
    assert ledger.resume_relationship(COORDINATOR, rid, context=context).body["status"] == "active"


def test_keys_survive_a_restart(store, tmp_path):
    context = CommandContext(key="across-restarts", fingerprint="f")
    first_ledger = open_ledger(store, str(tmp_path))
    first = start(first_ledger, context=context)
    first_ledger.close()
    second_ledger = open_ledger(store, str(tmp_path))
    again = start(second_ledger, context=context)
    second_ledger.close()
    assert again.relationship_id == first.relationship_id and again.replayed


def test_a_stale_expected_version_changes_nothing(ledger):
    rid = start(ledger).relationship_id
    with pytest.raises(errors.VersionMismatchError):
        ledger.pause_relationship(COORDINATOR, rid, context=CommandContext(expected_version=5))
    assert ledger.get_relationship(COORDINATOR, rid)["status"] == "active"
    ledger.pause_relationship(COORDINATOR, rid, context=CommandContext(expected_version=1))


def test_racing_commands_are_all_applied_without_if_match(ledger):
    rid = start(ledger).relationship_id
    failures = []

    def give(n: int) -> None:
        try:
            for i in range(5):
                feedback(ledger, rid, by=MENTOR if n % 2 else MENTEE, content=f"{n}-{i}", action_items=[])
        except Exception as error:  # noqa: BLE001 - collected and asserted below
            failures.append(error)

    threads = [threading.Thread(target=give, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert ledger.get_relationship(COORDINATOR, rid)["version"] == 21


def test_racing_commands_with_if_match_let_exactly_one_win(ledger):
    rid = start(ledger).relationship_id
    outcomes = []
    barrier = threading.Barrier(4)

    def give() -> None:
        barrier.wait()
        try:
            ledger.give_feedback(MENTOR, rid, content="x", kind="general", skills=[], action_items=[],
                                 context=CommandContext(expected_version=1))
            outcomes.append("applied")
        except errors.VersionMismatchError:
            outcomes.append("412")

    threads = [threading.Thread(target=give) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["412", "412", "412", "applied"]
    assert ledger.get_relationship(COORDINATOR, rid)["version"] == 2


def test_long_histories_load_from_snapshots(store, tmp_path):
    ledger = open_ledger(store, str(tmp_path), SNAPSHOT_INTERVAL="10")
    rid = start(ledger).relationship_id
    for i in range(24):
        feedback(ledger, rid, content=f"note {i}", action_items=[])
    snapshots = list(ledger.snapshots.get(rid))
    assert [s.originator_version for s in snapshots] == [20]  # only the newest is kept
    assert [s.originator_version for s in ledger.snapshots.recorder.select_events(rid)] == [20]
    state = ledger.get_relationship(COORDINATOR, rid)
    assert state["version"] == 25 and len(state["feedback"]) == 24
    assert ledger.get_relationship(COORDINATOR, rid, version=15)["version"] == 15
    ledger.close()


def test_a_relationship_that_outgrows_the_kept_answers_leaves_none_behind(ledger, monkeypatch):
    """Answers are kept for short relationships only; once one grows past that, its older answer is not
    held on (memory would otherwise hold a stale answer for every relationship that ever was short)."""
    monkeypatch.setattr(history, "KEPT_VERSIONS", 3)
    rid = start(ledger).relationship_id
    assert ledger.get_relationship(COORDINATOR, rid)["version"] == 1
    assert ledger.representations[(rid, None)][0] == 1
    for i in range(3):
        feedback(ledger, rid, content=f"note {i}", action_items=[])
    state = ledger.get_relationship(COORDINATOR, rid)
    assert state["version"] == 4 and len(state["feedback"]) == 3
    assert (rid, None) not in ledger.representations
    assert ledger.get_relationship(COORDINATOR, rid, limit=2)["totals"]["feedback"] == 3  # a window is kept
    assert ledger.representations[(rid, 2)][0] == 4


def test_a_snapshot_is_taken_from_the_aggregate_just_saved(store, tmp_path, monkeypatch):
    """The save that reaches the interval snapshots the aggregate in hand (no reading back of the events
    since the last snapshot), and that snapshot is the one a reading of the store gives."""
    ledger = open_ledger(store, str(tmp_path), SNAPSHOT_INTERVAL="10")
    rid = start(ledger).relationship_id
    for i in range(8):
        feedback(ledger, rid, content=f"note {i}", action_items=[])

    def read_back(*args, **kwargs):
        raise AssertionError("the snapshot read the aggregate back from the store")

    with monkeypatch.context() as patched:
        patched.setattr(Application, "take_snapshot", read_back)
        feedback(ledger, rid, content="the tenth event", action_items=[])
    in_hand = next(iter(ledger.snapshots.get(rid)))
    assert in_hand.originator_version == 10
    ledger.snapshots.forget(rid)
    ledger.take_snapshot(rid, 10)  # outside a save: read from the store
    from_store = next(iter(ledger.snapshots.get(rid)))
    assert from_store.state == in_hand.state and from_store.state["counts"]["feedback"] == 9
    ledger.close()


@pytest.fixture
def two_processes(store, tmp_path):
    """Two ledgers on one store, each with its own relationships in memory, as two API processes have."""
    first, second = open_ledger(store, str(tmp_path)), open_ledger(store, str(tmp_path))
    yield first, second
    first.close()
    second.close()


def test_a_command_on_a_stale_copy_in_memory_is_applied_on_the_stored_state(two_processes):
    first, second = two_processes
    rid = start(first).relationship_id
    feedback(first, rid, content="first")  # `first` now holds version 2
    feedback(second, rid, content="second", by=MENTEE, action_items=[])  # version 3, unseen by `first`
    result = feedback(first, rid, content="third", action_items=[])
    assert result.version == 4
    contents = [f["content"] for f in second.get_relationship(COORDINATOR, rid)["feedback"]]
    assert contents == ["first", "second", "third"]


def test_a_refusal_on_a_stale_copy_is_checked_against_the_store(two_processes):
    first, second = two_processes
    rid = start(first).relationship_id
    first.pause_relationship(COORDINATOR, rid)  # `first` holds it paused
    second.resume_relationship(COORDINATOR, rid)
    assert feedback(first, rid, action_items=[]).version == 4  # not "paused"
    given = feedback(second, rid)  # feedback `first` has not seen
    feedback_id = UUID(given.body["feedback_id"])
    action_id = UUID(given.body["action_items"][0]["action_id"])
    first.check_may(MENTEE, first.receive_feedback, rid, feedback_id)
    assert first.receive_feedback(MENTEE, rid, feedback_id, usefulness=5).version == 6
    assert first.complete_action(MENTEE, rid, action_id).version == 7
    second.end_relationship(MENTOR, rid)
    with pytest.raises(errors.RelationshipEndedError):  # a refusal that stands on the stored state
        feedback(first, rid, action_items=[])
    with pytest.raises(errors.VersionMismatchError):
        first.pause_relationship(COORDINATOR, rid, context=CommandContext(expected_version=7))
    assert second.get_relationship(COORDINATOR, rid)["version"] == 8


def test_an_expected_version_is_compared_with_the_stored_state(two_processes):
    first, second = two_processes
    rid = start(first).relationship_id
    second.pause_relationship(COORDINATOR, rid)
    result = first.resume_relationship(COORDINATOR, rid, context=CommandContext(expected_version=2))
    assert result.version == 3


def test_reads_see_writes_made_elsewhere(two_processes):
    first, second = two_processes
    rid = start(first).relationship_id
    assert first.get_relationship(COORDINATOR, rid)["version"] == 1
    second.pause_relationship(COORDINATOR, rid)
    assert first.get_relationship(COORDINATOR, rid)["status"] == "paused"
    assert [e["type"] for e in first.list_events(AUDITOR, rid)[0]][-1] == "RelationshipPaused"


def test_a_refused_command_leaves_the_relationship_in_memory_unchanged(ledger):
    rid = start(ledger).relationship_id
    given = feedback(ledger, rid)
    feedback_id = UUID(given.body["feedback_id"])
    ledger.receive_feedback(MENTEE, rid, feedback_id, usefulness=3)
    before = ledger.get_relationship(COORDINATOR, rid)
    with pytest.raises(errors.FeedbackAlreadyReceivedError):
        ledger.receive_feedback(MENTEE, rid, feedback_id, usefulness=1)
    with pytest.raises(errors.NotPermittedError):
        ledger.pause_relationship(MENTOR, rid)
    assert ledger.get_relationship(COORDINATOR, rid) == before
    assert before["feedback"][0]["usefulness"] == 3
