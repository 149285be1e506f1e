"""The edges of the health formula: band floors, too_early and dormant limits, overdue days, time zones,
rounding, caps and clamps. Each test states one rule of projections/health/score.py at its boundary."""

from __future__ import annotations

import os
import time
from datetime import date, datetime, timedelta, timezone

import pytest

from projections.health import figures as hf
from projections.health import score as hs

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
PACIFIC = timezone(timedelta(hours=-8))
INDIA = timezone(timedelta(hours=5, minutes=30))


def figures(*, started=NOW - timedelta(days=90), mentor=1, mentee=1, acknowledged=2, hours=(24, 24), total=0,
            completed=0, due=(), last_feedback=NOW - timedelta(days=1), lifecycle="active",
            check_in: date | None = None) -> hf.HealthFigures:
    """A mature, balanced relationship by default: change one thing per test."""
    return hf.HealthFigures(
        relationship_id="r", program_id="spring-2026", lifecycle=lifecycle, started_at=started, by_mentor=mentor,
        by_mentee=mentee, acknowledged=acknowledged, acknowledgement_hours=tuple(hours), actions_total=total,
        actions_completed=completed, open_due_dates=tuple(due), last_feedback_at=last_feedback,
        check_ins=int(check_in is not None), last_check_in_on=check_in, open_concerns=0,
    )


# -- status bands: a floor belongs to its band ------------------------------------------------------


@pytest.mark.parametrize("points, status", [
    (100, "thriving"), (80, "thriving"), (79, "healthy"), (60, "healthy"), (59, "needs_attention"),
    (40, "needs_attention"), (39, "at_risk"), (0, "at_risk"),
])
def test_a_score_at_a_band_floor_belongs_to_that_band(points, status):
    assert hs.status(figures(), NOW, points) == status


@pytest.mark.parametrize("subject, points, status", [
    # balance 25 + closure 25 + no actions 10 + cadence 20 + responsiveness 0 (median 336 h) = 80
    (figures(hours=(336, 336)), 80, "thriving"),
    # half of eight actions done (follow-through 10), the four open ones overdue (penalty 20): 60
    (figures(hours=(336, 336), total=8, completed=4, due=["2026-02-01"] * 4), 60, "healthy"),
    # the same, quiet for exactly 60 days (cadence 0, not yet dormant): 40
    (figures(hours=(336, 336), total=8, completed=4, due=["2026-02-01"] * 4,
             last_feedback=NOW - timedelta(days=60)), 40, "needs_attention"),
])
def test_assessed_scores_of_exactly_80_60_and_40_are_thriving_healthy_and_needs_attention(subject, points, status):
    assessed = hs.assess(subject, NOW)
    assert (assessed["score"], assessed["status"]) == (points, status)


# -- too_early: younger than 14 days AND fewer than 2 pieces of feedback ------------------------------


@pytest.mark.parametrize("age, given, status", [
    (timedelta(days=13, hours=23, minutes=59), 1, "too_early"),
    (timedelta(days=14), 1, "thriving"),  # exactly 14 days old: judged by its score
    (timedelta(days=3), 2, "thriving"),  # two pieces of feedback: judged by its score, however young
    (timedelta(days=3), 0, "too_early"),
])
def test_a_young_relationship_with_little_feedback_is_too_early_to_judge(age, given, status):
    subject = figures(started=NOW - age, mentor=given, mentee=0, acknowledged=0, hours=(),
                      last_feedback=NOW if given else None)
    points = 100  # the band the status would have, were it not too early
    assert hs.status(subject, NOW, points) == status


# -- dormant: no contact for MORE than 60 whole days ------------------------------------------------------


@pytest.mark.parametrize("quiet, status", [
    (timedelta(days=60), "at_risk"),
    (timedelta(days=60, hours=23, minutes=59), "at_risk"),  # still 60 whole days
    (timedelta(days=61), "dormant"),
])
def test_a_relationship_is_dormant_after_more_than_60_whole_days_without_contact(quiet, status):
    assert hs.status(figures(last_feedback=NOW - quiet), NOW, 0) == status


def test_a_check_in_counts_from_the_start_of_its_utc_day():
    subject = figures(last_feedback=NOW - timedelta(days=90), check_in=(NOW - timedelta(days=61)).date())
    assert hs.whole_days(NOW, subject.last_contact_at) == 61  # 2025-12-30 00:00 UTC to 2026-03-01 12:00 UTC
    assert hs.status(subject, NOW, 0) == "dormant"


