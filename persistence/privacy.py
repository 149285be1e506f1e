"""Personal data kept so that it can be erased: pseudonymous subjects and per-relationship keys (crypto-shredding).

Events are forever, so personal data cannot live in them in a form that erasure would have to rewrite.
What the store keeps instead (ADR 009):

- every person named by an event (the actor, mentor, mentee, giver, recipient, owner of an action, the
  principal of an idempotency record) as a *subject*: ``~`` and 32 random hex digits. One table,
  ``privacy_subjects``, maps a participant id to its subject; erasure deletes the row, and from then on
  the subject reads as the placeholder ``erased:<those digits>`` everywhere (random, so never derivable
  from the id);
- every free text of a relationship (goals, feedback, action descriptions, reflections, outcomes,
  reasons, check-in notes, concerns) encrypted with AES-256-GCM under the relationship's own key.
  A text in a relationship is written by one of its two participants to the other, or by a coordinator
  about the pair: it concerns both, so erasing either deletes the key, and every text of that
  relationship reads as null with ``redacted: true``;
- the keys wrapped (AES-256-GCM) with the master key, which never enters the database:
  ``LEDGER_MASTER_KEY`` (64 hex digits), else ``master.key`` in the instance folder, made on first use.

The audit chain hashes what is stored (subjects, ciphertext), never the plaintext, so erasure leaves it
intact. Views hold subjects too; the API names them (``Vault.names``) when it answers.

A store written before this scheme (events in plain text) keeps working as it was — in *plain* mode, its
new events written the old way — until ``flask --app wsgi privacy migrate`` copies it into a new store
under the scheme.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import threading
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eventsourcing.persistence import Mapper, StoredEvent
from eventsourcing.utils import get_topic

from domain import errors
from domain.personal import ERASED, PLACEHOLDER, SUBJECT, TEXT_IN_SUMMARY, WHO_IN_SUMMARY
from persistence.pg_datastore import Startup
from persistence.signing import instance_key
from projections.store import ViewStore

log = logging.getLogger(__name__)

LOOKUP = "lookup"  # the scope of the deployment's lookup key (erasure records, clients' keys)
DIGEST = "h:"  # how a stored digest of a client's key starts
MARK = "_private"  # in a stored event's state: 1 when its people are subjects and its texts ciphertext
SEEN_EVENTS = 4_000  # events a process keeps as read (they never change; an erasure clears them)
# Characters of opened texts a process remembers (then it starts again): about 2 MiB held. It spares the
# decryption of texts read again once SEEN_EVENTS no longer holds their events (long relationships).
OPENED_CHARACTERS = 1_000_000
MASTER_KEY_FILE = "master.key"
NOTHING = "~"  # a subject no one has: filters on an unknown participant match nothing
REDACTED_TEXT = "(redacted)"

TABLES = {
    # name: scheme ("1" when the store is under the scheme), anchor_position / anchor_hash (a migrated store's
    # chain starts at the old store's head)
    "privacy_settings": "name TEXT PRIMARY KEY, value TEXT NOT NULL",
    "privacy_generation": "id INTEGER PRIMARY KEY, value BIGINT NOT NULL",
    "privacy_subjects": "participant_id TEXT PRIMARY KEY, subject TEXT NOT NULL UNIQUE",
    "privacy_keys": "scope TEXT PRIMARY KEY, wrapped TEXT NOT NULL, key_id TEXT NOT NULL",
    "privacy_links": "subject TEXT NOT NULL, scope TEXT NOT NULL, PRIMARY KEY (subject, scope)",
    # One row per erasure, found again by a keyed hash of the id (never the id): who, when, why, how many.
    "privacy_erasures": ("mac TEXT PRIMARY KEY, placeholder TEXT NOT NULL, erased_at TEXT NOT NULL, "
                         "relationships INTEGER NOT NULL, erased_by TEXT NOT NULL, reason TEXT"),
    # An erasure begun and not yet finished (the process running it stopped midway): finished by the next
    # process to start. Deleted in the transaction that forgets the id (which privacy_subjects holds until
    # then). Who asked is kept as their subject, never their id (they may be erased meanwhile).
    "privacy_pending_erasures": ("participant_id TEXT PRIMARY KEY, subject TEXT NOT NULL, erased_by TEXT NOT NULL, "
                                 "reason TEXT"),
}


def master_keys(env: Any, instance_path: str | None) -> tuple[bytes, ...]:
    """The master key (first), then ``LEDGER_MASTER_KEY_PREVIOUS`` if set: keys wrapped by it still open."""
    key = instance_key(env, "LEDGER_MASTER_KEY", MASTER_KEY_FILE, instance_path,
                       warning="generated a master key in %s: back it up, and keep it out of the database's "
                               "backups (without it no text can be read; with it, erased text in an old "
                               "backup can)")
    previous = (env.get("LEDGER_MASTER_KEY_PREVIOUS") or "").strip()
    return (key, bytes.fromhex(previous)) if previous else (key,)


def key_id(key: bytes) -> str:
    """A short public name of a master key (which one wrapped a row)."""
    return hashlib.sha256(b"mentorship-ledger master key:" + key).hexdigest()[:12]


class Vault:
    """The subjects, keys and erasures of one store, with what this process has read of them."""

    def __init__(self, store: ViewStore, keys: tuple[bytes, ...]) -> None:
        self.store = store
        self.master = keys[0]
        self.masters = {key_id(key): AESGCM(key) for key in keys}
        self.master_id = key_id(self.master)
        self._lock = threading.Lock()
        self._names: dict[str, str] = {}  # subject hex -> participant id
        self._subjects: dict[str, str] = {}  # participant id -> subject ("~hex")
        # Subjects looked up and not found: erased (a subject's row is stored before any event names it, and
        # only an erasure deletes it), so they stay placeholders; looked up again only after an erasure.
        self._unnamed: set[str] = set()
        # Ids whose erasure is noted as begun and not finished, with the generation they were read at: named
        # by no one (``names``), matched by no filter (``noted``).
        self._noted: tuple[int, frozenset[str]] | None = None
        self._keys: dict[str, AESGCM | None] = {}  # scope -> its cipher (None: erased)
        self._generation = -1
        self._lookup: bytes | None = None
        self._opened: dict[str, tuple[str, Any]] = {}  # ciphertext -> (scope, text), see ``open``
        self._opened_size = 0
        self.seen: dict[tuple[Any, int, str], Any] = {}  # events as callers see them (PrivateMapper)
        self.private = False  # settled by the ledger (``settle``) once it knows whether the store has events
        self.anchor: tuple[int, str] | None = None
        self.create_tables()

    # -- setup ---------------------------------------------------------------------

    def create_tables(self) -> None:
        """The vault's tables (waiting out a PostgreSQL that is still starting, as the recorders do)."""
        Startup.wait_out(self._create_tables)  # (SQLite: another process creating its tables as it starts)

    def _create_tables(self) -> None:
        if self.store.postgres:
            with self.store.datastore.schema_change():  # the schema itself, if the store is new
                pass
        with self.store.transaction(write=True) as cursor:
            if self.store.postgres:
                cursor.execute("SELECT pg_advisory_xact_lock(?)", (self.store.lock_key("privacy schema"),))
            for name, definition in TABLES.items():
                cursor.execute(f"CREATE TABLE IF NOT EXISTS {self.store.table(name)} ({definition})")
            cursor.execute(f"INSERT INTO {self.store.table('privacy_generation')} (id, value) VALUES (1, 0) "
                           "ON CONFLICT (id) DO NOTHING")

    def settle(self, has_events: bool) -> None:
        """Whether this store is under the scheme: a new store is; one written before the scheme is not."""
        with self.store.transaction(write=True) as cursor:
            settings = dict(self._read_settings(cursor))
            if "scheme" not in settings and not has_events:
                cursor.execute(f"INSERT INTO {self.store.table('privacy_settings')} (name, value) VALUES (?, ?) "
                               "ON CONFLICT (name) DO NOTHING", ("scheme", "1"))
                settings = dict(self._read_settings(cursor))
        self.private = settings.get("scheme") == "1"
        if "anchor_position" in settings:
            self.anchor = (int(settings["anchor_position"]), settings["anchor_hash"])

    def _read_settings(self, cursor: Any) -> list[tuple[str, str]]:
        cursor.execute(f"SELECT name, value FROM {self.store.table('privacy_settings')}")
        return cursor.fetchall()

    def set_anchor(self, position: int, head: str) -> None:
        """A migrated store: its chain continues from the old store's head."""
        with self.store.transaction(write=True) as cursor:
            for name, value in (("anchor_position", str(position)), ("anchor_hash", head)):
                cursor.execute(f"INSERT INTO {self.store.table('privacy_settings')} (name, value) VALUES (?, ?)",
                               (name, value))
        self.anchor = (position, head)

    # -- freshness across processes -----------------------------------------------------

    @property
    def generation_sql(self) -> str:
        """A subquery answering the erasure generation (to ride along with a query a request makes anyway)."""
        return f"(SELECT value FROM {self.store.table('privacy_generation')} WHERE id = 1)"

    def refresh(self, generation: int | None = None) -> bool:
        """Forget what this process read if an erasure happened since (any process): True when it did.
        ``generation``: already read (with the request's token), else read now."""
        if generation is None:
            with self.store.transaction(write=False) as cursor:
                cursor.execute(f"SELECT {self.generation_sql}")
                row = cursor.fetchone()
            generation = row[0] if row and row[0] is not None else 0
        if generation == self._generation:
            return False
        with self._lock:
            self._names.clear()
            self._subjects.clear()
            self._unnamed.clear()
            self._keys.clear()
            self._opened.clear()
            self._opened_size = 0
            self.seen.clear()
            self._noted = None
            self._generation = generation
        return True

    def noted(self) -> frozenset[str]:
        """The ids whose erasure is noted as begun and not finished, as of this process's generation (noting
        one changes it: see ``pend``)."""
        generation, noted = self._generation, self._noted
        if noted is None or noted[0] != generation:
            with self.store.transaction(write=False) as cursor:
                cursor.execute(f"SELECT participant_id FROM {self.store.table('privacy_pending_erasures')}")
                noted = (generation, frozenset(row[0] for row in cursor.fetchall()))
            self._noted = noted
        return noted[1]

    # -- people --------------------------------------------------------------------------

    def subject_for(self, participant_id: str) -> str:
        """The subject of a participant id, made the first time it is stored."""
        found = ERASED.match(participant_id)
        if found:
            return "~" + found.group(1)
        subject = self._subjects.get(participant_id)
        if subject is not None:
            return subject
        table = self.store.table("privacy_subjects")
        mac = self.mac(participant_id)
        with self.store.transaction(write=True) as cursor:
            cursor.execute(f"SELECT subject FROM {table} WHERE participant_id = ?", (participant_id,))
            row = cursor.fetchone()
            if row is None:
                cursor.execute(f"SELECT 1 FROM {self.store.table('privacy_erasures')} WHERE mac = ?", (mac,))
                if cursor.fetchone() is not None:  # an erased id is never stored again
                    raise errors.ErasedParticipantError("This participant's personal data was erased.")
                cursor.execute(f"INSERT INTO {table} (participant_id, subject) VALUES (?, ?) "
                               "ON CONFLICT (participant_id) DO NOTHING",
                               (participant_id, "~" + secrets.token_hex(16)))
                cursor.execute(f"SELECT subject FROM {table} WHERE participant_id = ?", (participant_id,))
                row = cursor.fetchone()
            subject = row[0]
        self._remember(participant_id, subject)
        return subject

    def subject_of(self, participant_id: str) -> str | None:
        """The subject a participant id is stored as, without making one: None for an id never stored.

        In a store before the scheme, ids are stored as they are."""
        if not self.private:
            return participant_id
        found = ERASED.match(participant_id)
        if found:
            return "~" + found.group(1)
        subject = self._subjects.get(participant_id)
        if subject is None:
            with self.store.transaction(write=False) as cursor:
                cursor.execute(f"SELECT subject FROM {self.store.table('privacy_subjects')} WHERE participant_id = ?",
                               (participant_id,))
                row = cursor.fetchone()
            if row is None:
                return None
            subject = row[0]
            self._remember(participant_id, subject)
        return subject

    def names(self, references: Iterable[Any]) -> dict[str, str]:
        """The participant id (or placeholder) of each subject among ``references``; other values as they are."""
        wanted = {ref[1:] for ref in references if isinstance(ref, str) and SUBJECT.match(ref)}
        named = {hexa: self._names[hexa] for hexa in wanted if hexa in self._names}
        missing = [hexa for hexa in wanted if hexa not in named and hexa not in self._unnamed]
        for start in range(0, len(missing), 500):
            chunk = missing[start:start + 500]
            with self.store.transaction(write=False) as cursor:
                cursor.execute(f"SELECT participant_id, subject FROM {self.store.table('privacy_subjects')} "
                               f"WHERE subject IN ({', '.join('?' for _ in chunk)})", ["~" + h for h in chunk])
                rows = cursor.fetchall()
            for participant_id, subject in rows:
                self._remember(participant_id, subject)
                named[subject[1:]] = participant_id
            if len(self._unnamed) > 100_000:
                self._unnamed.clear()
            self._unnamed.update(hexa for hexa in chunk if hexa not in named)
        noted = self.noted() if named else frozenset()  # someone whose erasure has begun: their placeholder
        return {"~" + hexa: named[hexa] if hexa in named and named[hexa] not in noted else PLACEHOLDER + hexa
                for hexa in wanted}

    def name(self, reference: Any) -> Any:
        """One reference named (see ``names``)."""
        if isinstance(reference, str) and SUBJECT.match(reference):
            return self.names([reference])[reference]
        return reference

    def _remember(self, participant_id: str, subject: str) -> None:
        if len(self._subjects) > 100_000:
            self._subjects.clear()
            self._names.clear()
        self._subjects[participant_id] = subject
        self._names[subject[1:]] = participant_id

    # -- texts -------------------------------------------------------------------------

    def start_scope(self, scope: str, subjects: Iterable[str]) -> None:
        """A new relationship: its key, and who can erase it."""
        data_key = AESGCM.generate_key(bit_length=256)
        subjects = list(subjects)
        with self.store.transaction(write=True) as cursor:
            # Each participant must still be there (an erasure may have deleted one since it was named);
            # on PostgreSQL the rows are held until this commits, so an erasure waits for it, then sees the link.
            lock = " FOR SHARE" if self.store.postgres else ""
            for subject in subjects:
                cursor.execute(f"SELECT 1 FROM {self.store.table('privacy_subjects')} WHERE subject = ?{lock}",
                               (subject,))
                if cursor.fetchone() is None:
                    raise errors.ErasedParticipantError("This participant's personal data was erased.")
            cursor.execute(f"INSERT INTO {self.store.table('privacy_keys')} (scope, wrapped, key_id) VALUES (?, ?, ?) "
                           "ON CONFLICT (scope) DO NOTHING", (scope, self._wrap(scope, data_key), self.master_id))
            for subject in subjects:
                cursor.execute(f"INSERT INTO {self.store.table('privacy_links')} (subject, scope) VALUES (?, ?) "
                               "ON CONFLICT (subject, scope) DO NOTHING", (subject, scope))
        self._keys.pop(scope, None)

    def _cipher(self, scope: str) -> AESGCM | None:
        if scope in self._keys:
            return self._keys[scope]
        with self.store.transaction(write=False) as cursor:
            cursor.execute(f"SELECT wrapped, key_id FROM {self.store.table('privacy_keys')} WHERE scope = ?", (scope,))
            row = cursor.fetchone()
        cipher = None if row is None else AESGCM(self._unwrap(scope, row[0], row[1]))
        if len(self._keys) > 100_000:
            self._keys.clear()
        self._keys[scope] = cipher
        return cipher

    def seal(self, scope: str, value: Any) -> str:
        """A text (or list of texts) of a relationship, encrypted with its key."""
        cipher = self._cipher(scope)
        if cipher is None:
            raise errors.ErasedParticipantError(
                "A participant of this relationship was erased: it takes no new personal data.")
        nonce = os.urandom(12)
        sealed = cipher.encrypt(nonce, json.dumps(value, ensure_ascii=False).encode(), scope.encode())
        return base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")

    def open(self, scope: str, token: str) -> tuple[Any, bool]:
        """(the text, False), or (None, True) when its key was erased. Texts opened are remembered (bounded)
        until an erasure anywhere, so reading a long relationship again does not decrypt it all again."""
        found = self._opened.get(token)
        if found is not None and found[0] == scope:
            return found[1], False
        cipher = self._cipher(scope)
        if cipher is None:
            return None, True
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        try:
            text = json.loads(cipher.decrypt(raw[:12], raw[12:], scope.encode()))
        except InvalidTag:
            log.error("a text of %s does not decrypt with its key: shown as redacted", scope)
            return None, True
        size = len(token) + (len(text) if isinstance(text, str) else len(raw))
        if self._opened_size + size > OPENED_CHARACTERS:
            self._opened.clear()
            self._opened_size = 0
        self._opened[token] = (scope, text)
        self._opened_size += size
        return text, False

    def _wrap(self, scope: str, data_key: bytes) -> str:
        nonce = os.urandom(12)
        return (nonce + self.masters[self.master_id].encrypt(nonce, data_key, b"scope:" + scope.encode())).hex()

    def _unwrap(self, scope: str, wrapped: str, wrapped_by: str) -> bytes:
        master = self.masters.get(wrapped_by)
        if master is None:
            raise OSError(f"the key of {scope} was wrapped by master key {wrapped_by}, which is not configured "
                          "(set LEDGER_MASTER_KEY_PREVIOUS to it, then run: flask --app wsgi privacy rewrap)")
        raw = bytes.fromhex(wrapped)
        return master.decrypt(raw[:12], raw[12:], b"scope:" + scope.encode())

    def rewrap(self) -> int:
        """Wrap every key with the current master key (after a rotation); the number of keys rewrapped."""
        with self.store.transaction(write=True) as cursor:
            cursor.execute(f"SELECT scope, wrapped, key_id FROM {self.store.table('privacy_keys')} WHERE key_id <> ?",
                           (self.master_id,))
            rows = cursor.fetchall()
            for scope, wrapped, wrapped_by in rows:
                cursor.execute(f"UPDATE {self.store.table('privacy_keys')} SET wrapped = ?, key_id = ? WHERE scope = ?",
                               (self._wrap(scope, self._unwrap(scope, wrapped, wrapped_by)), self.master_id, scope))
        self._keys.clear()
        return len(rows)

    # -- keys a client chose -----------------------------------------------------------

    def stored_key(self, value: str) -> str:
        """A client's value (an Idempotency-Key) as stored under the scheme: a keyed digest, compared, never shown."""
        if not self.private or value.startswith(DIGEST):
            return value
        return DIGEST + hmac.new(self._lookup_key(), b"key:" + value.encode(), hashlib.sha256).hexdigest()

    def _lookup_key(self) -> bytes:
        """A key of the deployment's own, wrapped like the others (so it survives a master key rotation)."""
        if self._lookup is None:
            with self.store.transaction(write=False) as cursor:
                row = self._lookup_row(cursor)
            if row is None:
                with self.store.transaction(write=True) as cursor:
                    cursor.execute(f"INSERT INTO {self.store.table('privacy_keys')} (scope, wrapped, key_id) "
                                   "VALUES (?, ?, ?) ON CONFLICT (scope) DO NOTHING",
                                   (LOOKUP, self._wrap(LOOKUP, os.urandom(32)), self.master_id))
                    row = self._lookup_row(cursor)
            self._lookup = self._unwrap(LOOKUP, row[0], row[1])
        return self._lookup

    def _lookup_row(self, cursor: Any) -> tuple | None:
        cursor.execute(f"SELECT wrapped, key_id FROM {self.store.table('privacy_keys')} WHERE scope = ?", (LOOKUP,))
        return cursor.fetchone()

    # -- summaries -------------------------------------------------------------------------

    def render(self, summary: str, scope: str) -> tuple[str, bool]:
        """A summary written from stored values, with names and texts put in: (text, whether any was redacted)."""
        if "\ue000" not in summary and "\ue002" not in summary:
            return summary, False
        redacted = False
        names = self.names("~" + hexa for hexa in WHO_IN_SUMMARY.findall(summary))

        def text(match: re.Match[str]) -> str:
            nonlocal redacted
            value, gone = self.open(scope, match.group(1))
            if gone:
                redacted = True
                return REDACTED_TEXT
            return short_text(value)

        summary = WHO_IN_SUMMARY.sub(lambda m: names["~" + m.group(1)], summary)
        return TEXT_IN_SUMMARY.sub(text, summary), redacted

    # -- erasure ------------------------------------------------------------------------------

    def mac(self, participant_id: str) -> str:
        """A keyed hash of an id, to find its erasure again (the id itself is never kept); the lookup key is
        the deployment's own, so a master key rotation does not lose it."""
        return hmac.new(self._lookup_key(), b"erasure:" + participant_id.encode(), hashlib.sha256).hexdigest()

    def erasure(self, participant_id: str) -> dict[str, Any] | None:
        """The record of this id's erasure, if it was erased."""
        with self.store.transaction(write=False) as cursor:
            cursor.execute(f"SELECT placeholder, erased_at, relationships, erased_by, reason FROM "
                           f"{self.store.table('privacy_erasures')} WHERE mac = ?", (self.mac(participant_id),))
            row = cursor.fetchone()
        if row is None:
            return None
        return {"placeholder": row[0], "erased_at": row[1], "relationships": row[2], "erased_by": row[3],
                "reason": row[4]}

    def pend(self, participant_id: str, subject: str, *, by: str, reason: str | None, cursor: Any
             ) -> tuple[str, str, str | None] | None:
        """Note an erasure as begun, by the subject ``by`` (in the caller's transaction): the erasure to carry
        out, (subject, by, reason), as first noted if it was and is not finished (asking again carries out the
        first request); None if the id is erased already."""
        erasures, notes = self.store.table("privacy_erasures"), self.store.table("privacy_pending_erasures")
        cursor.execute(f"SELECT 1 FROM {erasures} WHERE mac = ?", (self.mac(participant_id),))
        if cursor.fetchone() is not None:
            return None
        # The subject is stored with the note (if the id had none yet, e.g. only tokens): a relationship started
        # with them at this moment then links their key to the noted subject, which ``forget`` deletes.
        subjects = self.store.table("privacy_subjects")
        cursor.execute(f"INSERT INTO {subjects} (participant_id, subject) VALUES (?, ?) "
                       "ON CONFLICT (participant_id) DO NOTHING", (participant_id, subject))
        cursor.execute(f"SELECT subject FROM {subjects} WHERE participant_id = ?", (participant_id,))
        subject = cursor.fetchone()[0]
        # (PostgreSQL) An erasure committing meanwhile deleted the subject row that insert waited for, and then
        # went in: it is seen now. Nothing of the id stays stored.
        cursor.execute(f"SELECT 1 FROM {erasures} WHERE mac = ?", (self.mac(participant_id),))
        if cursor.fetchone() is not None:
            cursor.execute(f"DELETE FROM {subjects} WHERE participant_id = ?", (participant_id,))
            return None
        note = f"SELECT subject, erased_by, reason FROM {notes} WHERE participant_id = ?"
        cursor.execute(note, (participant_id,))
        row = cursor.fetchone()
        if row is None:
            cursor.execute(f"INSERT INTO {notes} (participant_id, subject, erased_by, reason) VALUES (?, ?, ?, ?) "
                           "ON CONFLICT (participant_id) DO NOTHING", (participant_id, subject, by, reason))
            # Every process forgets what it read (``refresh``): from now on the person reads as their placeholder.
            cursor.execute(f"UPDATE {self.store.table('privacy_generation')} SET value = value + 1 WHERE id = 1")
            cursor.execute(note, (participant_id,))  # (another process's, if it noted the id first)
            row = cursor.fetchone()
            if row is None:  # finished by another process just now
                return None
        if row[0] != subject:
            # A note of 0.3.9 made up a subject for an id that had none, and a relationship's start stored
            # another since: the erasure is carried out as the stored one (the one events name them by).
            cursor.execute(f"UPDATE {notes} SET subject = ? WHERE participant_id = ?", (subject, participant_id))
        return subject, row[1], row[2]

    def being_erased(self, participant_id: str) -> bool:
        """Whether an erasure of this id is noted as begun and not finished."""
        return bool(self.pending(participant_id))

    def erasure_refusal(self, participant_id: str) -> str | None:
        """Why this id may be given nothing new (no token, no relationship), or None: its erasure is being made
        or was made. Noted first: an erasure finishing between the two looks is seen by the second."""
        if self.being_erased(participant_id):
            return "This participant's personal data is being erased."
        if self.erasure(participant_id) is not None:
            return "This participant's personal data was erased."
        return None

    def unpend(self, participant_id: str) -> None:
        """Drop the note of an erasure found finished (the id is erased), and the id's subject row if a late
        note stored it again."""
        with self.store.transaction(write=True) as cursor:
            if not self.store.postgres:
                cursor.execute("PRAGMA secure_delete = ON")
            cursor.execute(f"DELETE FROM {self.store.table('privacy_pending_erasures')} WHERE participant_id = ?",
                           (participant_id,))
            cursor.execute(f"DELETE FROM {self.store.table('privacy_subjects')} WHERE participant_id = ?",
                           (participant_id,))

    def pending(self, participant_id: str | None = None) -> list[tuple[str, str, str, str | None]]:
        """Erasures begun and not finished (of ``participant_id`` only, if given): (participant id, subject, the
        subject of who asked, reason)."""
        where, params = ("WHERE participant_id = ?", (participant_id,)) if participant_id is not None else ("", ())
        with self.store.transaction(write=False) as cursor:
            cursor.execute(f"SELECT participant_id, subject, erased_by, reason FROM "
                           f"{self.store.table('privacy_pending_erasures')} {where} ORDER BY participant_id", params)
            return [tuple(row) for row in cursor.fetchall()]

    def scopes_of(self, subject: str) -> list[str]:
        with self.store.transaction(write=False) as cursor:
            cursor.execute(f"SELECT scope FROM {self.store.table('privacy_links')} WHERE subject = ? ORDER BY scope",
                           (subject,))
            return [row[0] for row in cursor.fetchall()]

    def forget(self, participant_id: str, subject: str, *, by: str, reason: str | None, relationships: int,
               cursor: Any) -> list[str]:
        """Delete the id's subject row, then the keys of every relationship linked to it (also one linked a
        moment ago); keep the record of the erasure. Runs in the caller's transaction (which also deletes the
        tokens). Answers every relationship scope that was linked."""
        erased_at = datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")
        placeholder = PLACEHOLDER + subject[1:]
        # The subject as stored now, should it differ from the noted one (a note made before notes stored it,
        # while a relationship's start stored another): the links of both are forgotten.
        cursor.execute(f"SELECT subject FROM {self.store.table('privacy_subjects')} WHERE participant_id = ?",
                       (participant_id,))
        subjects = sorted({subject, *(row[0] for row in cursor.fetchall())})
        cursor.execute(f"DELETE FROM {self.store.table('privacy_subjects')} WHERE participant_id = ?",
                       (participant_id,))
        cursor.execute(f"DELETE FROM {self.store.table('privacy_pending_erasures')} WHERE participant_id = ?",
                       (participant_id,))
        marks = ", ".join("?" for _ in subjects)
        cursor.execute(f"SELECT DISTINCT scope FROM {self.store.table('privacy_links')} WHERE subject IN ({marks}) "
                       "ORDER BY scope", subjects)
        scopes = [row[0] for row in cursor.fetchall()]
        for start in range(0, len(scopes), 500):
            chunk = scopes[start:start + 500]
            cursor.execute(f"DELETE FROM {self.store.table('privacy_keys')} "
                           f"WHERE scope IN ({', '.join('?' for _ in chunk)})", chunk)
        cursor.execute(f"DELETE FROM {self.store.table('privacy_links')} WHERE subject IN ({marks})", subjects)
        cursor.execute(f"INSERT INTO {self.store.table('privacy_erasures')} "
                       "(mac, placeholder, erased_at, relationships, erased_by, reason) VALUES (?, ?, ?, ?, ?, ?) "
                       "ON CONFLICT (mac) DO NOTHING",
                       (self.mac(participant_id), placeholder, erased_at, relationships, by, reason))
        cursor.execute(f"UPDATE {self.store.table('privacy_generation')} SET value = value + 1 WHERE id = 1")
        return scopes

    def count_relationships(self, participant_id: str, relationships: int) -> None:
        """Correct an erasure's count of relationships (one started while it ran was erased after it)."""
        with self.store.transaction(write=True) as cursor:
            cursor.execute(f"UPDATE {self.store.table('privacy_erasures')} SET relationships = ? WHERE mac = ?",
                           (relationships, self.mac(participant_id)))

    def erasure_by_placeholder(self, placeholder: str) -> dict[str, Any] | None:
        """The record of the erasure a placeholder stands for, if any."""
        with self.store.transaction(write=False) as cursor:
            cursor.execute(f"SELECT placeholder, erased_at, relationships, erased_by, reason FROM "
                           f"{self.store.table('privacy_erasures')} WHERE placeholder = ?", (placeholder,))
            row = cursor.fetchone()
        if row is None:
            return None
        return {"placeholder": row[0], "erased_at": row[1], "relationships": row[2], "erased_by": row[3],
                "reason": row[4]}


