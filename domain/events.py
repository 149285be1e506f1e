"""What every event of the ledger shares: who caused it, and the registry of event classes.

The event classes are the registry: lists of event types (for views, filters,
audit summaries) are derived from the aggregates' nested classes, never typed
out again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from eventsourcing.domain import Aggregate, CanMutateAggregate


@dataclass(frozen=True)
class Act:
    """Who acts, in which role, when, and under which Idempotency-Key: the attribution of an event."""

    actor: str
    role: str
    at: datetime
    command_id: str | None = None

    def attribution(self) -> dict[str, Any]:
        """The keyword arguments every event takes for its attribution."""
        return {"timestamp": self.at, "actor": self.actor, "actor_role": self.role, "command_id": self.command_id}


class Say(Protocol):
    """How an event's references are put in words: participants by name, free text as written (cut short)."""

    def who(self, reference: Any) -> str:
        """The name to show for a participant reference."""

    def text(self, value: Any) -> str | None:
        """The free text to show in a summary (on one line, cut short), or None when there is none."""


@dataclass(frozen=True)
class Attributed:
    """Fields every ledger event carries: the actor, the role it acted in, its command key.

    Each event class also says in words what happened (``summary``), for the audit trail, and which of its
    fields are personal data: ``PEOPLE`` name participants (stored as pseudonymous subjects), ``TEXTS`` are
    free text (stored encrypted with the relationship's key); ``name.key`` means that key in each item of the
    list ``name``; ``KEYS`` are values a client chose (its Idempotency-Key), kept only as a keyed digest, since
    they may hold anything. Erasure works on these declarations alone (``persistence.privacy``).
    """

    PEOPLE = ("actor",)  # (not annotated: declarations of the class, not fields of the event)
    TEXTS = ()
    KEYS = ("command_id",)  # chosen by a client, compared, never shown: stored as a keyed digest

    actor: str
    actor_role: str
    command_id: str | None

    def summary(self, say: Say) -> str:
        raise NotImplementedError(f"{type(self).__name__} has no summary")


def event_classes(*aggregates: type[Aggregate]) -> tuple[type[CanMutateAggregate], ...]:
    """The event classes nested in these aggregates, in the order they are declared."""
    found: list[type[CanMutateAggregate]] = []
    for aggregate in aggregates:
        for name, value in vars(aggregate).items():
            if name in BASES or name.startswith("_") or not isinstance(value, type):
                continue
            if issubclass(value, Attributed) and issubclass(value, CanMutateAggregate):
                found.append(value)
    return tuple(found)


BASES = ("Event", "Created", "Snapshot")  # the library's base classes, nested in every aggregate (and _Private ones)


SHORT_TEXT = 80


def short(text: str) -> str:
    """Text on one line, cut to 80 characters with an ellipsis: for summaries."""
    text = " ".join(text.split())
    return text if len(text) <= SHORT_TEXT else text[: SHORT_TEXT - 1] + "…"
