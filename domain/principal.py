"""Who is asking: authenticated principals and the role they act in."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

COORDINATOR = "coordinator"
AUDITOR = "auditor"
PARTICIPANT = "participant"
ROLES = (COORDINATOR, AUDITOR, PARTICIPANT)

MENTOR = "mentor"
MENTEE = "mentee"


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: a principal id chosen by the program and a role."""

    id: str
    role: str

    @property
    def is_coordinator(self) -> bool:
        return self.role == COORDINATOR

    @property
    def is_auditor(self) -> bool:
        return self.role == AUDITOR

    @property
    def is_participant(self) -> bool:
        return self.role == PARTICIPANT


@dataclass(frozen=True)
class Actor:
    """The principal as it acts inside one relationship: mentor, mentee or coordinator."""

    id: str
    role: str


@dataclass(frozen=True)
class CommandContext:
    """What the edge knows about a command beyond its arguments.

    ``key`` is the caller's Idempotency-Key (or None), ``fingerprint`` a digest
    of what was asked (path and body) so that a reused key with another request
    is recognised, and ``expected_version`` the caller's If-Match (or None).
    """

    key: str | None = None
    fingerprint: str = ""
    expected_version: int | None = None
    asked: Any = None  # the command's arguments, once its use case runs (``domain.commands.Command``)
