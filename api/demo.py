"""A demo program: two cohorts over six months, made through the ledger's own commands with a moving clock.

Every relationship follows a pattern chosen so that, today, each health status is represented: thriving,
healthy, needs attention, at risk, dormant, paused, ended and too early. Feedback goes both ways (more one way
where the pattern says so), is acknowledged (or not) after a delay, carries action items that are completed
(or left to fall overdue), and names skills, so growth has something to show. Deterministic for a seed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from domain.ledger import MentorshipLedger
from domain.principal import AUDITOR, COORDINATOR, PARTICIPANT, Principal

COORDINATOR_ID, AUDITOR_ID = "grace.hopper@example.org", "ida.wells@example.org"
PROGRAMS = ("spring-2026", "autumn-2026")
FIRST = ("amara", "bea", "chen", "dmitri", "esi", "farah", "goran", "hana", "ivan", "jun", "kemal", "lena",
         "mateo", "nadia", "oren", "priya", "quinn", "rosa", "sami", "tomas", "uma", "vikram", "wen", "yara")
LAST = ("okafor", "lindqvist", "wei", "petrov", "mensah", "haddad", "novak", "sato", "kowalski", "park",
        "yilmaz", "fischer", "ruiz", "rahman", "levi", "iyer", "walsh", "costa", "nasser", "horvat")
SKILLS = ("presenting", "system design", "code review", "stakeholder communication", "estimation", "delegation",
          "technical writing", "listening", "prioritisation", "testing")
GOALS = ("Lead a design review", "Present at the engineering all-hands", "Own a service end to end",
         "Mentor an intern", "Write a design document others adopt", "Run a retrospective")
PRAISE = ("Your walkthrough of the incident was clear and calm; the timeline made the cause obvious.",
          "You listened before proposing anything, and the team followed your plan because of it.",
          "The review comments were specific and kind; two people thanked you for them.",
          "Your estimate held within a day, and you said early where the risk was.")
IMPROVE = ("Slow down on the trade-offs: name the two options and what each costs before choosing.",
           "The document buries the decision on page four; lead with it.",
           "When the meeting drifted you let it; next time, restate the goal and park the side topic.",
           "Ask for feedback on the plan before building it, not after.")
GENERAL = ("Good session today; let us keep the fortnightly rhythm.",
           "I appreciated the honest update on what is blocking you.")
REFLECTIONS = ("Fair point; I will try the two-option framing next week.", "Useful, and a bit uncomfortable.",
               "I had not seen it that way. Thank you.", "Agreed; I will lead with the decision.")
ACTIONS = ("Prepare a trade-off table for the next review", "Rewrite the summary of the design document",
           "Shadow a senior engineer's incident review", "Draft the agenda and share it a day ahead",
           "Ask two colleagues for feedback on the plan", "Pair on one estimate with the tech lead")


@dataclass(frozen=True)
class Pattern:
    """How a relationship goes: feedback every ``every`` days; each ``mentee_every``-th piece from the mentee;
    acknowledged unless its number is a multiple of ``skip_ack``, after ``ack_hours``; actions done unless a
    multiple of ``skip_done``; ``quiet`` days since the last contact; the last ``overdue`` actions left late."""

    every: int
    mentee_every: int
    skip_ack: int
    ack_hours: tuple[int, int]
    skip_done: int
    quiet: int
    overdue: int = 0
    check_ins: bool = False
    ending: str | None = None  # "pause" or "end", ten and twenty days ago


PATTERNS = {
    "thriving": Pattern(every=6, mentee_every=2, skip_ack=99, ack_hours=(2, 20), skip_done=99, quiet=2,
                        check_ins=True),
    "healthy": Pattern(every=9, mentee_every=3, skip_ack=4, ack_hours=(10, 40), skip_done=2, quiet=9),
    "needs_attention": Pattern(every=12, mentee_every=5, skip_ack=3, ack_hours=(60, 140), skip_done=3, quiet=24,
                               overdue=1),
    "at_risk": Pattern(every=15, mentee_every=9, skip_ack=2, ack_hours=(150, 300), skip_done=1, quiet=38,
                       overdue=3),
    "dormant": Pattern(every=10, mentee_every=2, skip_ack=3, ack_hours=(20, 60), skip_done=2, quiet=75),
    "paused": Pattern(every=9, mentee_every=2, skip_ack=4, ack_hours=(10, 40), skip_done=2, quiet=12,
                      ending="pause"),
    "ended": Pattern(every=8, mentee_every=2, skip_ack=5, ack_hours=(10, 40), skip_done=2, quiet=22,
                     ending="end"),
}
# Per cohort, how many relationships follow each pattern (the autumn cohort started later; some just began).
COHORTS = {
    "spring-2026": (182, {"thriving": 4, "healthy": 5, "needs_attention": 3, "at_risk": 2, "dormant": 2,
                          "paused": 1, "ended": 2}),
    "autumn-2026": (70, {"thriving": 3, "healthy": 4, "needs_attention": 2, "at_risk": 2, "dormant": 0,
                         "paused": 1, "ended": 0}),
}
TOO_EARLY = 4  # relationships started in the last two weeks


class DemoClock:
    """The ledger's clock during the demo: wherever the story is."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def fill(ledger: MentorshipLedger, seed: int = 7, now: datetime | None = None) -> dict[str, Any]:
    """Fill an empty store with the demo program; what was made (relationship ids by pattern, people)."""
    if ledger.position():
        raise ValueError("the store is not empty: the demo fills an empty store only")
    rng = random.Random(seed)  # nosec B311 - a demo made the same from a seed, nothing secret
    now = (now or ledger.clock()).replace(microsecond=0)
    people = [f"{first}.{last}@example.org" for first, last in zip(FIRST * 3, LAST * 3)]
    rng.shuffle(people)
    mentors, mentees = people[:14], people[14:]
    steps: list[tuple[datetime, Any]] = []
    made: dict[str, list[UUID]] = {}
    n = 0
    for program, (days_ago, mix) in COHORTS.items():
        for name, count in mix.items():
            for _ in range(count):
                start = now - timedelta(days=days_ago - rng.randint(0, 6), hours=rng.randint(8, 17))
                mentor, mentee = mentors[n % len(mentors)], mentees[n % len(mentees)]
                n += 1
                steps += _story(rng, program, name, PATTERNS[name], mentor, mentee, start, now, made)
    for _ in range(TOO_EARLY):
        start = now - timedelta(days=rng.randint(2, 9), hours=rng.randint(1, 8))
        mentor, mentee = mentors[n % len(mentors)], mentees[n % len(mentees)]
        n += 1
        steps += _too_early(rng, mentor, mentee, start, made)
    clock = DemoClock(now)
    saved = ledger.clock
    ledger.clock = clock
    try:
        state: dict[str, Any] = {}
        for at, step in sorted(steps, key=lambda pair: pair[0]):
            clock.now = at
            step(ledger, state)
    finally:
        ledger.clock = saved
    return {"relationships": {name: [state[key] for key in keys] for name, keys in made.items()},
            "pairs": {name: [tuple(key.split(":")[1:]) for key in keys] for name, keys in made.items()},
            "mentors": mentors, "mentees": mentees, "coordinator": COORDINATOR_ID, "auditor": AUDITOR_ID}


