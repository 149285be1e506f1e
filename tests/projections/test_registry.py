"""Every event of the record reaches every view that needs it: none is forgotten, none is unsaid."""

from __future__ import annotations

import dataclasses

import pytest

from domain.events import Attributed
from domain.idempotency import AcceptedCommand
from domain.registry import EVENT_NAMES, LEDGER_EVENTS
from projections.service import VIEW_CLASSES


def test_the_registry_holds_every_event_class_of_the_aggregates():
    assert EVENT_NAMES == ("RelationshipStarted", "FeedbackGiven", "FeedbackReceived", "ActionCompleted",
                           "RelationshipPaused", "RelationshipResumed", "RelationshipEnded", "CheckInHeld",
                           "ParticipantErased", "ConcernRaised", "ConcernResolved")


@pytest.mark.parametrize("event_class", [*LEDGER_EVENTS, AcceptedCommand.CommandAccepted], ids=lambda c: c.__name__)
def test_each_event_class_declares_its_personal_data_by_fields_it_has(event_class):
    names = {f.name for f in dataclasses.fields(event_class)}
    for declared in (*event_class.PEOPLE, *getattr(event_class, "TEXTS", ())):
        assert declared.partition(".")[0] in names, f"{event_class.__name__} declares {declared}, not a field"
    if issubclass(event_class, Attributed):
        assert "actor" in event_class.PEOPLE, "who acted is a person"


@pytest.mark.parametrize("name", sorted(VIEW_CLASSES))
def test_each_view_handles_or_explicitly_ignores_every_event_class(name):
    view = VIEW_CLASSES[name]
    handled, ignored = view.handled(), set(view.IGNORED)
    assert not handled & ignored, f"{name} both handles and ignores {handled & ignored}"
    forgotten = set(LEDGER_EVENTS) - handled - ignored
    assert not forgotten, f"{name} neither handles nor ignores {sorted(c.__name__ for c in forgotten)}"


@pytest.mark.parametrize("event_class", LEDGER_EVENTS, ids=lambda c: c.__name__)
def test_each_event_class_says_what_happened_in_its_own_words(event_class):
    assert event_class.summary is not Attributed.summary, f"{event_class.__name__} has no summary"


def test_a_forgotten_event_class_is_caught():
    class Forgetful(VIEW_CLASSES["skills_growth"]):
        IGNORED = frozenset(list(VIEW_CLASSES["skills_growth"].IGNORED)[1:])

    assert set(LEDGER_EVENTS) - Forgetful.handled() - Forgetful.IGNORED
