"""Skills growth: per participant and skill, what feedback to them named, and what they completed."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from domain.concern import Concern as C
from domain.relationship import MentorshipRelationship as R
from projections.base import Item, View
from projections.canonical import stamp
from projections.store import Cursor

COLUMNS = ("skill", "strength_mentions", "improvement_mentions", "general_mentions", "actions_completed",
           "first_mentioned_at", "last_mentioned_at")
# Where each kind of feedback is counted in a batch's [skill, strength, improvement, general, first, last].
MENTION_COLUMN = {"strength": 1, "improvement": 2, "general": 3}
LAST_MENTIONED = 5


def skill_key(skill: str) -> str:
    """Skills are grouped without regard to case or surrounding space."""
    return " ".join(skill.split()).casefold()


class SkillsGrowthView(View):
    """Mentions of each skill in feedback a participant received, by kind, and actions completed per skill."""

    name = "skills_growth"
    IGNORED = frozenset({R.RelationshipStarted, R.FeedbackReceived, R.RelationshipPaused, R.RelationshipResumed,
                         R.RelationshipEnded, R.CheckInHeld, R.ParticipantErased, C.ConcernRaised,
                         C.ConcernResolved})
    TABLES = {
        "growth": (
            "participant_id TEXT NOT NULL, skill_key TEXT NOT NULL, skill TEXT NOT NULL, "
            "strength_mentions INTEGER NOT NULL, improvement_mentions INTEGER NOT NULL, "
            "general_mentions INTEGER NOT NULL, actions_completed INTEGER NOT NULL, "
            "first_mentioned_at TEXT NOT NULL, last_mentioned_at TEXT NOT NULL, "
            "PRIMARY KEY (participant_id, skill_key)"
        ),
        "growth_actions": "action_id TEXT PRIMARY KEY, participant_id TEXT NOT NULL, skill_keys TEXT NOT NULL",
    }

    @staticmethod
    def handled() -> set[type]:
        return {R.FeedbackGiven, R.ActionCompleted}

    def apply(self, cursor: Cursor, items: Sequence[Item]) -> None:
        """A batch as one upsert per (participant, skill) named in it, then the completions."""
        mentions: dict[tuple[str, str], list[Any]] = {}
        actions: list[tuple[str, str, str]] = []
        completed = []
        for item in items:
            if isinstance(item.event, R.FeedbackGiven):
                actions.extend(self._mentioned(item.event, mentions))
            elif isinstance(item.event, R.ActionCompleted):
                completed.append(str(item.event.action_id))
        growth = self.table("growth")
        cursor.executemany(
            f"INSERT INTO {growth} AS g VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?) ON CONFLICT (participant_id, skill_key) "
            "DO UPDATE SET strength_mentions = g.strength_mentions + excluded.strength_mentions, "
            "improvement_mentions = g.improvement_mentions + excluded.improvement_mentions, "
            "general_mentions = g.general_mentions + excluded.general_mentions, "
            "last_mentioned_at = excluded.last_mentioned_at",
            [(participant, key, *counts) for (participant, key), counts in mentions.items()])
        cursor.executemany(f"INSERT INTO {self.table('growth_actions')} VALUES (?, ?, ?)", actions)
        self._completed(cursor, completed)

    @staticmethod
    def _mentioned(event: Any, mentions: dict[tuple[str, str], list[Any]]) -> list[tuple[str, str, str]]:
        """Count the skills this feedback names into ``mentions``; its action items, with their skills."""
        skills: dict[str, str] = {}
        for named in event.skills:
            skills.setdefault(skill_key(named), " ".join(named.split()))
        column = MENTION_COLUMN[event.kind]
        at = stamp(event.timestamp)
        for key, skill in skills.items():
            counts = mentions.setdefault((event.recipient_id, key), [skill, 0, 0, 0, at, at])
            counts[column] += 1
            counts[LAST_MENTIONED] = at
        keys = json.dumps(sorted(skills))
        return [(str(i["action_id"]), event.recipient_id, keys) for i in event.action_items]

    def _completed(self, cursor: Cursor, action_ids: list[str]) -> None:
        """Credit the skills of the actions completed in this batch (counts commute: one read for all)."""
        if not action_ids:
            return
        marks = ", ".join("?" for _ in action_ids)
        cursor.execute(f"SELECT participant_id, skill_keys FROM {self.table('growth_actions')} "
                       f"WHERE action_id IN ({marks})", action_ids)
        credits = [(participant, key) for participant, keys in cursor.fetchall() for key in json.loads(keys)]
        cursor.executemany(
            f"UPDATE {self.table('growth')} SET actions_completed = actions_completed + 1 "
            "WHERE participant_id = ? AND skill_key = ?", credits)

    def skills_of(self, cursor: Cursor, participant_id: str) -> list[dict[str, Any]]:
        cursor.execute(f"SELECT {', '.join(COLUMNS)} FROM {self.table('growth')} WHERE participant_id = ? "
                       "ORDER BY skill_key", (participant_id,))
        return [dict(zip(COLUMNS, row, strict=True)) for row in cursor.fetchall()]
