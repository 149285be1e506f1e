"""Pages for the people in a program, rendered by the same app: sign in with a token, then see and do what the
API lets that token see and do — through the same ledger use cases and queries, so the permissions are the
API's own.

A token is exchanged for a session cookie (HttpOnly, SameSite=Strict; Secure with ``SECURE_COOKIES``) that
holds the token's public prefix and its hash, never the token: every request checks the token is still live,
so revocation and erasure end a session at once. Every form carries the session's CSRF token.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import queue
import re
import secrets
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from typing import Any
from uuid import UUID

from flask import (
    Blueprint,
    Response,
    current_app,
    g,
    redirect,
    render_template,
    request,
    session,
    stream_with_context,
    url_for,
)
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException

from api.pages import charts
from api.reads import keep_views_current
from api.schemas.relationships import CompletionSchema, GiveFeedbackSchema, LifecycleSchema, ReceiptSchema
from domain import errors
from domain.personal import PLACEHOLDER
from domain.principal import AUDITOR, COORDINATOR, Principal
from domain.registry import EVENT_NAMES
from projections.audit import AuditFilter
from projections.health import figures as hf
from projections.health import score as hs
from projections.index import IndexFilter

blp = Blueprint("pages", __name__, url_prefix="/app", template_folder="templates", static_folder="static",
                static_url_path="/static")
PREFIX = "/app"
PART_NAMES = {"balance": "balance (one side gives most feedback)", "closure": "closure (feedback not acknowledged)",
              "follow_through": "follow-through (actions not done)", "cadence": "cadence (no recent contact)",
              "responsiveness": "responsiveness (slow acknowledgements)", "overdue_penalty": "overdue actions"}
WEEKS = 12


class PageSessions(SecureCookieSessionInterface):
    """Sessions for the pages only: elsewhere (the API) a request starts with an empty session that is never
    saved, without reading a cookie or building a signer for it."""

    def open_session(self, app: Any, request: Any) -> SecureCookieSession | None:
        if request.path != PREFIX and not request.path.startswith(PREFIX + "/"):
            return self.session_class()
        return super().open_session(app, request)


def install(app: Any) -> None:
    """The pages, their session cookie and their CSRF check."""
    app.session_interface = PageSessions()
    app.secret_key = hmac.new(app.extensions["ledger"].signing_key, b"mentorship-ledger pages session",
                              hashlib.sha256).digest()
    app.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Strict", SESSION_COOKIE_PATH=PREFIX,
                      SESSION_COOKIE_SECURE=bool(app.config.get("SECURE_COOKIES")),
                      SESSION_COOKIE_NAME="ledger_session", PERMANENT_SESSION_LIFETIME=timedelta(hours=12))
    app.register_blueprint(blp)
    answer_in_json = app.error_handler_spec[None][None].get(HTTPException)

    def http_error(error: HTTPException) -> Any:
        """Errors under /app are pages too (an unknown path, a body too large); elsewhere problem+json."""
        if request.path.startswith(PREFIX + "/") and not request.path.startswith(PREFIX + "/static/"):
            return page_error(error.code or 500, error.description or "")
        return answer_in_json(error) if answer_in_json else error

    app.register_error_handler(HTTPException, http_error)


# -- services ---------------------------------------------------------------------------------------


def ledger() -> Any:
    return current_app.extensions["ledger"]


def queries() -> Any:
    return current_app.extensions["queries"]


def me() -> Principal:
    return g.page_principal


# -- session and CSRF ---------------------------------------------------------------------------------


@blp.before_request
def signed_in() -> Any:
    ledger().refresh()
    if request.endpoint in ("pages.static",):
        return None
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    if request.method == "POST":
        sent = request.form.get("csrf_token", "")
        if not hmac.compare_digest(sent, session["csrf"]):
            return page_error(400, "This form has expired. Go back, reload the page and try again.")
    if request.endpoint == "pages.sign_in":
        return None
    key, tokens = session.get("token"), current_app.extensions["tokens"]
    principal = tokens.by_session_key(*key) if key else None
    if principal is not None and tokens.session_ended(session.get("sid", "")):
        principal = None
    if principal is None:
        session.pop("token", None)
        if request.method == "GET":
            return redirect(url_for("pages.sign_in", next=request.full_path if request.args else request.path))
        return page_error(401, "Your session has ended: sign in again.")
    g.page_principal = principal
    return None


@blp.after_request
def page_headers(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


@blp.app_context_processor
def page_context() -> dict[str, Any]:
    return {"csrf_token": session.get("csrf", ""), "principal": getattr(g, "page_principal", None),
            "status_colours": charts.STATUS_COLOURS}


@blp.route("/sign-in", methods=["GET", "POST"])
def sign_in() -> Any:
    """Exchange a token for a session."""
    if request.method == "GET":
        return render_template("pages/sign_in.html", next=_local(request.args.get("next")))
    key = current_app.extensions["tokens"].session_key(request.form.get("token", "").strip())
    if key is None:
        return render_template("pages/sign_in.html", error="That token is not valid (or was revoked).",
                               next=_local(request.form.get("next"))), 401
    session.clear()
    session.permanent = True
    session.update(token=list(key), csrf=secrets.token_urlsafe(32), sid=secrets.token_urlsafe(18))
    return redirect(_local(request.form.get("next")) or url_for("pages.home"))


@blp.route("/sign-out", methods=["POST"])
def sign_out() -> Any:
    if session.get("sid"):  # a copy of this cookie must not sign anyone in again
        current_app.extensions["tokens"].end_session(
            session["sid"], datetime.now(timezone.utc) - current_app.config["PERMANENT_SESSION_LIFETIME"])
    session.clear()
    return redirect(url_for("pages.sign_in"))


LOCAL_PATH = re.compile(r"/app/[A-Za-z0-9/_.~=&%?-]*")


def _local(target: str | None) -> str | None:
    """Only a path of these pages (plain characters, no control or space) may be returned to after signing in."""
    if target and LOCAL_PATH.fullmatch(target) and "//" not in target:
        return target
    return None


@blp.route("/")
def home() -> Any:
    role = me().role
    if role == COORDINATOR:
        return redirect(url_for("pages.program"))
    if role == AUDITOR:
        return redirect(url_for("pages.audit"))
    return redirect(url_for("pages.mine"))


# -- errors -----------------------------------------------------------------------------------------


@blp.errorhandler(errors.LedgerError)
def ledger_error(error: errors.LedgerError) -> Any:
    from api.errors import status_of

    return page_error(status_of(error), str(error))


def page_error(status: int, message: str) -> Any:
    return render_template("pages/error.html", status=status, message=message), status


# -- coordinator: the program -------------------------------------------------------------------------------


@blp.route("/program")
def program() -> Any:
    """Health by status, worst first with what pulls each down, and the program's last 12 weeks."""
    principal = me()
    keep_views_current()
    programs = sorted({row["program_id"] for row in _all_relationships(principal)})
    program_id = request.args.get("program_id") or None
    if program_id is not None and program_id not in programs:
        program_id = None
    rows, now = queries().health_page(principal, program_id=program_id, status=None, after=None, limit=500)
    counts = Counter(row["status"] for row in rows)
    for row in rows:
        row["reasons"] = reasons(row)
    names = {r["relationship_id"]: r for r in _all_relationships(principal, program_id)}
    weeks = program_weeks(principal, list(names), now)
    return render_template(
        "pages/program.html", rows=rows, counts=counts, statuses=hs.STATUSES, programs=programs,
        program_id=program_id, names=names, now=now, cut=len(rows) == 500,
        weeks_chart=charts.stacked_bars("Relationships by health status, week by week", weeks, hs.STATUSES),
        weeks=weeks)


