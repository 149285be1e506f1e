"""The audit trail: entries in store order, exports, the chain head, and verification."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from typing import Any

from flask import Response, request, stream_with_context
from flask_smorest import abort

from api.auth import current_principal
from api.blueprint import Blueprint
from api.commands import admitted, overseers_only
from api.reads import fresh, page, queries, reached
from api.schemas.common import FreshnessQuerySchema, page_of
from api.schemas.views import (
    AuditEntrySchema,
    AuditExportQuerySchema,
    AuditQuerySchema,
    HeadSchema,
    VerifyQuerySchema,
    VerifySchema,
)
from domain.principal import Principal
from projections.audit import COLUMNS, AuditFilter
from projections.canonical import fixed_stamp

blp = Blueprint("audit", __name__, url_prefix="/v1",
                description="A tamper-evident record of every event: who did what, when, chained by SHA-256.")

NDJSON, CSV = "application/x-ndjson", "text/csv"


def _trail_reader(principal: Principal) -> None:
    queries().check_audit_reader(principal, request.args.get("relationship_id"))


@blp.route("/audit", methods=["GET"])
@admitted(_trail_reader)
@blp.arguments(AuditQuerySchema, location="query")
@blp.response(200, page_of(AuditEntrySchema))
@blp.alt_response(200, description="The whole selection as NDJSON (Accept: application/x-ndjson) or CSV "
                  "(Accept: text/csv).", content_type=NDJSON, success=True)
def audit_trail(query: dict[str, Any]) -> Any:
    """Audit entries in store order, filtered; participants name one of their relationships."""
    fresh(query, "audit_trail")
    after = query.pop("cursor", {"after": 0})["after"]
    limit = query.pop("limit")
    selection = _selection(query)
    export = request.accept_mimetypes.best_match(["application/json", NDJSON, CSV], default="application/json")
    if export in (NDJSON, CSV):
        entries = queries().audit_stream(current_principal(), selection)
        return Response(stream_with_context(_ndjson(entries) if export == NDJSON else _csv(entries)),
                        mimetype=export)
    items = queries().audit_page(current_principal(), selection, after, limit + 1)
    return page(items, limit, lambda last: {"after": last["position"]})


def _export(query: dict[str, Any], mimetype: str) -> Response:
    fresh(query, "audit_trail")
    entries = queries().audit_stream(current_principal(), _selection(query))
    return Response(stream_with_context(_ndjson(entries) if mimetype == NDJSON else _csv(entries)), mimetype=mimetype)


def _export_doc(mimetype: str, what: str) -> dict[str, Any]:
    return {"responses": {"200": {"description": f"The whole selection, {what}, streamed.",
                                  "content": {mimetype: {"schema": {"type": "string"}}}}}}


@blp.route("/audit/export.csv", methods=["GET"])
@admitted(_trail_reader)
@blp.arguments(AuditExportQuerySchema, location="query")
@blp.doc(**_export_doc(CSV, "as CSV (a header row, then one row per entry)"))
def audit_export_csv(query: dict[str, Any]) -> Any:
    """The audit trail's selection as CSV (the same as GET /v1/audit with Accept: text/csv)."""
    return _export(query, CSV)


@blp.route("/audit/export.ndjson", methods=["GET"])
@admitted(_trail_reader)
@blp.arguments(AuditExportQuerySchema, location="query")
@blp.doc(**_export_doc(NDJSON, "as NDJSON (one JSON entry per line)"))
def audit_export_ndjson(query: dict[str, Any]) -> Any:
    """The audit trail's selection as NDJSON (the same as GET /v1/audit with Accept: application/x-ndjson)."""
    return _export(query, NDJSON)


@blp.route("/audit/head", methods=["GET"])
@overseers_only
@blp.arguments(FreshnessQuerySchema, location="query")
@blp.response(200, HeadSchema)
def audit_head(query: dict[str, Any]) -> Any:
    """The newest entry's position and hash (coordinators, auditors): keep it to prove nothing changed since."""
    fresh(query, "audit_trail")
    return queries().audit_head(current_principal())


@blp.route("/audit/verify", methods=["GET"])
@overseers_only
@blp.arguments(VerifyQuerySchema, location="query")
@blp.response(200, VerifySchema)
def audit_verify(query: dict[str, Any]) -> Any:
    """Recompute the chain from the stored events and compare it with the trail (coordinators, auditors)."""
    fresh(query, "audit_trail")
    anchor = (query["head_position"], query["head_hash"]) if "head_position" in query else None
    if anchor is not None:  # a head not read from /audit/head is a mistake, not tampering
        reached(anchor[0], "head_position", "use a head read from /v1/audit/head")
        if queries().holds_no_entry(anchor[0]):
            abort(422, messages={"head_position": ["This position holds a record outside the audit trail, never "
                                                   "an entry; use a head read from /v1/audit/head."]})
    return queries().verify_audit(current_principal(), anchor)


def _selection(query: dict[str, Any]) -> AuditFilter:
    return AuditFilter(
        relationship_id=str(query["relationship_id"]) if "relationship_id" in query else None,
        program_id=query.get("program_id"), actor=query.get("actor"), type=query.get("type"),
        since=fixed_stamp(query["since"]) if "since" in query else None,
        until=fixed_stamp(query["until"]) if "until" in query else None,
    )


def _ndjson(entries: Iterator[dict[str, Any]]) -> Iterator[str]:
    for entry in entries:
        yield json.dumps(entry, separators=(",", ":")) + "\n"


def _csv(entries: Iterator[dict[str, Any]]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_NONNUMERIC)
    writer.writerow(COLUMNS)
    for entry in entries:
        writer.writerow([_safe(entry[column]) for column in COLUMNS])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()


# A formula starts with one of these, at the start of a cell or after anything a spreadsheet may split a cell
# on when it imports text (comma, semicolon, tab, pipe, line breaks), possibly after spaces (OWASP CSV injection).
FORMULA_START = re.compile(r"(^|[,;\t|\r\n])([ ]*)(?=[=+\-@\t\r])")


def _safe(value: Any) -> Any:
    """Text cells cannot start a formula: an apostrophe goes before every formula start; numbers stay numbers."""
    if isinstance(value, str):
        return FORMULA_START.sub(r"\1\2'", value)
    return value
