"""Random but valid mentorship histories, written through the ledger, for projection tests."""

from __future__ import annotations

import random
from datetime import date, timedelta
from uuid import UUID

from domain.errors import LedgerError
from domain.ledger import MentorshipLedger
from domain.principal import Principal
from tests.support import COORDINATOR

SKILLS = ["presenting", "Presenting", "system design", "listening", "estimation", "negotiation"]


def random_history(ledger: MentorshipLedger, seed: int, relationships: int = 6, commands: int = 150) -> list[UUID]:
    """Start some relationships, then run a random mix of commands on them; refused ones are skipped."""
    rng = random.Random(seed)
    rids = []
    for i in range(relationships):
        result = ledger.start_relationship(COORDINATOR, program_id=rng.choice(["spring", "autumn"]),
                                           mentor_id=f"mentor-{i % 4}", mentee_id=f"mentee-{i}", goals=["grow"])
        rids.append(result.relationship_id)
    for _ in range(commands):
        rid = rng.choice(rids)
        try:
            _random_command(ledger, rng, rid)
        except LedgerError:
            pass
    return rids


def _random_command(ledger: MentorshipLedger, rng: random.Random, rid: UUID) -> None:
    state = ledger.get_relationship(COORDINATOR, rid)
    mentor, mentee = Principal(state["mentor_id"], "participant"), Principal(state["mentee_id"], "participant")
    unreceived = [f for f in state["feedback"] if f["received_at"] is None]
    open_actions = [a for a in state["actions"] if a["status"] == "open"]
    roll = rng.random()
    if roll < 0.45:
        giver = rng.choice([mentor, mentee])
        items = [{"description": f"step {n}", "due_on": _due(rng)} for n in range(rng.randint(0, 2))]
        ledger.give_feedback(giver, rid, content="notes", kind=rng.choice(["strength", "improvement", "general"]),
                             skills=rng.sample(SKILLS, rng.randint(0, 3)), action_items=items)
    elif roll < 0.7 and unreceived:
        feedback = rng.choice(unreceived)
        recipient = mentor if feedback["recipient_id"] == mentor.id else mentee
        ledger.receive_feedback(recipient, rid, UUID(feedback["feedback_id"]), usefulness=rng.randint(1, 5))
    elif roll < 0.9 and open_actions:
        action = rng.choice(open_actions)
        owner = mentor if action["owner_id"] == mentor.id else mentee
        ledger.complete_action(rng.choice([owner, COORDINATOR]), rid, UUID(action["action_id"]))
    elif roll < 0.92:
        ledger.hold_check_in(rng.choice([mentor, mentee]), rid, held_on=state["started_at"].date(),
                             minutes=rng.randint(10, 90))
    elif roll < 0.93:
        concern = ledger.raise_concern(rng.choice([mentor, mentee]), rid, content="private")
        if rng.random() < 0.5:
            ledger.resolve_concern(COORDINATOR, rid, UUID(concern.body["concern_id"]), note="seen")
    elif roll < 0.95:
        (ledger.resume_relationship if state["status"] == "paused" else ledger.pause_relationship)(COORDINATOR, rid)
    elif roll < 0.97:
        ledger.end_relationship(COORDINATOR, rid)


def _due(rng: random.Random) -> str | None:
    if rng.random() < 0.3:
        return None
    return (date(2026, 1, 1) + timedelta(days=rng.randint(0, 120))).isoformat()