def _story(rng: random.Random, program: str, name: str, p: Pattern, mentor: str, mentee: str, start: datetime,
           now: datetime, made: dict[str, list[Any]]) -> list[tuple[datetime, Any]]:
    key = f"{name}:{mentor}:{mentee}"
    made.setdefault(name, []).append(key)
    steps: list[tuple[datetime, Any]] = [(start, _start(key, program, mentor, mentee, rng.sample(GOALS, 2)))]
    last_contact = now - timedelta(days=p.quiet, hours=rng.randint(1, 6))
    if p.ending == "pause":
        last_contact = now - timedelta(days=11)
    stop = last_contact
    at, number = start + timedelta(days=2), 0
    times = []
    while at <= stop:
        times.append(at)
        at += timedelta(days=p.every, hours=rng.randint(-20, 20))
    if times:
        times[-1] = stop
    for at in times:
        number += 1
        by_mentee = number % p.mentee_every == 0
        giver, recipient = (mentee, mentor) if by_mentee else (mentor, mentee)
        kind = rng.choice(("strength", "improvement", "improvement", "general"))
        text = rng.choice({"strength": PRAISE, "improvement": IMPROVE, "general": GENERAL}[kind])
        late = p.overdue and number > len(times) - p.overdue
        with_action = kind == "improvement" or late
        due = (now - timedelta(days=rng.randint(3, 12))).date() if late else (at + timedelta(days=14)).date()
        if not late and due < now.date() and number > len(times) - 2:
            due = (now + timedelta(days=10)).date()
        item = f"{key}:{number}"
        steps.append((at, _give(key, item, giver, text, kind, rng.sample(SKILLS, rng.randint(1, 3)),
                                rng.choice(ACTIONS) if with_action else None, due)))
        ack_at = at + timedelta(hours=rng.randint(*p.ack_hours))
        if number % p.skip_ack and ack_at < now:
            steps.append((ack_at, _ack(key, item, recipient, rng.choice(REFLECTIONS), rng.randint(3, 5))))
        done_at = at + timedelta(days=rng.randint(3, 10))
        if with_action and not late and number % p.skip_done and done_at < now and done_at < last_contact + \
                timedelta(days=1):
            steps.append((done_at, _complete(key, item, recipient, "Done; shared it with the team.")))
        if p.check_ins and number % 2 == 0:
            steps.append((at + timedelta(hours=1), _check_in(key, mentee, at.date(), rng.choice((30, 45, 60)))))
    if name == "at_risk":
        steps.append((stop + timedelta(hours=3), _concern(key, mentee)))
    if p.ending == "pause":
        steps.append((now - timedelta(days=10), _lifecycle(key, "pause", "Mentor on parental leave for a month")))
    if p.ending == "end":
        steps.append((now - timedelta(days=20), _lifecycle(key, "end", "Goals reached; closing the pairing")))
    return steps