def reasons(health: dict[str, Any]) -> list[str]:
    """What pulls a score down, most first: the parts that lost at least 3 points, and overdue actions."""
    parts = health.get("score_parts") or {}
    lost = {name: hs.WEIGHTS[name] - value for name, value in parts.items() if name in hs.WEIGHTS}
    if parts.get("overdue_penalty"):
        lost["overdue_penalty"] = -parts["overdue_penalty"]
    return [f"{PART_NAMES[name]}: −{points:.0f}" for name, points in sorted(lost.items(), key=lambda kv: -kv[1])
            if points >= 3]


def program_weeks(principal: Principal, relationship_ids: list[str], now: datetime
                  ) -> list[tuple[str, dict[str, int]]]:
    """Health status counts at the end of each of the last 12 weeks, replayed from the events (as of then)."""
    moments = [now - timedelta(weeks=WEEKS - 1 - n) for n in range(WEEKS)]
    columns: list[Counter[str]] = [Counter() for _ in moments]
    for rid in relationship_ids:
        events = list(ledger().events.get(UUID(rid)))
        for n, moment in enumerate(moments):
            before = [e for e in events if e.timestamp <= moment]
            if before:
                columns[n][hs.assess(hf.fold(before), moment)["status"]] += 1
    return [(moment.strftime("%d %b"), dict(counts)) for moment, counts in zip(moments, columns, strict=True)]


