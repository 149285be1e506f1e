"""Relationships kept in memory between commands.

A relationship held here is shared by every thread and is never changed in
place: bringing it up to date makes a new copy, and a command changes a copy of
its own. Readers may therefore use a held relationship without copying it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from uuid import UUID

from domain.relationship import MentorshipRelationship


class RecentRelationships:
    """The ``maxsize`` most recently used relationships, each at the newest version seen."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._held: OrderedDict[UUID, MentorshipRelationship] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, relationship_id: UUID) -> MentorshipRelationship | None:
        with self._lock:
            relationship = self._held.get(relationship_id)
            if relationship is not None:
                self._held.move_to_end(relationship_id)
            return relationship

    def keep(self, relationship: MentorshipRelationship) -> None:
        """Hold ``relationship`` unless a newer version of it is held already; it must not change again."""
        if self.maxsize <= 0:
            return
        with self._lock:
            held = self._held.get(relationship.id)
            if held is not None and held.version >= relationship.version:
                return
            self._held[relationship.id] = relationship
            self._held.move_to_end(relationship.id)
            while len(self._held) > self.maxsize:
                self._held.popitem(last=False)

    def __len__(self) -> int:
        return len(self._held)

    def clear(self) -> None:
        """Forget every relationship held (after an erasure: what was read may name the erased)."""
        with self._lock:
            self._held.clear()