def _too_early(rng: random.Random, mentor: str, mentee: str, start: datetime, made: dict[str, list[Any]]
               ) -> list[tuple[datetime, Any]]:
    key = f"too_early:{mentor}:{mentee}"
    made.setdefault("too_early", []).append(key)
    return [(start, _start(key, "autumn-2026", mentor, mentee, rng.sample(GOALS, 1))),
            (start + timedelta(days=1), _give(key, f"{key}:1", mentor, "Welcome! Let us agree on two goals first.",
                                              "general", ["listening"], None, None))]


# -- the steps, each a real command ------------------------------------------------------------------------


def _as(principal_id: str, role: str = PARTICIPANT) -> Principal:
    return Principal(principal_id, role)


def _start(key: str, program: str, mentor: str, mentee: str, goals: list[str]) -> Any:
    def step(ledger: MentorshipLedger, state: dict[str, Any]) -> None:
        state[key] = ledger.start_relationship(_as(COORDINATOR_ID, COORDINATOR), program_id=program,
                                               mentor_id=mentor, mentee_id=mentee, goals=goals).aggregate_id
    return step


def _give(key: str, item: str, giver: str, text: str, kind: str, skills: list[str], action: str | None,
          due: Any) -> Any:
    def step(ledger: MentorshipLedger, state: dict[str, Any]) -> None:
        items = [{"description": action, "due_on": due}] if action else []
        body = ledger.give_feedback(_as(giver), state[key], content=text, kind=kind, skills=skills,
                                    action_items=items).body
        state[item] = (UUID(str(body["feedback_id"])),
                       UUID(str(body["action_items"][0]["action_id"])) if body["action_items"] else None)
    return step


def _ack(key: str, item: str, recipient: str, reflection: str, usefulness: int) -> Any:
    def step(ledger: MentorshipLedger, state: dict[str, Any]) -> None:
        ledger.receive_feedback(_as(recipient), state[key], state[item][0], reflection=reflection,
                                usefulness=usefulness)
    return step


def _complete(key: str, item: str, owner: str, outcome: str) -> Any:
    def step(ledger: MentorshipLedger, state: dict[str, Any]) -> None:
        if state[item][1] is not None:
            ledger.complete_action(_as(owner), state[key], state[item][1], outcome=outcome)
    return step


def _check_in(key: str, mentee: str, day: Any, minutes: int) -> Any:
    def step(ledger: MentorshipLedger, state: dict[str, Any]) -> None:
        ledger.hold_check_in(_as(mentee), state[key], held_on=day, minutes=minutes, note="Went through the goals.")
    return step


def _concern(key: str, mentee: str) -> Any:
    def step(ledger: MentorshipLedger, state: dict[str, Any]) -> None:
        ledger.raise_concern(_as(mentee), state[key], content="My mentor has cancelled our last three sessions.")
    return step


def _lifecycle(key: str, change: str, reason: str) -> Any:
    def step(ledger: MentorshipLedger, state: dict[str, Any]) -> None:
        use_case = ledger.pause_relationship if change == "pause" else ledger.end_relationship
        use_case(_as(COORDINATOR_ID, COORDINATOR), state[key], reason=reason)
    return step


def people_to_sign_in_as(made: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(role, principal, why) of the tokens the demo prints."""
    mentor, _ = made["pairs"]["thriving"][0]
    _, mentee = made["pairs"]["healthy"][0]
    return [(COORDINATOR, COORDINATOR_ID, "the program overview, every relationship, pause/resume/end"),
            (AUDITOR, AUDITOR_ID, "the audit trail, verify, exports"),
            (PARTICIPANT, mentor, "a mentor in a thriving relationship"),
            (PARTICIPANT, mentee, "a mentee with feedback to acknowledge and actions to complete")]
