"""Stateful property test: random commands by random principals against the ledger and a model of it.

After every step: every past version replays exactly as it was observed;
refused commands changed nothing. At the end, the views fed the same events
equal what the model says.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from uuid import UUID, uuid4

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, initialize, invariant, precondition, rule

from domain import errors
from domain.principal import CommandContext, Principal
from projections.audit import AuditFilter
from projections.growth import skill_key
from projections.index import IndexFilter
from projections.service import Projections
from tests import pg
from tests.conftest import Store
from tests.support import open_ledger

PEOPLE = ["ann", "bob", "cat"]
PRINCIPALS = [Principal("ada", "coordinator"), Principal("audrey", "auditor")] + [
    Principal(p, "participant") for p in PEOPLE]
SKILLS = ["Presenting", "presenting", "design", "listening"]
CALLER = st.integers(0, 12)  # see LedgerMachine.caller


@dataclass
class Model:
    """What the ledger should hold for one relationship."""

    mentor: str
    mentee: str
    status: str = "active"
    version: int = 1
    feedback: dict[str, dict] = field(default_factory=dict)
    actions: dict[str, dict] = field(default_factory=dict)


class LedgerMachine(RuleBasedStateMachine):
    store_kind = "sqlite"
    relationships = Bundle("relationships")

    @initialize()
    def open(self):
        self.tmp = tempfile.mkdtemp()
        if self.store_kind == "sqlite":
            self.store = Store("sqlite", f"sqlite:///{self.tmp}/ledger.sqlite3")
        else:
            self.store = Store("postgres", pg.database_url(), {"POSTGRES_SCHEMA": pg.new_schema()})
        self.ledger = open_ledger(self.store, self.tmp, SNAPSHOT_INTERVAL="3")
        self.models: dict[UUID, Model] = {}
        self.seen: dict[tuple[UUID, int], dict] = {}
        self.events = 0

    def teardown(self):
        if hasattr(self, "ledger"):
            try:
                self.check_views()
                if os.environ.get("PROPERTY_DEBUG"):
                    print(f"events {self.events}, relationships {len(self.models)}")
            finally:
                self.ledger.close()
                if self.store.kind == "postgres":
                    pg.drop_schema(self.store.schema)

    # -- commands ---------------------------------------------------------------

    @precondition(lambda self: len(self.models) < 3)
    @rule(target=relationships, who=st.sampled_from(PRINCIPALS[:1] * 4 + PRINCIPALS), pair=st.permutations(PEOPLE))
    def start(self, who, pair):
        mentor, mentee = pair[0], pair[1]
        outcome = self.attempt(lambda: self.ledger.start_relationship(
            who, program_id="p", mentor_id=mentor, mentee_id=mentee, goals=[]), expected=self.may_start(who))
        if outcome is None:
            return uuid4()  # a relationship that does not exist, for later rules to try
        self.models[outcome.relationship_id] = Model(mentor, mentee)
        self.observe(outcome.relationship_id)
        return outcome.relationship_id

    @rule(rid=relationships, who=CALLER, kind=st.sampled_from(["strength", "general"]),
          skills=st.lists(st.sampled_from(SKILLS), max_size=3), items=st.integers(0, 2),
          stale=st.booleans())
    def give(self, rid, who, kind, skills, items, stale):
        model = self.models.get(rid)
        who = self.caller(model, who)
        expected = self.may_give(model, who)
        if stale and model is not None and expected not in (errors.NotFoundError, errors.NotPermittedError):
            expected = errors.VersionMismatchError  # If-Match is checked after access, before the rules
        context = CommandContext(expected_version=(model.version - 1 if stale and model else None))
        outcome = self.attempt(lambda: self.ledger.give_feedback(
            who, rid, content="c", kind=kind, skills=skills,
            action_items=[{"description": "d", "due_on": None}] * items, context=context), expected)
        if outcome is not None:
            recipient = model.mentee if who.id == model.mentor else model.mentor
            model.feedback[outcome.body["feedback_id"]] = {"recipient": recipient, "received": False,
                                                           "kind": kind, "skills": skills}
            for item in outcome.body["action_items"]:
                model.actions[item["action_id"]] = {"owner": recipient, "done": False, "skills": skills}
            self.advance(rid)

    @rule(rid=relationships, who=CALLER, pick=st.integers(0, 3))
    def receive(self, rid, who, pick):
        model = self.models.get(rid)
        who = self.caller(model, who)
        feedback_id = self.pick(model.feedback if model else {}, pick)
        outcome = self.attempt(lambda: self.ledger.receive_feedback(who, rid, UUID(feedback_id), usefulness=3),
                               self.may_receive(model, who, feedback_id))
        if outcome is not None:
            model.feedback[feedback_id]["received"] = True
            self.advance(rid)

    @rule(rid=relationships, who=CALLER, pick=st.integers(0, 3))
    def complete(self, rid, who, pick):
        model = self.models.get(rid)
        who = self.caller(model, who)
        action_id = self.pick(model.actions if model else {}, pick)
        outcome = self.attempt(lambda: self.ledger.complete_action(who, rid, UUID(action_id)),
                               self.may_complete(model, who, action_id))
        if outcome is not None:
            model.actions[action_id]["done"] = True
            self.advance(rid)

    @rule(rid=relationships, who=CALLER, verb=st.sampled_from(["pause", "resume", "end"]))
    def lifecycle(self, rid, who, verb):
        model = self.models.get(rid)
        who = self.caller(model, who)
        method = getattr(self.ledger, f"{verb}_relationship")
        outcome = self.attempt(lambda: method(who, rid), self.may_lifecycle(model, who, verb))
        if outcome is not None:
            model.status = {"pause": "paused", "resume": "active", "end": "ended"}[verb]
            self.advance(rid)

    # -- the rules of API.md, as the model knows them ------------------------------------

    @staticmethod
    def may_start(who):
        return None if who.is_coordinator else errors.NotPermittedError

    def visible(self, model, who):
        return model is not None and (not who.is_participant or who.id in (model.mentor, model.mentee))

    def may_give(self, model, who):
        if not self.visible(model, who):
            return errors.NotFoundError
        if not who.is_participant:
            return errors.NotPermittedError
        return {"ended": errors.RelationshipEndedError, "paused": errors.RelationshipPausedError}.get(model.status)

    def may_receive(self, model, who, feedback_id):
        # An unknown id of what the command acts on is 404 before the role's 403 (contract 1.9: 404 first).
        if not self.visible(model, who):
            return errors.NotFoundError
        if feedback_id not in model.feedback:
            return errors.NotFoundError
        if not who.is_participant:
            return errors.NotPermittedError
        if model.feedback[feedback_id]["recipient"] != who.id:
            return errors.NotPermittedError
        if model.status == "ended":
            return errors.RelationshipEndedError
        return errors.FeedbackAlreadyReceivedError if model.feedback[feedback_id]["received"] else None

    def may_complete(self, model, who, action_id):
        if not self.visible(model, who):
            return errors.NotFoundError
        if action_id not in model.actions:
            return errors.NotFoundError
        if who.is_auditor:
            return errors.NotPermittedError
        if who.is_participant and model.actions[action_id]["owner"] != who.id:
            return errors.NotPermittedError
        if model.status == "ended":
            return errors.RelationshipEndedError
        return errors.ActionAlreadyCompletedError if model.actions[action_id]["done"] else None

    def may_lifecycle(self, model, who, verb):
        if not self.visible(model, who):
            return errors.NotFoundError
        if who.is_auditor or (who.is_participant and verb != "end"):
            return errors.NotPermittedError
        if model.status == "ended":
            return errors.RelationshipEndedError
        if verb == "pause" and model.status == "paused":
            return errors.RelationshipAlreadyPausedError
        if verb == "resume" and model.status != "paused":
            return errors.RelationshipNotPausedError
        return None

    # -- bookkeeping --------------------------------------------------------------------

    def attempt(self, command, expected):
        """Run a command; it must succeed exactly when the model expects, and fail as it expects."""
        before = self.ledger.position()
        try:
            outcome = command()
        except errors.LedgerError as error:
            assert expected is not None and isinstance(error, expected), (error, expected)
            assert self.ledger.position() == before, "a refused command wrote something"
            return None
        assert expected is None, f"expected {expected.__name__}, but the command succeeded"
        return outcome

    @staticmethod
    def caller(model: Model | None, choice: int) -> Principal:
        """Mostly the relationship's own participants, sometimes anyone."""
        if model is None or choice >= 8:
            return PRINCIPALS[choice % len(PRINCIPALS)]
        return Principal(model.mentor if choice < 4 else model.mentee, "participant")

    @staticmethod
    def pick(items: dict, index: int) -> str:
        keys = list(items)
        return keys[index] if index < len(keys) else str(uuid4())

    def advance(self, rid):
        self.models[rid].version += 1
        self.observe(rid)

    def observe(self, rid):
        state = self.ledger.get_relationship(PRINCIPALS[0], rid)
        assert state["version"] == self.models[rid].version
        assert state["status"] == self.models[rid].status
        self.seen[(rid, state["version"])] = state
        self.events += 1

    @invariant()
    def every_past_version_replays_as_observed(self):
        for (rid, version), state in self.seen.items():
            assert self.ledger.get_relationship(PRINCIPALS[1], rid, version=version) == state

    def check_views(self):
        projections = Projections(self.ledger, batch_size=7)
        projections.catch_up()
        index = projections.view("relationship_index")
        health = projections.view("relationship_health")
        growth = projections.view("skills_growth")
        with index.store.transaction(write=False) as cursor:
            rows = {r["relationship_id"]: r for r in index.page(cursor, IndexFilter(), None, 1000)}
            figures = health.figures(cursor, list(rows))
            audit = projections.view("audit_trail").page(cursor, AuditFilter(), 0, 10_000)
            skills = {p: growth.skills_of(cursor, self.ledger.vault.subject_of(p) or "~") for p in PEOPLE}
        assert len(audit) == self.events
        assert set(rows) == {str(rid) for rid in self.models}
        for rid, model in self.models.items():
            row, figure = rows[str(rid)], figures[str(rid)]
            assert (row["status"], row["version"]) == (model.status, model.version)
            given_by_mentor = sum(1 for f in model.feedback.values() if f["recipient"] == model.mentee)
            assert (figure.by_mentor, figure.by_mentee) == (given_by_mentor, len(model.feedback) - given_by_mentor)
            assert figure.acknowledged == sum(f["received"] for f in model.feedback.values())
            assert (figure.actions_total, figure.actions_completed) == (
                len(model.actions), sum(a["done"] for a in model.actions.values()))
        for person in PEOPLE:
            expected: dict[str, int] = {}
            for model in self.models.values():
                for f in model.feedback.values():
                    if f["recipient"] == person:
                        for key in {skill_key(s) for s in f["skills"]}:
                            expected[key] = expected.get(key, 0) + 1
            mentions = {skill_key(s["skill"]): s["strength_mentions"] + s["general_mentions"] for s in skills[person]}
            assert mentions == expected


EXAMPLES = int(os.environ.get("PROPERTY_EXAMPLES", "50"))


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_the_ledger_behaves_like_its_model(kind):
    if kind == "postgres":
        pg.require_postgres()
    machine = type(f"LedgerMachine_{kind}", (LedgerMachine,), {"store_kind": kind})
    runs = EXAMPLES if kind == "sqlite" else max(3, EXAMPLES // 3)
    machine.TestCase.settings = settings(max_examples=runs, stateful_step_count=60, deadline=None,
                                         database=None, derandomize=True,
                                         suppress_health_check=list(HealthCheck))
    machine.TestCase().runTest()
