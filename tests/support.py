"""Helpers that let tests read as sentences: ledgers, apps, principals and common commands."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

from domain.ledger import MentorshipLedger
from domain.principal import Principal
from persistence.config import store_env

COORDINATOR = Principal("ada", "coordinator")
AUDITOR = Principal("audrey", "auditor")
MENTOR = Principal("mentor-7", "participant")
MENTEE = Principal("mentee-12", "participant")
OUTSIDER = Principal("mentor-99", "participant")


class SteppingClock:
    """A clock that moves one minute forward each time it is read."""

    def __init__(self, start: datetime = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)) -> None:
        self.now = start

    def __call__(self) -> datetime:
        self.now += timedelta(minutes=1)
        return self.now


def open_ledger(store: Any, instance_path: str, clock: Callable[[], datetime] | None = None,
                **env: str) -> MentorshipLedger:
    settings = store_env(store.database_url, instance_path)
    settings["INSTANCE_PATH"] = instance_path  # where the snapshot signing key is kept
    settings.update(store.extra_env)
    settings.update(env)
    return MentorshipLedger(env=settings, clock=clock or SteppingClock())


def start(ledger: MentorshipLedger, **overrides: Any):
    arguments = {"program_id": "spring-2026", "mentor_id": MENTOR.id, "mentee_id": MENTEE.id,
                 "goals": ["Lead a design review"]}
    arguments.update(overrides)
    context = arguments.pop("context", None)
    if context is not None:
        return ledger.start_relationship(COORDINATOR, **arguments, context=context)
    return ledger.start_relationship(COORDINATOR, **arguments)


def feedback(ledger: MentorshipLedger, relationship_id, by: Principal = MENTOR, **overrides: Any):
    arguments = {"content": "Clear review; slow down on trade-offs.", "kind": "improvement",
                 "skills": ["presenting"], "action_items": [{"description": "Trade-off table", "due_on": None}]}
    arguments.update(overrides)
    return ledger.give_feedback(by, relationship_id, **arguments)
