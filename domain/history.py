"""Questions about the past of relationships and concerns: state at any version or time, the history."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from domain import errors
from domain.commands import require_visible
from domain.concern import describe_concern
from domain.principal import Principal
from domain.representation import describe_event, fold, listed

if TYPE_CHECKING:
    from domain.commands import CommandRunner
    from domain.relationship import MentorshipRelationship


class History:
    """The read side of the ledger that needs nothing but the events (mixed into MentorshipLedger)."""

    runner: CommandRunner
    events: Any

    def get_relationship(self, principal: Principal, relationship_id: UUID, *, version: int | None = None,
                         as_of: datetime | None = None) -> dict[str, Any]:
        """The relationship now, right after event ``version``, or as it stood at ``as_of``."""
        current = self.visible(principal, relationship_id)
        if as_of is not None:
            version = self.version_at(relationship_id, as_of)
            if version is None:
                raise errors.VersionNotFoundError("The relationship had not started by then.")
        if version is not None and version > current.version:
            raise errors.VersionNotFoundError("The relationship had no such version.")
        return self.representation(relationship_id, version or current.version)

    def representation(self, relationship_id: UUID, version: int) -> dict[str, Any]:
        """The relationship as callers see it right after event ``version``."""
        state = fold(self.events.get(relationship_id, lte=version))
        if state is None:
            raise errors.RelationshipNotFoundError("No such relationship.")
        return listed(state)

    def list_events(self, principal: Principal, relationship_id: UUID, *, after: int = 0,
                    limit: int = 50) -> tuple[list[dict[str, Any]], bool]:
        """A page of the relationship's history after a version, and whether more follows."""
        self.visible(principal, relationship_id)
        events = list(self.events.get(relationship_id, gt=after, limit=limit + 1))
        return [describe_event(e) for e in events[:limit]], len(events) > limit

    def check_visible(self, principal: Principal, relationship_id: UUID) -> None:
        """Raise RelationshipNotFoundError unless the caller may see this relationship."""
        self.visible(principal, relationship_id)

    def visible(self, principal: Principal, relationship_id: UUID) -> MentorshipRelationship:
        """The relationship now, if the caller may see it."""
        relationship = self.runner.current(relationship_id, fresh=True)
        require_visible(principal, relationship)
        return relationship

    def version_at(self, relationship_id: UUID, moment: datetime) -> int | None:
        """The version a relationship had at a moment (None before it started)."""
        version = None
        for event in self.events.get(relationship_id):
            if event.timestamp > moment:
                break
            version = event.originator_version
        return version

    def concern_answer(self, concern_id: UUID, version: int | None = None) -> dict[str, Any]:
        """A concern as its readers see it, right after event ``version`` (now, by default)."""
        answer = describe_concern(self.events.get(concern_id, lte=version))
        if answer is None:
            raise errors.ConcernNotFoundError("No such concern in this relationship.")
        return answer
