"""Data for benchmarks, made quickly: relationships built in memory and saved in large batches."""

from __future__ import annotations

import random
import secrets
import tempfile
import uuid
from datetime import datetime, timedelta, timezone

import psycopg2

from domain.ledger import MentorshipLedger
from domain.events import Act
from domain.relationship import MentorshipRelationship
from persistence.config import store_env

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/mentorship_ledger_test"


class Store:
    """A fresh SQLite file or a fresh PostgreSQL schema; ``env`` builds a ledger on it."""

    def __init__(self, kind: str, pg_url: str = DEFAULT_PG) -> None:
        self.kind = kind
        self.pg_url = pg_url
        self.tmp = tempfile.mkdtemp(prefix="ledger-bench-")
        # One deployment, one set of keys: the ledger in this process and the servers and workers it starts.
        self.keys = {"LEDGER_SIGNING_KEY": secrets.token_hex(32), "LEDGER_MASTER_KEY": secrets.token_hex(32)}
        self.schema = f"bench_{uuid.uuid4().hex[:10]}"
        if kind == "postgres":
            self._admin(f'CREATE SCHEMA "{self.schema}"')
            self.database_url = pg_url
            self.extra = {"POSTGRES_SCHEMA": self.schema}
        else:
            self.database_url = f"sqlite:///{self.tmp}/ledger.sqlite3"
            self.extra = {}

    def env(self, **more: str) -> dict[str, str]:
        return {**store_env(self.database_url, self.tmp), "INSTANCE_PATH": self.tmp, **self.keys, **self.extra, **more}

    def process_env(self) -> dict[str, str]:
        # Synthetic load sends each relationship many commands a second: the flood limit (api/limits.py) is off.
        return {"DATABASE_URL": self.database_url, "COMMANDS_PER_MINUTE": "0", **self.keys, **self.extra}

    def ledger(self, **more: str) -> MentorshipLedger:
        return MentorshipLedger(env=self.env(**more))

    def drop(self) -> None:
        if self.kind == "postgres":
            self._admin(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')

    def _admin(self, sql: str) -> None:
        conn = psycopg2.connect(self.pg_url)
        conn.autocommit = True
        with conn.cursor() as cursor:
            cursor.execute(sql)
        conn.close()


def relationship(rng: random.Random, n: int, events: int, start: datetime) -> MentorshipRelationship:
    """A relationship with ``events`` events: feedback both ways, receipts, completions."""
    mentor, mentee = f"mentor-{n % 5000}", f"mentee-{n}"
    at = start
    rel = MentorshipRelationship.start(relationship_id=uuid.uuid4(), program_id=f"program-{n % 20}",
                                       mentor_id=mentor, mentee_id=mentee, goals=["grow"],
                                       by=Act("ada", "coordinator", at))
    pending_feedback: list[tuple[uuid.UUID, str]] = []
    open_actions: list[tuple[uuid.UUID, str]] = []
    while rel.version < events:
        at += timedelta(hours=rng.uniform(1, 72))
        roll = rng.random()
        if roll < 0.2 and pending_feedback:
            feedback_id, recipient = pending_feedback.pop(0)
            rel.receive_feedback(feedback_id=feedback_id, reflection="useful", usefulness=rng.randint(1, 5),
                                 by=Act(recipient, rel.role_of(recipient), at))
        elif roll < 0.3 and open_actions:
            action_id, owner = open_actions.pop(0)
            rel.complete_action(action_id=action_id, outcome="done", by=Act(owner, rel.role_of(owner), at))
        else:
            giver = rng.choice([mentor, mentee])
            recipient = mentee if giver == mentor else mentor
            items = [{"action_id": uuid.uuid4(), "description": "next step",
                      "due_on": (at + timedelta(days=14)).date().isoformat()} for _ in range(rng.randint(0, 1))]
            feedback_id = uuid.uuid4()
            rel.give_feedback(feedback_id=feedback_id, content="Clear and specific; keep going." * 3,
                              kind=rng.choice(["strength", "improvement", "general"]),
                              skills=rng.sample(["presenting", "design", "listening", "planning"], 2),
                              action_items=items, by=Act(giver, rel.role_of(giver), at))
            pending_feedback.append((feedback_id, recipient))
            open_actions += [(item["action_id"], recipient) for item in items]
    return rel


def populate(ledger: MentorshipLedger, relationships: int, events_each: int, seed: int = 1,
             batch_events: int = 2000) -> list[uuid.UUID]:
    """Save ``relationships`` relationships of ``events_each`` events, a few thousand events per write."""
    rng = random.Random(seed)
    start = datetime.now(timezone.utc) - timedelta(days=365)
    ids, batch, size = [], [], 0
    for n in range(relationships):
        rel = relationship(rng, n, events_each, start + timedelta(minutes=n))
        ids.append(rel.id)
        batch.append(rel)
        size += len(rel.pending_events)
        if size >= batch_events:
            ledger.save(*batch)
            batch, size = [], 0
    if batch:
        ledger.save(*batch)
    return ids