def _all_relationships(principal: Principal, program_id: str | None = None) -> list[dict[str, Any]]:
    found, after = [], None
    while True:
        rows = queries().list_relationships(principal, IndexFilter(program_id=program_id), after, 501)
        found += rows[:500]
        if len(rows) <= 500:
            return found
        after = (rows[499]["started_at"], rows[499]["relationship_id"])


# -- a relationship ---------------------------------------------------------------------------------------


@blp.route("/relationships/<uuid:relationship_id>")
def relationship(relationship_id: UUID) -> Any:
    """The timeline, with a slider through its versions; balance, actions, and what the caller may do."""
    keep_views_current()
    principal = me()
    current = ledger().get_relationship(principal, relationship_id)
    version = _version(current["version"])
    events, _ = ledger().list_events(principal, relationship_id, after=0, limit=500)
    return render_template("pages/relationship.html", current=current, version=version, events=events,
                           **_panel(principal, relationship_id, version, current["version"]),
                           kinds=("strength", "improvement", "general"), my_role=_role_in(principal, current),
                           erased=_erased(current), more_events=len(events) == 500)


def _erased(state: dict[str, Any]) -> bool:
    """A participant of this relationship was erased: it takes no new events."""
    return state["mentor_id"].startswith(PLACEHOLDER) or state["mentee_id"].startswith(PLACEHOLDER)


def _closed(state: dict[str, Any]) -> bool:
    return state["status"] == "ended" or _erased(state)


@blp.route("/relationships/<uuid:relationship_id>/panel")
def relationship_panel(relationship_id: UUID) -> Any:
    """The state and health at one version (the slider fetches it)."""
    principal = me()
    current = ledger().get_relationship(principal, relationship_id)
    version = _version(current["version"])
    return render_template("pages/_panel.html", **_panel(principal, relationship_id, version, current["version"]))


def _version(latest: int) -> int:
    try:
        return min(max(int(request.args.get("version", latest)), 1), latest)
    except ValueError:
        return latest


def _panel(principal: Principal, relationship_id: UUID, version: int, latest: int) -> dict[str, Any]:
    state = ledger().get_relationship(principal, relationship_id, version=version)
    health = queries().health(principal, relationship_id, version=version)
    return {"state": state, "health": health, "reasons": reasons(health), "latest": latest,
            "today": health["as_of"].astimezone(timezone.utc).date().isoformat(),  # overdue as of that version
            "balance_chart": charts.balance(health["feedback_given"]["by_mentor"],
                                            health["feedback_given"]["by_mentee"])}


def _role_in(principal: Principal, state: dict[str, Any]) -> str | None:
    if principal.role == COORDINATOR:
        return COORDINATOR
    if principal.id == state["mentor_id"]:
        return "mentor"
    if principal.id == state["mentee_id"]:
        return "mentee"
    return None


def _command(use_case: Any, relationship_id: UUID, *ids: UUID, back: str | None = None, **arguments: Any) -> Any:
    use_case(ledger(), me(), relationship_id, *ids, **arguments)
    keep_views_current()
    return redirect(back or url_for("pages.relationship", relationship_id=relationship_id))


def _loaded(schema: Any, data: dict[str, Any]) -> dict[str, Any] | None:
    try:
        return schema().load(data)
    except ValidationError as error:
        g.form_errors = error.messages
        return None


@blp.route("/relationships/<uuid:relationship_id>/<any(pause, resume, end):change>", methods=["POST"])
def lifecycle(relationship_id: UUID, change: str) -> Any:
    from domain.ledger import MentorshipLedger as L

    body = _loaded(LifecycleSchema, {"reason": request.form.get("reason") or None})
    if body is None:
        return page_error(422, _messages())
    use_case = {"pause": L.pause_relationship, "resume": L.resume_relationship, "end": L.end_relationship}[change]
    return _command(use_case, relationship_id, **body)


