"""Every event of the ledger's record, derived from the aggregates' classes: the one list there is."""

from __future__ import annotations

from domain.concern import Concern
from domain.events import event_classes
from domain.relationship import MentorshipRelationship

LEDGER_EVENTS = event_classes(MentorshipRelationship, Concern)
RELATIONSHIP_EVENTS = event_classes(MentorshipRelationship)
CONCERN_EVENTS = event_classes(Concern)
EVENT_NAMES = tuple(cls.__name__ for cls in LEDGER_EVENTS)
