"""Questions about the past of relationships and concerns: state at any version or time, the history."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from domain import errors
from domain.commands import require_visible
from domain.concern import describe_concern
from domain.principal import Principal
from domain.representation import describe_event, fold, fold_recent, listed

if TYPE_CHECKING:
    from domain.commands import CommandRunner
    from domain.relationship import MentorshipRelationship


KEPT_VERSIONS = 200  # representations of relationships up to this many events are kept in memory
KEPT_REPRESENTATIONS = 300


class History:
    """The read side of the ledger that needs nothing but the events (mixed into MentorshipLedger)."""

    runner: CommandRunner
    events: Any

    def get_relationship(self, principal: Principal, relationship_id: UUID, *, version: int | None = None,
                         as_of: datetime | None = None, limit: int | None = None) -> dict[str, Any]:
        """The relationship now, right after event ``version``, or as it stood at ``as_of``; with ``limit``,
        only that many of the most recent feedback (with their actions) and check-ins, and the totals."""
        current = self.visible(principal, relationship_id)
        if as_of is not None:
            version = self.version_at(relationship_id, as_of)
            if version is None:
                raise errors.VersionNotFoundError("The relationship had not started by then.")
        if version is not None and version > current.version:
            raise errors.VersionNotFoundError("The relationship had no such version.")
        return self.representation(relationship_id, version or current.version, limit)

    representations: dict[tuple[UUID, int | None], tuple[int, dict[str, Any]]]

    def representation(self, relationship_id: UUID, version: int, limit: int | None = None) -> dict[str, Any]:
        """The relationship as callers see it right after event ``version`` (``limit``: see get_relationship).

        A relationship at a version never changes, so recent answers are kept (small ones: up to
        ``KEPT_VERSIONS`` events, or with a limit); an erasure clears them (``MentorshipLedger.refresh``)."""
        key = (relationship_id, limit)
        kept = self.representations.get(key)
        if kept is not None and kept[0] == version:
            return kept[1]
        answer = self._representation(relationship_id, version, limit)
        if version <= KEPT_VERSIONS or (limit is not None and limit <= KEPT_VERSIONS):
            if len(self.representations) >= KEPT_REPRESENTATIONS:
                self.representations.clear()
            self.representations[key] = (version, answer)  # one version per relationship: the last asked
        elif kept is not None and kept[0] < version:
            self.representations.pop(key, None)  # the relationship outgrew what is kept: its older answer goes too
        return answer

    def _representation(self, relationship_id: UUID, version: int, limit: int | None = None) -> dict[str, Any]:
        if limit is not None:
            state = fold_recent(self._pages(relationship_id, version), limit)
        else:
            state = fold(self.events.get(relationship_id, lte=version))
        if state is None:
            raise errors.RelationshipNotFoundError("No such relationship.")
        return listed(state)

    def _pages(self, relationship_id: UUID, version: int, page: int = 500) -> Iterator[Any]:
        """The relationship's events up to ``version``, read a page at a time (memory stays flat)."""
        after = 0
        while after < version:
            yield from self.events.get(relationship_id, gt=after, lte=min(after + page, version))
            after += page

    def list_events(self, principal: Principal, relationship_id: UUID, *, after: int = 0,
                    limit: int = 50) -> tuple[list[dict[str, Any]], bool]:
        """A page of the relationship's history after a version, and whether more follows."""
        self.visible(principal, relationship_id)
        events = list(self.events.get(relationship_id, gt=after, limit=limit + 1))
        return [describe_event(e) for e in events[:limit]], len(events) > limit

    def check_visible(self, principal: Principal, relationship_id: UUID) -> None:
        """Raise RelationshipNotFoundError unless the caller may see this relationship (kept for this request,
        so that the answer that follows does not ask the store again)."""
        self.runner.keep_checked(self.visible(principal, relationship_id))

    def checked_version(self, relationship_id: UUID) -> int | None:
        """The version of the relationship ``check_visible`` admitted this request to (its answer's ETag), if
        it is still kept for the answer."""
        relationship = self.runner.peek_checked(relationship_id)
        return relationship.version if relationship is not None else None

    def visible(self, principal: Principal, relationship_id: UUID) -> MentorshipRelationship:
        """The relationship now, if the caller may see it."""
        relationship = self.runner.take_checked(relationship_id) or self.runner.current(relationship_id, fresh=True)
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
