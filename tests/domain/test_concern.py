"""The rules of a concern, checked on the aggregate alone (no store), and how its readers see it."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from uuid import uuid4

import pytest

from domain import errors
from domain.concern import Concern, describe_concern
from domain.events import Act

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)
MENTEE = Act("mentee-12", "mentee", T0, "key-raise")
COORDINATOR = Act("ada", "coordinator", T0 + timedelta(hours=5), "key-resolve")
RELATIONSHIP = uuid4()


def raised(concern_id=None, by: Act = MENTEE) -> Concern:
    return Concern.raise_concern(concern_id=concern_id or uuid4(), relationship_id=RELATIONSHIP,
                                 content="My mentor keeps cancelling.", by=by)


# -- raising ---------------------------------------------------------------------------------


def test_a_raised_concern_is_open_under_the_id_it_was_given_and_records_who_raised_it():
    concern_id = uuid4()
    concern = raised(concern_id)
    event = concern.pending_events[-1]
    assert (concern.id, concern.version, concern.status, concern.raised_by, concern.relationship_id) == (
        concern_id, 1, "open", "mentee-12", RELATIONSHIP)
    assert (event.originator_id, event.relationship_id, event.content) == (
        concern_id, RELATIONSHIP, "My mentor keeps cancelling.")
    assert (event.actor, event.actor_role, event.command_id, event.timestamp) == (
        "mentee-12", "mentee", "key-raise", T0)


# -- resolving -------------------------------------------------------------------------------


def test_a_coordinator_resolves_a_concern_with_a_note():
    concern = raised()
    concern.resolve(note="Spoke to both", by=COORDINATOR)
    event = concern.pending_events[-1]
    assert (concern.status, concern.version) == ("resolved", 2)
    assert (event.relationship_id, event.note) == (RELATIONSHIP, "Spoke to both")
    assert (event.actor, event.actor_role, event.command_id, event.timestamp) == (
        "ada", "coordinator", "key-resolve", T0 + timedelta(hours=5))


def test_a_concern_is_resolved_once_and_the_refusal_says_so():
    concern = raised()
    concern.resolve(note=None, by=COORDINATOR)
    with pytest.raises(errors.ConcernAlreadyResolvedError) as refused:
        concern.resolve(note="again", by=COORDINATOR)
    assert str(refused.value) == "This concern has already been resolved."
    assert concern.version == 2


# -- who may see it ---------------------------------------------------------------------------


@pytest.mark.parametrize("principal_id, overseer, visible", [
    ("mentee-12", False, True),  # the participant who raised it
    ("mentor-7", False, False),  # the other participant: it does not exist for them
    ("ada", True, True),  # a coordinator
    ("audrey", True, True),  # an auditor
])
def test_a_concern_is_visible_to_its_raiser_and_the_overseers_only(principal_id, overseer, visible):
    assert raised().visible_to(principal_id, overseer) is visible


# -- as readers see it ------------------------------------------------------------------------


def test_no_events_describe_no_concern():
    assert describe_concern([]) is None


def test_an_open_concern_is_described_with_every_field():
    concern = raised()
    described = describe_concern(concern.pending_events)
    assert described == {
        "concern_id": str(concern.id), "relationship_id": RELATIONSHIP, "raised_by": "mentee-12",
        "raiser_role": "mentee", "raised_at": T0, "content": "My mentor keeps cancelling.", "status": "open",
        "resolved_by": None, "resolved_at": None, "note": None, "version": 1,
    }


def test_a_resolved_concern_is_described_with_who_resolved_it_when_and_the_note():
    concern = raised()
    concern.resolve(note="Spoke to both", by=COORDINATOR)
    described = describe_concern(concern.pending_events)
    assert described == {
        "concern_id": str(concern.id), "relationship_id": RELATIONSHIP, "raised_by": "mentee-12",
        "raiser_role": "mentee", "raised_at": T0, "content": "My mentor keeps cancelling.", "status": "resolved",
        "resolved_by": "ada", "resolved_at": T0 + timedelta(hours=5), "note": "Spoke to both", "version": 2,
    }


# -- in words, for the audit trail -------------------------------------------------------------


def test_every_concern_event_says_what_happened_in_words():
    class Say:
        def who(self, ref):
            return ref.upper()

        def text(self, value):
            return value

    concern = raised()
    concern.resolve(note="Spoke to both", by=COORDINATOR)
    assert [event.summary(Say()) for event in concern.pending_events] == [
        "MENTEE-12 (mentee) raised a concern with the coordinators",
        f"ADA resolved concern {str(concern.id)[:8]}",
    ]
