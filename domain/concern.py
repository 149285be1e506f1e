"""The Concern aggregate: something a participant tells the program's coordinators in private.

A concern is its own aggregate, not an event of the relationship: the other
participant must not be able to tell that one exists, and a relationship's
version (its ETag) and history would betray it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain import errors
from domain.events import Act, Attributed, Say

OPEN, RESOLVED = "open", "resolved"


class Concern(Aggregate):
    """A private note from the mentor or the mentee to the coordinators about their relationship."""

    class Event(Attributed, Aggregate.Event):
        """An event of a concern; it names the relationship the concern is about."""

        relationship_id: UUID

    class ConcernRaised(Attributed, Aggregate.Created):
        TEXTS = ("content",)

        relationship_id: UUID
        content: str

        def apply(self, concern: Concern) -> None:
            concern.relationship_id = self.relationship_id
            concern.raised_by = self.actor
            concern.status = OPEN

        def summary(self, say: Say) -> str:
            return f"{say.who(self.actor)} ({self.actor_role}) raised a concern with the coordinators"

    class ConcernResolved(Event):
        TEXTS = ("note",)

        note: str | None

        def apply(self, concern: Concern) -> None:
            concern.status = RESOLVED

        def summary(self, say: Say) -> str:
            return f"{say.who(self.actor)} resolved concern {str(self.originator_id)[:8]}"

    @classmethod
    def raise_concern(cls, *, concern_id: UUID, relationship_id: UUID, content: str, by: Act) -> Concern:
        """The mentor or the mentee raises a concern about their relationship."""
        return cls._create(cls.ConcernRaised, id=concern_id, relationship_id=relationship_id, content=content,
                           **by.attribution())

    def resolve(self, *, note: str | None, by: Act) -> None:
        """A coordinator resolves the concern, once, with an optional note."""
        if self.status == RESOLVED:
            raise errors.ConcernAlreadyResolvedError("This concern has already been resolved.")
        self.trigger_event(self.ConcernResolved, relationship_id=self.relationship_id, note=note,
                           **by.attribution())

    def visible_to(self, principal_id: str, overseer: bool) -> bool:
        """Coordinators and auditors see every concern; a participant only the ones they raised."""
        return overseer or principal_id == self.raised_by


def describe_concern(events: Iterable[Any]) -> dict[str, Any] | None:
    """A concern as its readers see it after these events (oldest first); None without any."""
    answer: dict[str, Any] | None = None
    for event in events:
        answer = _DESCRIBE[type(event)](answer, event)
        answer["version"] = event.originator_version
    return answer


def _raised(_: Any, event: Concern.ConcernRaised) -> dict[str, Any]:
    return {"concern_id": str(event.originator_id), "relationship_id": event.relationship_id,
            "raised_by": event.actor, "raiser_role": event.actor_role, "raised_at": event.timestamp,
            "content": event.content, "status": OPEN, "resolved_by": None, "resolved_at": None, "note": None,
            **({"redacted": True} if getattr(event, "redacted", ()) else {})}


def _resolved(answer: dict[str, Any], event: Concern.ConcernResolved) -> dict[str, Any]:
    return {**answer, "status": RESOLVED, "resolved_by": event.actor, "resolved_at": event.timestamp,
            "note": event.note, **({"redacted": True} if getattr(event, "redacted", ()) else {})}


_DESCRIBE = {Concern.ConcernRaised: _raised, Concern.ConcernResolved: _resolved}