def short_text(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    text = " ".join(text.split())
    return text if len(text) <= 80 else text[:79] + "…"


# -- the mapper ------------------------------------------------------------------------------------


class PrivateMapper(Mapper[Any]):
    """The library's mapper, storing people as subjects and texts as ciphertext (see the module).

    ``to_domain_event`` answers events as callers see them: ids named (or placeholders), texts opened (or
    None, with the field's name in the event's ``redacted``). ``as_stored`` answers them with the values
    as stored, for what must not change when someone is erased: the audit chain and the views.
    """

    def __init__(self, vault: Vault, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.vault = vault

    def to_stored_event(self, domain_event: Any) -> StoredEvent:
        cls = type(domain_event)
        state = dict(vars(domain_event))
        state.pop("redacted", None)
        state.pop("as_stored", None)
        originator_id = state.pop("originator_id")
        originator_version = state.pop("originator_version")
        if self.vault.private and _personal(cls):
            self._protect(cls, state, str(state.get("relationship_id") or originator_id))
            state[MARK] = 1
        class_version = getattr(cls, "class_version", 1)
        if class_version > 1:
            state["class_version"] = class_version
        return StoredEvent(originator_id=originator_id, originator_version=originator_version, topic=get_topic(cls),
                           state=self.transcoder.encode(state))

    def _protect(self, cls: type, state: dict[str, Any], scope: str) -> None:
        vault = self.vault
        for name in getattr(cls, "PEOPLE", ()):
            _change(state, name, vault.subject_for)
        if getattr(cls, "STARTS_SCOPE", False):
            vault.start_scope(scope, [state[name] for name in cls.PARTICIPANTS])
        for name in getattr(cls, "TEXTS", ()):
            _change(state, name, lambda value: vault.seal(scope, value))
        for name in getattr(cls, "KEYS", ()):
            _change(state, name, vault.stored_key)

    def as_stored(self, stored_event: StoredEvent) -> Any:
        """The event with its values as stored (subjects, ciphertext)."""
        event = super().to_domain_event(stored_event)
        private = event.__dict__.pop(MARK, None)
        if private:
            event.__dict__["as_stored"] = True
        return event

    def to_domain_event(self, stored_event: StoredEvent) -> Any:
        """The event as callers see it; events are forever, so one read before is answered from memory (until an
        erasure anywhere, when what was named and opened is forgotten)."""
        key = (stored_event.originator_id, stored_event.originator_version, stored_event.topic)
        seen = self.vault.seen
        event = seen.get(key)
        if event is None:
            event = self._revealed(stored_event)
            if len(seen) >= SEEN_EVENTS:
                seen.clear()
            seen[key] = event
        return event

    def _revealed(self, stored_event: StoredEvent) -> Any:
        event = self.as_stored(stored_event)
        state = event.__dict__
        if not state.pop("as_stored", False):
            return event
        cls = type(event)
        vault = self.vault
        refs = [value for name in getattr(cls, "PEOPLE", ()) for value in _values(state, name)]
        names = vault.names(refs)
        for name in getattr(cls, "PEOPLE", ()):
            _change(state, name, lambda ref: names.get(ref, ref))
        scope = str(state.get("relationship_id") or state["originator_id"])
        redacted: list[str] = []
        for name in getattr(cls, "TEXTS", ()):
            field, _, inner = name.partition(".")
            if not inner:
                value = state.get(field)
                if value is not None:
                    state[field], gone = vault.open(scope, value)
                    if gone:
                        redacted.append(field)
            else:
                items = [dict(item) for item in state.get(field) or []]
                for item in items:
                    if item.get(inner) is not None:
                        item[inner], gone = vault.open(scope, item[inner])
                        if gone:
                            item["redacted"] = True
                            if field not in redacted:
                                redacted.append(field)
                state[field] = items
        state["redacted"] = tuple(redacted)
        return event


def _personal(cls: type) -> bool:
    return bool(getattr(cls, "PEOPLE", ()) or getattr(cls, "TEXTS", ()))


def _values(state: dict[str, Any], name: str) -> list[Any]:
    field, _, inner = name.partition(".")
    if not inner:
        return [state.get(field)]
    return [item.get(inner) for item in state.get(field) or []]


def _change(state: dict[str, Any], name: str, how: Any) -> None:
    """Replace the value(s) a field spec names (``field`` or ``list_field.key``); None stays None."""
    field, _, inner = name.partition(".")
    if not inner:
        if state.get(field) is not None:
            state[field] = how(state[field])
        return
    items = []
    for item in state.get(field) or []:
        item = dict(item)
        if item.get(inner) is not None:
            item[inner] = how(item[inner])
        items.append(item)
    state[field] = items


def private_mapper(application: Any) -> PrivateMapper:
    """The ledger's mapper (``domain.ledger.MAPPER``): the deployment's vault, in the ledger's database."""
    env = application.env
    store = ViewStore(application.factory)
    vault = Vault(store, master_keys(env, env.get("INSTANCE_PATH") or _sqlite_folder(env)))
    return PrivateMapper(vault, transcoder=application.construct_transcoder())


def _sqlite_folder(env: Any) -> str | None:
    name = env.get("SQLITE_DBNAME") or ""
    if not name or ":memory:" in name or "mode=memory" in name:
        return None
    return os.path.dirname(os.path.abspath(name))

