"""Skills growth: per participant and skill, what feedback to them named, and what they completed."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from projections.base import Item, View
from projections.canonical import stamp
from projections.store import Cursor

COLUMNS = ("skill", "strength_mentions", "improvement_mentions", "general_mentions", "actions_completed",
           "first_mentioned_at", "last_mentioned_at")
KIND_COLUMN = {"strength": "strength_mentions", "improvement": "improvement_mentions", "general": "general_mentions"}


def skill_key(skill: str) -> str:
    """Skills are grouped without regard to case or surrounding space."""
    return " ".join(skill.split()).casefold()


class SkillsGrowthView(View):
    """Mentions of each skill in feedback a participant received, by kind, and actions completed per skill."""

    name = "skills_growth"
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

    def apply(self, cursor: Cursor, items: Sequence[Item]) -> None:
        completed = []
        for item in items:
            kind = type(item.event).__name__
            if kind == "FeedbackGiven":
                self._mentioned(cursor, item.event)
            elif kind == "ActionCompleted":
                completed.append(str(item.event.action_id))
        self._completed(cursor, completed)

    def _mentioned(self, cursor: Cursor, event: Any) -> None:
        skills: dict[str, str] = {}
        for named in event.skills:
            skills.setdefault(skill_key(named), " ".join(named.split()))
        column = KIND_COLUMN[event.kind]
        at = stamp(event.timestamp)
        for key, skill in skills.items():
            cursor.execute(
                f"INSERT INTO {self.table('growth')} VALUES (?, ?, ?, 0, 0, 0, 0, ?, ?) "
                f"ON CONFLICT (participant_id, skill_key) DO UPDATE SET last_mentioned_at = excluded.last_mentioned_at",
                (event.recipient_id, key, skill, at, at))
            cursor.execute(f"UPDATE {self.table('growth')} SET {column} = {column} + 1 "
                           "WHERE participant_id = ? AND skill_key = ?", (event.recipient_id, key))
        cursor.executemany(f"INSERT INTO {self.table('growth_actions')} VALUES (?, ?, ?)",
                           [(str(i["action_id"]), event.recipient_id, json.dumps(sorted(skills)))
                            for i in event.action_items])

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
