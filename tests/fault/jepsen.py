"""A crash-safety harness: concurrent clients, processes killed with SIGKILL, then a reckoning.

Clients send commands, each with its own Idempotency-Key, and retry through
failures with the same key, as a careful client would. Every answer is
recorded: acknowledged (2xx), refused (4xx) or unknown (no answer). Meanwhile
the API server and the projection worker are killed (whole process groups)
and restarted, and PostgreSQL itself may be crashed and restarted. Afterwards
the store is read directly and must hold every acknowledged command exactly
once and no refused one; the views must equal a rebuild from zero; the audit
chain must verify.
"""

from __future__ import annotations

import os
import random
import signal
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from api import create_app
from domain.principal import Principal
from projections.service import VIEW_CLASSES, Projections
from tests.e2e.processes import Server, worker
from tests.projections.test_views import dump

PAIRS = [(f"mentor-{n}", f"mentee-{n}") for n in range(6)]


@dataclass
class Outcomes:
    acknowledged: set[str] = field(default_factory=set)
    refused: set[str] = field(default_factory=set)
    unknown: set[str] = field(default_factory=set)
    statuses: Counter = field(default_factory=Counter)
    during_outage: Counter = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)
    more: threading.Event = field(default_factory=threading.Event)  # set at each final outcome

    def saw(self, status: int | None, outage: bool) -> None:
        """Every answer (or its absence), retries included."""
        with self.lock:
            self.statuses[status] += 1
            if outage:
                self.during_outage[status] += 1

    def unavailable_during_outage(self) -> int:
        """How many times the API said the store was unavailable (503) while it was down."""
        with self.lock:
            return self.during_outage.get(503, 0)

    def record(self, key: str, status: int | None) -> None:
        """The final outcome of a command."""
        with self.lock:
            if status is None or status >= 500:
                self.unknown.add(key)
            elif status >= 400:
                self.refused.add(key)
            else:
                self.acknowledged.add(key)
        self.more.set()


@dataclass
class Known:
    """What clients learned from acknowledged answers, to aim their next commands."""

    relationships: list[dict[str, str]] = field(default_factory=list)
    feedback: list[tuple[str, str, str]] = field(default_factory=list)  # (relationship, feedback, recipient)
    actions: list[tuple[str, str, str]] = field(default_factory=list)   # (relationship, action, owner)
    lock: threading.Lock = field(default_factory=threading.Lock)