# -- overdue: an open action whose due day is before today (UTC) ----------------------------------------------


@pytest.mark.parametrize("due, late", [
    ("2026-02-28", 1),  # yesterday
    ("2026-03-01", 0),  # today is not overdue
    ("2026-03-02", 0),  # tomorrow
    (None, 0),  # no due date: never overdue
])
def test_an_action_is_overdue_from_the_day_after_it_was_due(due, late):
    assert hs.overdue(figures(total=1, due=[due]), NOW) == late


def test_overdue_is_counted_by_the_utc_day_when_now_is_given_in_another_offset():
    late_evening_in_california = datetime(2026, 3, 1, 20, 0, tzinfo=PACIFIC)  # 2026-03-02 04:00 UTC
    assert hs.overdue(figures(total=1, due=["2026-03-01"]), late_evening_in_california) == 1


def test_overdue_is_counted_by_the_utc_day_when_it_is_already_tomorrow_in_india():
    early_morning_in_india = datetime(2026, 3, 2, 1, 0, tzinfo=INDIA)  # 2026-03-01 19:30 UTC
    assert hs.overdue(figures(total=1, due=["2026-03-01"]), early_morning_in_india) == 0


@pytest.fixture
def machine_in_california():
    """The process's local time zone set to America/Los_Angeles for one test, then restored."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = "America/Los_Angeles"
    time.tzset()
    yield
    if before is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = before
    time.tzset()


def test_overdue_does_not_depend_on_the_machines_time_zone(machine_in_california):
    four_in_the_morning_utc = datetime(2026, 3, 2, 4, 0, tzinfo=timezone.utc)  # 2026-03-01 20:00 in California
    assert hs.overdue(figures(total=1, due=["2026-03-01"]), four_in_the_morning_utc) == 1


def test_the_score_is_the_same_for_the_same_moment_in_any_offset():
    subject = figures(total=2, due=["2026-03-01", "2026-02-20"], last_feedback=NOW - timedelta(days=20))
    moment = datetime(2026, 3, 2, 4, 0, tzinfo=timezone.utc)
    assessed = [hs.assess(subject, moment.astimezone(zone)) for zone in (timezone.utc, PACIFIC, INDIA)]
    # 25 + 25 + 0 + cadence 20 x (1 - 6/46) + 10 - 2 overdue x 5 = 67.39
    assert {(a["score"], a["status"], a["actions"]["overdue"]) for a in assessed} == {(67, "healthy", 2)}


# -- the overdue penalty: 5 per overdue action, at most 20 ------------------------------------------------


@pytest.mark.parametrize("late, penalty", [(0, 0), (1, 5), (3, 15), (4, 20), (5, 20), (9, 20)])
def test_each_overdue_action_costs_5_points_up_to_20(late, penalty):
    subject = figures(hours=(1, 1), total=late, due=["2026-01-01"] * late)
    follow_through = 0 if late else 10  # all open, or no actions at all
    assert hs.score(subject, NOW) == 25 + 25 + follow_through + 20 + 10 - penalty


# -- clamps ---------------------------------------------------------------------------------------------------


# 80 without responsiveness: balance 25, closure 25, follow-through without actions 10, cadence 20
@pytest.mark.parametrize("median, points", [
    (0.5, 90), (48, 90),  # full 10 points, never more
    (120, 88),  # 10 x (1 - 72/288) = 7.5: 87.5, rounded half up
    (192, 85), (336, 80),
    (1000, 80),  # none, never fewer
])
def test_responsiveness_is_full_within_48_hours_and_none_from_14_days(median, points):
    assert hs.score(figures(hours=(median,)), NOW) == points


def test_no_acknowledgement_gives_no_responsiveness_points():
    assert hs.score(figures(acknowledged=0, hours=()), NOW) == 25 + 0 + 10 + 20 + 0


# 70 without cadence: balance 25, closure 25, follow-through without actions 10, responsiveness 10
@pytest.mark.parametrize("quiet_days, points", [
    (0, 90), (14, 90),  # full 20 points, never more
    (37, 80),  # 20 x (1 - 23/46) = 10
    (60, 70), (61, 70),  # none, never fewer
])
def test_cadence_is_full_for_two_weeks_and_fades_to_none_at_sixty_days(quiet_days, points):
    subject = figures(hours=(1, 1), last_feedback=NOW - timedelta(days=quiet_days))
    assert hs.score(subject, NOW) == points


def test_the_score_never_goes_below_zero():
    one_way_and_forgotten = figures(mentor=3, mentee=0, acknowledged=0, hours=(), total=6, due=["2026-01-01"] * 6,
                                    last_feedback=NOW - timedelta(days=90))
    assessed = hs.assess(one_way_and_forgotten, NOW)
    assert (assessed["score"], assessed["status"]) == (0, "dormant")


def test_a_clamp_keeps_a_value_between_its_bounds():
    assert (hs.clamp(-0.5), hs.clamp(0.25), hs.clamp(1.5), hs.clamp(150, 0, 100), hs.clamp(-3, 0, 100)) == (
        0.0, 0.25, 1.0, 100, 0)


# -- rounding --------------------------------------------------------------------------------------------------


def test_the_score_rounds_half_up_not_to_even():
    # 25 + 25 + 10 + 20 + responsiveness 2.5 (median 264 h) = 82.5: half up is 83 (round-half-even would say 82)
    assert hs.score(figures(hours=(264,)), NOW) == 83


def test_the_score_rounds_below_half_down():
    # responsiveness 10 x (1 - (265 - 48) / 288) = 2.465...: 82.47 is 82
    assert hs.score(figures(hours=(265,)), NOW) == 82


def test_the_median_acknowledgement_time_is_rounded_to_two_decimals():
    assert hs.median_hours(figures(hours=(1.0, 1.2345))) == 1.12


def test_the_two_way_ratio_and_the_acknowledgement_rate_are_rounded_to_two_decimals():
    assessed = hs.assess(figures(mentor=1, mentee=3, acknowledged=1), NOW)
    assert (assessed["two_way_ratio"], assessed["acknowledgement_rate"]) == (0.33, 0.25)


# -- score() takes figures it is given, and works them out when not given -----------------------------------------


def test_score_works_out_the_median_and_the_overdue_count_when_not_given():
    subject = figures(hours=(336, 336), total=1, due=["2026-02-01"])
    assert hs.score(subject, NOW) == 25 + 25 + 0 + 20 + 0 - 5


def test_score_uses_the_median_and_the_overdue_count_it_is_given():
    subject = figures(hours=(336, 336), total=1, due=["2026-02-01"])
    assert hs.score(subject, NOW, median=48.0, late=0) == 25 + 25 + 0 + 20 + 10


# -- the whole representation ---------------------------------------------------------------------------------------


def test_the_assessment_names_every_figure_of_the_contract():
    subject = figures(mentor=3, mentee=2, acknowledged=4, hours=(10, 20, 30, 40), total=3, completed=1,
                      due=["2026-02-27", None], last_feedback=datetime(2026, 2, 20, 8, 0, tzinfo=timezone.utc),
                      check_in=date(2026, 2, 25))
    assert hs.assess(subject, NOW, as_of_position=42) == {
        "relationship_id": "r",
        "program_id": "spring-2026",
        "status": "healthy",
        "score": 68,  # 25 x 2/3 + 25 x 4/5 + 20 x 1/3 + 20 (met 4 days ago) + 10 - 5 (one overdue) = 68.33
        "feedback_given": {"by_mentor": 3, "by_mentee": 2},
        "two_way_ratio": 0.67,
        "acknowledged": 4,
        "acknowledgement_rate": 0.8,
        "median_acknowledgement_hours": 25.0,
        "actions": {"total": 3, "completed": 1, "open": 2, "overdue": 1},
        "last_feedback_at": datetime(2026, 2, 20, 8, 0, tzinfo=timezone.utc),
        "days_since_last_feedback": 9,
        "check_ins": 1,
        "last_check_in_on": date(2026, 2, 25),
        "days_since_last_contact": 4,
        "open_concerns": 0,
        "score_parts": {"balance": 16.67, "closure": 20.0, "follow_through": 6.67, "cadence": 20.0,
                        "responsiveness": 10.0, "overdue_penalty": -5},
        "as_of": NOW,
        "as_of_position": 42,
    }


def test_whole_days_never_go_negative_when_the_clock_is_behind():
    assert hs.whole_days(NOW, NOW + timedelta(hours=3)) == 0
