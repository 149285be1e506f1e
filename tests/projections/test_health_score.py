"""The health formula and statuses, as tables of worked cases (the README shows the same examples)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from projections.health import figures as hf
from projections.health import score as hs

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


def figures(*, started_days_ago=90, mentor=0, mentee=0, acknowledged=0, hours=(), total=0, completed=0,
            due=(), quiet_days=None, lifecycle="active", check_in_days=None) -> hf.HealthFigures:
    last = NOW - timedelta(days=quiet_days) if quiet_days is not None else None
    check_in = (NOW - timedelta(days=check_in_days)).date() if check_in_days is not None else None
    return hf.HealthFigures(
        relationship_id="r", program_id="p", lifecycle=lifecycle, started_at=NOW - timedelta(days=started_days_ago),
        by_mentor=mentor, by_mentee=mentee, acknowledged=acknowledged, acknowledgement_hours=tuple(hours),
        actions_total=total, actions_completed=completed, open_due_dates=tuple(due), last_feedback_at=last,
        check_ins=int(check_in is not None), last_check_in_on=check_in,
    )


CASES = [
    # (description, figures, score, status)
    ("everything right", figures(mentor=3, mentee=3, acknowledged=6, hours=[1] * 6, total=4, completed=4,
                                 quiet_days=2), 100, "thriving"),
    ("balanced and responsive, one action overdue",
     figures(mentor=4, mentee=3, acknowledged=6, hours=[10, 20, 20.5, 21, 30, 40], total=5, completed=3,
             due=["2026-02-01", None], quiet_days=3), 77, "healthy"),
    ("one-way feedback, never acknowledged", figures(mentor=5, quiet_days=5, total=2, due=[None, None]),
     20, "at_risk"),
    ("quiet for five weeks, slow to acknowledge",
     figures(mentor=2, mentee=2, acknowledged=2, hours=[192, 192], quiet_days=37), 63, "healthy"),
    ("overdue actions pile up (penalty capped at 20)",
     figures(mentor=2, mentee=1, acknowledged=1, hours=[300], total=6, due=["2026-01-01"] * 6, quiet_days=20),
     19, "at_risk"),
    ("brand new, nothing yet", figures(started_days_ago=3), 30, "too_early"),
    ("two weeks in, still nothing", figures(started_days_ago=14), 30, "at_risk"),
    ("quiet for more than 60 days", figures(mentor=3, mentee=3, acknowledged=6, hours=[5] * 6, quiet_days=61),
     70, "dormant"),
    ("no feedback for 40 days, but they met 5 days ago",
     figures(mentor=2, mentee=2, acknowledged=4, hours=[10] * 4, quiet_days=40, check_in_days=5), 90, "thriving"),
    ("the same without the meeting", figures(mentor=2, mentee=2, acknowledged=4, hours=[10] * 4, quiet_days=40),
     79, "healthy"),
    ("no feedback for 70 days, a meeting 10 days ago: not dormant",
     figures(mentor=3, mentee=3, acknowledged=6, hours=[5] * 6, quiet_days=70, check_in_days=10), 90, "thriving"),
    ("a meeting long ago does not hide recent feedback",
     figures(mentor=3, mentee=3, acknowledged=6, hours=[5] * 6, quiet_days=2, check_in_days=80), 90, "thriving"),
    ("paused", figures(mentor=1, quiet_days=1, lifecycle="paused"), 30, "paused"),
    ("ended", figures(lifecycle="ended", quiet_days=90), 10, "ended"),
]


@pytest.mark.parametrize("description, subject, score, status", CASES, ids=[c[0] for c in CASES])
def test_worked_examples(description, subject, score, status):
    assessed = hs.assess(subject, NOW)
    assert (assessed["score"], assessed["status"]) == (score, status)


def test_the_figures_of_the_contract():
    assessed = hs.assess(figures(mentor=4, mentee=3, acknowledged=6, hours=[10, 20, 21, 30, 40, 50], total=5,
                                 completed=3, due=["2026-02-01", "2026-04-01"], quiet_days=3), NOW)
    assert assessed["feedback_given"] == {"by_mentor": 4, "by_mentee": 3}
    assert assessed["two_way_ratio"] == 0.75
    assert assessed["acknowledgement_rate"] == 0.86
    assert assessed["median_acknowledgement_hours"] == 25.5
    assert assessed["actions"] == {"total": 5, "completed": 3, "open": 2, "overdue": 1}
    assert assessed["days_since_last_feedback"] == 3


def test_no_feedback_means_no_ratio_and_no_rate():
    assessed = hs.assess(figures(), NOW)
    assert (assessed["two_way_ratio"], assessed["acknowledgement_rate"], assessed["days_since_last_feedback"]) == (
        0.0, None, None)


@pytest.mark.parametrize("quiet, points", [(0, 20), (14, 20), (37, 10), (60, 0), (200, 0)])
def test_cadence_fades_between_two_weeks_and_two_months(quiet, points):
    base = hs.score(figures(quiet_days=quiet), NOW)
    assert base - 10 == points  # 10 points: follow-through with no actions


def test_time_moves_the_score_without_new_events():
    subject = figures(mentor=1, mentee=1, acknowledged=2, hours=[1, 1], quiet_days=0, total=1, due=["2026-03-10"])
    assert hs.assess(subject, NOW)["actions"]["overdue"] == 0
    later = hs.assess(subject, NOW + timedelta(days=30))
    assert later["actions"]["overdue"] == 1 and later["days_since_last_feedback"] == 30
    assert later["score"] < hs.assess(subject, NOW)["score"]
