"""Privacy: everything held about a participant (export), and erasure of their personal data."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import current_app

from api.auth import current_principal
from api.blueprint import Blueprint
from api.commands import admitted, fingerprint, idempotency_key, no_query
from api.reads import fresh, keep_views_current
from api.schemas.common import FreshnessQuerySchema
from api.schemas.privacy import ErasureAnswerSchema, ErasureSchema, ExportSchema
from domain.idempotency import ERASURE
from domain.identifiers import normalised
from projections.privacy import Privacy

blp = Blueprint("privacy", __name__, url_prefix="/v1",
                description="A participant's personal data: all of it as one document, or erased for good "
                            "(crypto-shredding: the audit chain still verifies).")


def privacy() -> Privacy:
    return current_app.extensions["privacy"]


@blp.route("/participants/<path:participant_id>/export", methods=["GET"])
@admitted(lambda principal, participant_id: Privacy.check_export_reader(principal, normalised(participant_id)))
@blp.arguments(FreshnessQuerySchema, location="query")
@blp.response(200, ExportSchema)
@blp.alt_response(410, response="GONE", description="The participant was erased, or is being erased.")
def export_participant(query: dict[str, Any], participant_id: str) -> Any:
    """Everything held about a participant (the participant themself, or a coordinator; others: 404)."""
    fresh(query, "relationship_index", "skills_growth", "audit_trail")
    return privacy().export(current_principal(), normalised(participant_id))


def erasable(view: Callable[..., Any]) -> Callable[..., Any]:
    """404 (unknown participant) and 403 (not a coordinator) before the body is read (422)."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        privacy().check_erasable(current_principal(), normalised(kwargs["participant_id"]))
        no_query()
        return view(*args, **kwargs)

    return wrapper


@blp.route("/participants/<path:participant_id>/erasure", methods=["POST"])
@erasable
@blp.arguments(ErasureSchema)
@blp.response(200, ErasureAnswerSchema)
@blp.alt_response(409, response="CONFLICT", description="The store was written before the privacy scheme "
                                                         "(store-not-migrated).")
def erase_participant(body: dict[str, Any], participant_id: str) -> Any:
    """Erase a participant's personal data (a coordinator). Asking again answers as the first time; an
    Idempotency-Key used before for another request is 422, as for every POST."""
    principal, key = current_principal(), idempotency_key()
    again = False

    def hold() -> None:  # the key held for this request before anything is erased (422: used for another)
        nonlocal again
        if key is not None:
            again = current_app.extensions["ledger"].hold_key(principal, key, fingerprint(), ERASURE)

    answer = privacy().erase(principal, normalised(participant_id), body.get("reason"), accepted=hold)
    keep_views_current()
    return (answer, {"Idempotent-Replayed": "true"}) if again else answer
