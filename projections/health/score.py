"""Relationship health as pure functions: a score and a status from the figures and a clock.

The score (0-100) adds five parts and subtracts a penalty:

| part | points | full marks when |
|---|---|---|
| balance | 25 x two_way_ratio | mentor and mentee give as much feedback as each other |
| closure | 25 x acknowledgement_rate | every piece of feedback was acknowledged |
| follow-through | 20 x completed / total actions (10 when there are none) | every action item is done |
| cadence | 20 x clamp(1 - (days_quiet - 14) / 46) | feedback or a check-in within the last 14 days (0 at 60) |
| responsiveness | 10 x clamp(1 - (median_ack_hours - 48) / 288) | median acknowledgement within 48 hours (0 at 14 days); 0 with none |
| overdue penalty | -5 per overdue action, at most -20 | no open action past its due date |

``days_quiet`` counts whole days since the last contact: the last feedback
given or the day of the last check-in held, whichever is later (the start when
there is neither). Without check-ins this is the time since the last feedback,
as it always was. The total is clamped to 0-100 and rounded half up.

Status, first match wins: ``ended``, ``paused`` (lifecycle); ``too_early``
(younger than 14 days with fewer than 2 pieces of feedback); ``dormant``
(no contact for more than 60 days); then by score: ``thriving`` >= 80,
``healthy`` >= 60, ``needs_attention`` >= 40, else ``at_risk``.
"""

from __future__ import annotations

import math
import statistics
from datetime import datetime, timezone
from typing import Any

from projections.health.figures import HealthFigures

DAY = 86400.0
WEIGHTS = {"balance": 25, "closure": 25, "follow_through": 20, "cadence": 20, "responsiveness": 10}
CADENCE_GRACE_DAYS, CADENCE_ZERO_DAYS = 14, 60
RESPONSE_GRACE_HOURS, RESPONSE_ZERO_HOURS = 48, 336
OVERDUE_PENALTY, OVERDUE_PENALTY_CAP = 5, 20
TOO_EARLY_DAYS, TOO_EARLY_FEEDBACK = 14, 2
DORMANT_DAYS = 60
BANDS = ((80, "thriving"), (60, "healthy"), (40, "needs_attention"))
STATUSES = ("thriving", "healthy", "needs_attention", "at_risk", "dormant", "paused", "ended", "too_early")


def whole_days(now: datetime, since: datetime) -> int:
    return max(0, math.floor((now - since).total_seconds() / DAY))


def clamp(value: float, low: float = 0.0, high: float = 1.0) -> float:
    return max(low, min(high, value))


def median_hours(figures: HealthFigures) -> float | None:
    hours = figures.acknowledgement_hours
    return round(statistics.median(hours), 2) if hours else None


def overdue(figures: HealthFigures, now: datetime) -> int:
    today = now.astimezone(timezone.utc).date().isoformat()
    return sum(1 for due in figures.open_due_dates if due is not None and due < today)


def score(figures: HealthFigures, now: datetime, median: float | None = None, late: int | None = None) -> int:
    """The 0-100 score (see the module docstring for the formula)."""
    total = sum(score_parts(figures, now, median, late).values())
    return math.floor(clamp(total, 0, 100) + 0.5)


def score_parts(figures: HealthFigures, now: datetime, median: float | None = None, late: int | None = None
                ) -> dict[str, float]:
    """The points of each part of the score, and the overdue penalty (negative): what pulls a score down."""
    median = median_hours(figures) if median is None else median
    late = overdue(figures, now) if late is None else late
    quiet = whole_days(now, figures.last_contact_at)
    larger = max(figures.by_mentor, figures.by_mentee)
    parts = {
        "balance": min(figures.by_mentor, figures.by_mentee) / larger if larger else 0.0,
        "closure": figures.acknowledged / figures.given if figures.given else 0.0,
        "follow_through": figures.actions_completed / figures.actions_total if figures.actions_total else 0.5,
        "cadence": clamp(1 - (quiet - CADENCE_GRACE_DAYS) / (CADENCE_ZERO_DAYS - CADENCE_GRACE_DAYS)),
        "responsiveness": 0.0 if median is None else clamp(
            1 - (median - RESPONSE_GRACE_HOURS) / (RESPONSE_ZERO_HOURS - RESPONSE_GRACE_HOURS)),
    }
    points = {name: WEIGHTS[name] * value for name, value in parts.items()}
    points["overdue_penalty"] = -min(OVERDUE_PENALTY_CAP, OVERDUE_PENALTY * late)
    return points


def status(figures: HealthFigures, now: datetime, points: int) -> str:
    if figures.lifecycle in ("ended", "paused"):
        return figures.lifecycle
    if figures.given < TOO_EARLY_FEEDBACK and whole_days(now, figures.started_at) < TOO_EARLY_DAYS:
        return "too_early"
    if whole_days(now, figures.last_contact_at) > DORMANT_DAYS:
        return "dormant"
    return next((name for floor, name in BANDS if points >= floor), "at_risk")


def assess(figures: HealthFigures, now: datetime, as_of_position: int | None = None) -> dict[str, Any]:
    """The health representation of the HTTP contract, at ``now``."""
    median = median_hours(figures)
    late = overdue(figures, now)
    parts = score_parts(figures, now, median, late)
    points = score(figures, now, median, late)
    larger = max(figures.by_mentor, figures.by_mentee)
    return {
        "relationship_id": figures.relationship_id,
        "program_id": figures.program_id,
        "status": status(figures, now, points),
        "score": points,
        "feedback_given": {"by_mentor": figures.by_mentor, "by_mentee": figures.by_mentee},
        "two_way_ratio": round(min(figures.by_mentor, figures.by_mentee) / larger, 2) if larger else 0.0,
        "acknowledged": figures.acknowledged,
        "acknowledgement_rate": round(figures.acknowledged / figures.given, 2) if figures.given else None,
        "median_acknowledgement_hours": median,
        "actions": {"total": figures.actions_total, "completed": figures.actions_completed,
                    "open": figures.actions_total - figures.actions_completed, "overdue": late},
        "last_feedback_at": figures.last_feedback_at,
        "days_since_last_feedback": (whole_days(now, figures.last_feedback_at)
                                     if figures.last_feedback_at else None),
        "check_ins": figures.check_ins,
        "last_check_in_on": figures.last_check_in_on,
        "days_since_last_contact": whole_days(now, figures.last_contact_at),
        "open_concerns": figures.open_concerns,
        "score_parts": {name: round(value, 2) for name, value in parts.items()},
        "as_of": now,
        "as_of_position": as_of_position,
    }
