"""Errors raised by the mentorship domain, in the words of the domain.

Each error belongs to one family; the HTTP edge maps families to statuses
(not found 404, not permitted 403, invalid 422, version mismatch 412,
rule broken 409) in one place.
"""


class LedgerError(Exception):
    """Base of every error the mentorship ledger raises on purpose; ``field`` names the input at fault."""

    title = "Ledger error"
    # Seconds after which the same request may well succeed (contention, not the request): answered as
    # Retry-After. None: sending it again unchanged would be refused again.
    retry_after: int | None = None

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class NotFoundError(LedgerError):
    """Something named by the caller does not exist, or is not visible to them."""

    title = "Not found"


class RelationshipNotFoundError(NotFoundError):
    """No relationship with that id is visible to the caller."""

    title = "Relationship not found"


class FeedbackNotFoundError(NotFoundError):
    """The relationship holds no feedback with that id."""

    title = "Feedback not found"


class ActionNotFoundError(NotFoundError):
    """The relationship holds no action item with that id."""

    title = "Action item not found"


class VersionNotFoundError(NotFoundError):
    """The relationship had no state at the version or time asked for."""

    title = "No such version"


class NotPermittedError(LedgerError):
    """The caller is known but may not do this."""

    title = "Not permitted"


class InvalidCommandError(LedgerError):
    """The command is malformed in a way only the domain can see."""

    title = "Invalid command"


class SameParticipantError(InvalidCommandError):
    """A relationship pairs two different people: mentor and mentee must differ."""

    title = "Mentor and mentee must differ"


class IdempotencyKeyReusedError(InvalidCommandError):
    """The caller used an Idempotency-Key before for a different command."""

    title = "Idempotency-Key reused"


class VersionMismatchError(LedgerError):
    """The caller expected another version of the relationship than the current one."""

    title = "Version mismatch"


class RuleBrokenError(LedgerError):
    """The command breaks a rule of the relationship in its current state."""

    title = "Rule of the relationship broken"


class RecordInconsistentError(RuleBrokenError):
    """Derived state (an idempotency record) disagrees with the events; the service will not act on it."""

    title = "Record inconsistent"


class RelationshipEndedError(RuleBrokenError):
    """Nothing new happens in a relationship once it has ended."""

    title = "Relationship has ended"


class RelationshipPausedError(RuleBrokenError):
    """No new feedback is given while a relationship is paused."""

    title = "Relationship is paused"


class RelationshipAlreadyPausedError(RuleBrokenError):
    """A paused relationship cannot be paused again."""

    title = "Relationship is already paused"


class RelationshipNotPausedError(RuleBrokenError):
    """Only a paused relationship can be resumed."""

    title = "Relationship is not paused"


class FeedbackAlreadyReceivedError(RuleBrokenError):
    """Feedback is acknowledged once, by its recipient."""

    title = "Feedback already received"


class ActionAlreadyCompletedError(RuleBrokenError):
    """An action item is completed once."""

    title = "Action item already completed"


class ConcernNotFoundError(NotFoundError):
    """The relationship holds no concern with that id that the caller may see."""

    title = "Concern not found"


class ConcernAlreadyResolvedError(RuleBrokenError):
    """A concern is resolved once."""

    title = "Concern already resolved"


class ConcurrentCommandsError(RuleBrokenError):
    """Other commands kept changing the relationship while this one was retried."""

    title = "Too many concurrent commands"
    retry_after = 1


class ErasedParticipantError(RuleBrokenError):
    """A relationship whose participant was erased takes no new events (its texts can no longer be kept)."""

    title = "A participant was erased"


class StoreNotMigratedError(RuleBrokenError):
    """Erasure needs the store under the privacy scheme; a store written before it must be migrated first."""

    title = "Store not under the privacy scheme"


class ParticipantErasedError(LedgerError):
    """The participant asked about was erased: nothing about them is left to show."""

    title = "Participant erased"