class Run:
    """One chaos run against a store (``env`` names it), in ``workdir``."""

    def __init__(self, env: dict[str, str], workdir: Path, seed: int, clients: int = 6) -> None:
        self.env = {**env, "PROJECTIONS_MODE": "worker", "COMMANDS_PER_MINUTE": "0", "POSTGRES_POOL_TIMEOUT": "3",
                    # one deployment, one signing key: the processes it starts and the checks it runs here
                    "LEDGER_SIGNING_KEY": os.environ.get("LEDGER_SIGNING_KEY", ""),
                    "LEDGER_MASTER_KEY": os.environ.get("LEDGER_MASTER_KEY", ""),
                    "POSTGRES_CONNECT_TIMEOUT": "2"}
        self.workdir = workdir
        self.rng = random.Random(seed)
        self.clients = clients
        self.outcomes = Outcomes()
        self.known = Known()
        self.stopping = threading.Event()
        self.outage = threading.Event()
        self.kills = Counter()
        self.server = Server(self.env, workdir / "api.log")
        self.projector = worker(self.env, workdir / "worker.log")
        self.tokens = self._issue_tokens()

    def _issue_tokens(self) -> dict[str, str]:
        app = create_app({"DATABASE_URL": self.env["DATABASE_URL"],
                          "STORE_ENV": {k: v for k, v in self.env.items() if k.startswith("POSTGRES_")}})
        store = app.extensions["tokens"]
        tokens = {"ada": store.issue("ada", "coordinator")}
        for mentor, mentee in PAIRS:
            tokens[mentor] = store.issue(mentor, "participant")
            tokens[mentee] = store.issue(mentee, "participant")
        app.extensions["ledger"].close()
        return tokens

    # -- the run ----------------------------------------------------------------------

    def run(self, chaos: Callable[[Run], None], acknowledged: int = 30, deadline: float = 300.0) -> None:
        """Load and chaos until every planned fault happened and ``acknowledged`` commands were, however slow
        the machine; ``deadline`` seconds at the most (the count assertions then say what was missing)."""
        self.server.start()
        self.projector.start()
        threads = [threading.Thread(target=self._client, args=(n,)) for n in range(self.clients)]
        for thread in threads:
            thread.start()
        chaos_thread = threading.Thread(target=chaos, args=(self,))
        chaos_thread.start()
        chaos_thread.join()  # every planned fault happens
        give_up = time.monotonic() + deadline
        while len(self.outcomes.acknowledged) < acknowledged and time.monotonic() < give_up:
            self.outcomes.more.wait(1.0)
            self.outcomes.more.clear()
        self.stopping.set()
        for thread in threads:
            thread.join()

    def finish(self) -> dict[str, Any]:
        """Stop the processes, let a fresh worker catch up, and check everything."""
        self.server.stop()
        self.projector.stop()
        app = create_app({"DATABASE_URL": self.env["DATABASE_URL"], "PROJECTIONS_MODE": "worker",
                          "STORE_ENV": {k: v for k, v in self.env.items() if k.startswith("POSTGRES_")}})
        ledger, projections = app.extensions["ledger"], app.extensions["projections"]
        try:
            projections.catch_up()
            return self._reckon(ledger, projections, app.extensions["queries"])
        finally:
            ledger.close()

    def _reckon(self, ledger: Any, projections: Projections, queries: Any) -> dict[str, Any]:
        stored = Counter()
        after = 0
        while True:
            notifications = ledger.recorder.select_notifications(start=after, limit=1000, inclusive_of_start=False)
            for notification in notifications:
                event = ledger.mapper.to_domain_event(notification)
                key = getattr(event, "command_id", None)
                if key is not None and hasattr(event, "actor_role"):
                    stored[key] += 1
            if len(notifications) < 1000:
                break
            after = notifications[-1].id
        live = dump(projections)
        for name in VIEW_CLASSES:
            projections.rebuild(name)
        verified = queries.verify_audit(Principal("audrey", "auditor"))
        return {
            "acknowledged": len(self.outcomes.acknowledged),
            "refused": len(self.outcomes.refused),
            "unknown": len(self.outcomes.unknown),
            # (events keep a client's key as a keyed digest: each key is looked for as the store keeps it)
            "lost_acknowledged": sorted(k for k in self.outcomes.acknowledged if stored[ledger.stored_key(k)] == 0),
            "duplicated": sorted(k for k, n in stored.items() if n > 1),
            "refused_but_stored": sorted(k for k in self.outcomes.refused if stored[ledger.stored_key(k)]),
            "views_equal_rebuild": dump(projections) == live,
            "audit_verified": verified["ok"],
            "statuses": dict(self.outcomes.statuses),
            "statuses_during_outage": dict(self.outcomes.during_outage),
            "kills": dict(self.kills),
            "events": sum(stored.values()),
        }

    # -- clients --------------------------------------------------------------------------

    def _client(self, number: int) -> None:
        rng = random.Random(self.rng.random() + number)
        session = requests.Session()
        while not self.stopping.is_set():
            command = self._next_command(rng)
            if command is None:
                continue
            who, path, body, learn = command
            key = str(uuid.uuid4())
            status, answer = self._send(session, who, path, body, key)
            self.outcomes.record(key, status)
            if status is not None and 200 <= status < 300:
                learn(answer)

    def _send(self, session: requests.Session, who: str, path: str, body: dict,
              key: str) -> tuple[int | None, Any]:
        """Send, and retry with the same key while the answer is unknown (a few times)."""
        status, answer = None, None
        for attempt in range(4):
            try:
                response = session.post(f"{self.server.url}{path}", json=body, timeout=10, headers={
                    "Authorization": f"Bearer {self.tokens[who]}", "Idempotency-Key": key})
                status, answer = response.status_code, response.json()
                self.outcomes.saw(status, self.outage.is_set())
                if status < 500:
                    return status, answer
            except (requests.RequestException, ValueError):
                status, answer = None, None
                self.outcomes.saw(None, self.outage.is_set())
            time.sleep(0.2 * (attempt + 1))
        return status, answer

    def _next_command(self, rng: random.Random):
        with self.known.lock:
            relationships = list(self.known.relationships)
            feedback = list(self.known.feedback)
            actions = list(self.known.actions)
        roll = rng.random()
        if roll < 0.15 or not relationships:
            mentor, mentee = rng.choice(PAIRS)
            return ("ada", "/v1/relationships", {"program_id": "chaos", "mentor_id": mentor, "mentee_id": mentee},
                    self._learn_relationship)
        if roll < 0.6:
            rel = rng.choice(relationships)
            giver = rng.choice([rel["mentor_id"], rel["mentee_id"]])
            recipient = rel["mentee_id"] if giver == rel["mentor_id"] else rel["mentor_id"]
            body = {"content": "note", "kind": "general", "skills": ["focus"],
                    "action_items": [{"description": "step"}] if rng.random() < 0.5 else []}
            return giver, f"/v1/relationships/{rel['id']}/feedback", body, \
                lambda answer: self._learn_feedback(rel["id"], recipient, answer)
        if roll < 0.8 and feedback:
            rid, fid, recipient = rng.choice(feedback)
            return recipient, f"/v1/relationships/{rid}/feedback/{fid}/receipt", {"usefulness": 4}, lambda a: None
        if actions:
            rid, aid, owner = rng.choice(actions)
            return owner, f"/v1/relationships/{rid}/actions/{aid}/completion", {}, lambda a: None
        return None

    def _learn_relationship(self, answer: dict) -> None:
        with self.known.lock:
            self.known.relationships.append(answer)

    def _learn_feedback(self, rid: str, recipient: str, answer: dict) -> None:
        with self.known.lock:
            self.known.feedback.append((rid, answer["feedback_id"], recipient))
            for item in answer["action_items"]:
                self.known.actions.append((rid, item["action_id"], recipient))

    # -- chaos ----------------------------------------------------------------------------

    def kill_and_restart(self, name: str) -> None:
        process = {"api": self.server, "worker": self.projector}[name]
        process.stop(signal.SIGKILL)
        self.kills[name] += 1
        time.sleep(self.rng.uniform(0.1, 0.5))
        process.start()


