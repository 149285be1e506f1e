"""What a batch of events changes in the relationship-health view, gathered before any statement runs."""

from __future__ import annotations

from datetime import datetime
from typing import Any


def epoch(moment: datetime) -> float:
    return moment.timestamp()


BY_MENTOR, BY_MENTEE, ACKNOWLEDGED, ACTIONS_TOTAL, ACTIONS_COMPLETED, LAST_FEEDBACK = range(6)


class HealthBatch:
    """What a batch of events changes in the health view, gathered before any statement runs.

    Counter changes commute, so each relationship's are summed and written
    once; rows are inserted before the updates that may refer to them.
    """

    def __init__(self) -> None:
        self.started: list[tuple[str, str, float]] = []
        self.feedback: list[tuple[str, str, float]] = []
        self.actions: list[tuple[str, str, str | None]] = []
        self.acknowledgements: list[tuple[float, str]] = []
        self.completions: list[tuple[str]] = []
        self.counts: dict[str, list[Any]] = {}
        self.lifecycle: dict[str, str] = {}
        self.acknowledged: set[str] = set()

    def _counts(self, rid: str) -> list[Any]:
        return self.counts.setdefault(rid, [0, 0, 0, 0, 0, None])

    def RelationshipStarted(self, event: Any, rid: str) -> None:  # noqa: N802 - named after the event
        self.started.append((rid, event.program_id, epoch(event.timestamp)))

    def FeedbackGiven(self, event: Any, rid: str) -> None:  # noqa: N802
        counts = self._counts(rid)
        counts[BY_MENTOR if event.giver_role == "mentor" else BY_MENTEE] += 1
        counts[ACTIONS_TOTAL] += len(event.action_items)
        counts[LAST_FEEDBACK] = epoch(event.timestamp)
        self.feedback.append((str(event.feedback_id), rid, epoch(event.timestamp)))
        self.actions.extend((str(i["action_id"]), rid, i.get("due_on")) for i in event.action_items)

    def FeedbackReceived(self, event: Any, rid: str) -> None:  # noqa: N802
        self._counts(rid)[ACKNOWLEDGED] += 1
        self.acknowledgements.append((epoch(event.timestamp), str(event.feedback_id)))
        self.acknowledged.add(rid)

    def ActionCompleted(self, event: Any, rid: str) -> None:  # noqa: N802
        self._counts(rid)[ACTIONS_COMPLETED] += 1
        self.completions.append((str(event.action_id),))

    def RelationshipPaused(self, event: Any, rid: str) -> None:  # noqa: N802
        self.lifecycle[rid] = "paused"

    def RelationshipResumed(self, event: Any, rid: str) -> None:  # noqa: N802
        self.lifecycle[rid] = "active"

    def RelationshipEnded(self, event: Any, rid: str) -> None:  # noqa: N802
        self.lifecycle[rid] = "ended"
