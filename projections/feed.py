"""Reading the ledger's events in store order, in batches, for projections and verification."""

from __future__ import annotations

from collections.abc import Iterator

from eventsourcing.persistence import Notification
from eventsourcing.utils import get_topic

from domain.ledger import MentorshipLedger
from domain.registry import LEDGER_EVENTS
from projections.base import Item

LEDGER_TOPICS = tuple(get_topic(cls) for cls in LEDGER_EVENTS)
_TOPICS = frozenset(LEDGER_TOPICS)


def read_batch(ledger: MentorshipLedger, after: int, limit: int) -> list[Item]:
    """Every event after a position (up to ``limit``); only the record's events are decoded (not idempotency keys)."""
    notifications = ledger.recorder.select_notifications(start=after, limit=limit, inclusive_of_start=False)
    return [
        Item(ledger.mapper.as_stored(n), n.id, (n.topic, bytes(n.state))) if n.topic in _TOPICS
        else Item(None, n.id)
        for n in notifications
    ]


def stored_records(ledger: MentorshipLedger, after: int = 0, up_to: int | None = None, batch: int = 5000
                   ) -> Iterator[Notification]:
    """The record's events as stored (not decoded), in store order, after a position and up to another."""
    while True:
        notifications = ledger.recorder.select_notifications(
            start=after, limit=batch, stop=up_to, topics=LEDGER_TOPICS, inclusive_of_start=False
        )
        yield from notifications
        if len(notifications) < batch:
            return
        after = notifications[-1].id


def ledger_events(ledger: MentorshipLedger, after: int = 0, batch: int = 1000) -> Iterator[Item]:
    """Every event of the record after a position, decoded, in store order."""
    while True:
        notifications = ledger.recorder.select_notifications(
            start=after, limit=batch, topics=LEDGER_TOPICS, inclusive_of_start=False
        )
        for notification in notifications:
            yield Item(_decoded(ledger, notification), notification.id)
        if len(notifications) < batch:
            return
        after = notifications[-1].id


def _decoded(ledger: MentorshipLedger, notification: Notification) -> object | None:
    """The event, or None when the stored bytes no longer decode (verification reports it)."""
    try:
        return ledger.mapper.as_stored(notification)
    except Exception:  # noqa: BLE001 - any failure to decode means the record was altered
        return None