@blp.route("/relationships/<uuid:relationship_id>/feedback", methods=["POST"])
def give_feedback(relationship_id: UUID) -> Any:
    from domain.ledger import MentorshipLedger as L

    items = []
    for n in range(3):
        description = (request.form.get(f"action_{n}") or "").strip()
        if description:
            items.append({"description": description, "due_on": request.form.get(f"due_{n}") or None})
    skills = [s.strip() for s in (request.form.get("skills") or "").split(",") if s.strip()]
    body = _loaded(GiveFeedbackSchema, {"content": request.form.get("content", ""),
                                        "kind": request.form.get("kind", ""), "skills": skills,
                                        "action_items": items})
    if body is None:
        return page_error(422, _messages())
    return _command(L.give_feedback, relationship_id, **body)


@blp.route("/relationships/<uuid:relationship_id>/feedback/<uuid:feedback_id>/receipt", methods=["POST"])
def receipt(relationship_id: UUID, feedback_id: UUID) -> Any:
    from domain.ledger import MentorshipLedger as L

    usefulness: Any = request.form.get("usefulness") or None
    if usefulness is not None and re.fullmatch(r"-?[0-9]{1,3}", usefulness):
        usefulness = int(usefulness)  # anything else is left as given, for the schema to refuse (422)
    body = _loaded(ReceiptSchema, {"reflection": request.form.get("reflection") or None, "usefulness": usefulness})
    if body is None:
        return page_error(422, _messages())
    return _command(L.receive_feedback, relationship_id, feedback_id, back=_local(request.form.get("back")), **body)


@blp.route("/relationships/<uuid:relationship_id>/actions/<uuid:action_id>/completion", methods=["POST"])
def completion(relationship_id: UUID, action_id: UUID) -> Any:
    from domain.ledger import MentorshipLedger as L

    body = _loaded(CompletionSchema, {"outcome": request.form.get("outcome") or None})
    if body is None:
        return page_error(422, _messages())
    return _command(L.complete_action, relationship_id, action_id, back=_local(request.form.get("back")), **body)


def _messages() -> str:
    messages = getattr(g, "form_errors", {})
    return "Please correct: " + "; ".join(f"{field.replace('_', ' ')}: {' '.join(map(str, _flat(text)))}"
                                          for field, text in messages.items())