def kill_processes(kills_each: int) -> Callable[[Run], None]:
    """Kill the API server and the worker, each ``kills_each`` times, at random moments."""

    def chaos(run: Run) -> None:
        plan = ["api"] * kills_each + ["worker"] * kills_each
        run.rng.shuffle(plan)
        for name in plan:
            time.sleep(run.rng.uniform(0.5, 1.5))
            run.kill_and_restart(name)

    return chaos


def restart_postgres(cluster: Any, times: int, crash: bool = False, unavailable: int = 0) -> Callable[[Run], None]:
    """Stop PostgreSQL (or crash it) in the middle of the load, and start it again.

    With ``unavailable``, it stays down until the API has answered 503 that many times meanwhile
    (30 s at the most), so what clients see during an outage is seen however slow the machine.
    """

    def chaos(run: Run) -> None:
        for _ in range(times):
            time.sleep(run.rng.uniform(1.0, 2.0))
            run.outage.set()
            cluster.crash() if crash else cluster.stop("fast")
            run.kills["postgres"] += 1
            time.sleep(run.rng.uniform(1.0, 2.0))
            give_up = time.monotonic() + 30
            while run.outcomes.unavailable_during_outage() < unavailable and time.monotonic() < give_up:
                time.sleep(0.05)  # polling a count, bounded: not a race
            cluster.start()
            time.sleep(1.0)  # answers that were in flight when it came back still count as during the outage
            run.outage.clear()

    return chaos


def together(*plans: Callable[[Run], None]) -> Callable[[Run], None]:
    def chaos(run: Run) -> None:
        threads = [threading.Thread(target=plan, args=(run,)) for plan in plans]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    return chaos