def _flat(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [item for inner in value.values() for item in _flat(inner)]
    if isinstance(value, list):
        return [item for inner in value for item in _flat(inner)]
    return [value]


# -- mentor or mentee ----------------------------------------------------------------------------------------


@blp.route("/me")
def mine() -> Any:
    """My relationships, feedback waiting for my acknowledgement, my open actions, my skills over time."""
    principal = me()
    if not principal.is_participant:
        return redirect(url_for("pages.home"))
    keep_views_current()
    states = [ledger().get_relationship(principal, UUID(row["relationship_id"])) for row in _all_relationships(principal)]
    open_states = [s for s in states if not _closed(s)]
    waiting = [(s, f) for s in open_states for f in s["feedback"]
               if f["recipient_id"] == principal.id and f["received_at"] is None]
    actions = [(s, a) for s in open_states for a in s["actions"]
               if a["owner_id"] == principal.id and a["status"] == "open"]
    growth = queries().growth(principal, principal.id)["skills"] if principal.is_participant else []
    received = [f for s in states for f in s["feedback"] if f["recipient_id"] == principal.id]
    return render_template("pages/me.html", states=states, waiting=waiting, actions=actions, growth=growth,
                           growth_chart=growth_over_time(received), today=ledger().clock().date().isoformat())


def growth_over_time(received: list[dict[str, Any]]) -> str | None:
    """Mentions of my five most named skills, month by month (cumulative), from feedback I received."""
    if not received:
        return None
    counts = Counter(skill.casefold() for f in received for skill in f["skills"])
    top = [skill for skill, _ in counts.most_common(5)]
    months = sorted({_month(f["given_at"]) for f in received})
    series = {skill: [(month, float(sum(1 for f in received if _month(f["given_at"]) <= month
                                        and skill in {s.casefold() for s in f["skills"]})))
                      for month in months] for skill in top}
    return charts.lines("Skills named in feedback to me, cumulative, month by month", series)


def _month(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m")


# -- auditor ----------------------------------------------------------------------------------------------


@blp.route("/audit")
def audit() -> Any:
    """The chain's head, a verify button, the trail with filters, and the exports."""
    principal = me()
    keep_views_current()
    selection = _selection()
    after = int(request.args["after"]) if re.fullmatch(r"[0-9]{1,15}", request.args.get("after", "")) else 0
    entries = queries().audit_page(principal, selection, after, 51)
    return render_template("pages/audit.html", head=queries().audit_head(principal), entries=entries[:50],
                           more=entries[49]["position"] if len(entries) > 50 else None, types=EVENT_NAMES,
                           filters={k: request.args.get(k, "") for k in FILTERS}, query=_filter_query(),
                           warnings=getattr(g, "filter_warnings", []))


FILTERS = ("relationship_id", "program_id", "actor", "type", "since", "until")


def _selection() -> AuditFilter:
    values = {k: (request.args.get(k) or "").strip() or None for k in FILTERS}
    if values["relationship_id"]:
        try:
            values["relationship_id"] = str(UUID(values["relationship_id"]))
        except ValueError:
            _warn("That relationship id is not a UUID: no entry has it")
            values["relationship_id"] = "00000000-0000-0000-0000-000000000000"
    if values["type"] and values["type"] not in EVENT_NAMES:
        _warn(f"“{values['type']}” is not an event type: not applied")
        values["type"] = None
    for bound in ("since", "until"):
        if values[bound]:
            try:
                day = date.fromisoformat(values[bound][:10])
                if bound == "until":  # the day chosen is included: entries before the next one
                    day += timedelta(days=1)
                values[bound] = day.isoformat() + "T00:00:00.000000Z"
            except (ValueError, OverflowError):
                _warn(f"“{bound}” is not a date: not applied")
                values[bound] = None
    return AuditFilter(**values)


def _warn(message: str) -> None:
    g.filter_warnings = [*getattr(g, "filter_warnings", []), message]


def _filter_query() -> str:
    from urllib.parse import urlencode

    return urlencode({k: request.args[k] for k in FILTERS if request.args.get(k)})


@blp.route("/audit/export.<any(csv, ndjson):kind>")
def audit_export(kind: str) -> Any:
    """The filtered trail, whole, as CSV or NDJSON (a download)."""
    from api.audit import _csv, _ndjson

    principal = me()
    keep_views_current()
    entries = queries().audit_stream(principal, _selection())
    body = _csv(entries) if kind == "csv" else _ndjson(entries)
    mimetype = "text/csv" if kind == "csv" else "application/x-ndjson"
    return Response(stream_with_context(body), mimetype=mimetype,
                    headers={"Content-Disposition": f'attachment; filename="audit-trail.{kind}"'})


@blp.route("/audit/verify", methods=["POST"])
def verify() -> Any:
    """Verify the chain (no script: the answer as a page)."""
    principal = me()
    keep_views_current()
    answer = queries().verify_audit(principal)
    return render_template("pages/verified.html", answer=answer)


@blp.route("/audit/verify/progress")
def verify_progress() -> Any:
    """Verify the chain, reporting progress as server-sent events (the page's script shows a progress bar)."""
    principal = me()
    queries().audit_head(principal)  # the application's rule (overseers only), before the stream starts
    keep_views_current()
    app = current_app._get_current_object()  # noqa: SLF001 - the thread needs the app itself
    events: queue.Queue[tuple[str, Any]] = queue.Queue()

    def run() -> None:
        with app.app_context():
            try:
                answer = app.extensions["queries"].verify_audit(
                    principal, progress=lambda checked, position: events.put(("progress", {"checked": checked,
                                                                                          "position": position})))
                events.put(("done", answer))
            except Exception as error:  # noqa: BLE001 - reported to the page, then logged
                app.logger.exception("verification from the pages failed")
                events.put(("failed", {"message": str(error)}))

    threading.Thread(target=run, daemon=True).start()

    def stream() -> Iterator[str]:
        while True:
            kind, data = events.get()
            yield f"event: {kind}\ndata: {json.dumps(data, default=str)}\n\n"
            if kind != "progress":
                return

    return Response(stream(), mimetype="text/event-stream", headers={"X-Accel-Buffering": "no"})
