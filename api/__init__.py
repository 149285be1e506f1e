"""The HTTP API: an app factory that wires the ledger, auth, errors and blueprints together."""

from __future__ import annotations

import os
from http import HTTPStatus
from typing import Any

from flask import Flask
from flask_smorest import Api
from flask_smorest.utils import prepare_response
from werkzeug.exceptions import MethodNotAllowed

from api import auth, docs, http, pages
from api.cli import audit_cli, demo_cli, privacy_cli, projections_cli, tokens_cli
from api.errors import PROBLEM_JSON, STORE_UNAVAILABLE, problem, register_error_handlers
from api.limits import CommandLimiter
from api.openapi import RETRY_AFTER_OF, ContractHeaders
from api.schemas.common import ProblemSchema
from api.settings import from_environment
from domain.ledger import MentorshipLedger, utc_now
from persistence.config import store_env
from persistence.green import is_green
from persistence.group_commit import group_commits
from persistence.stores import store_kind, token_store_for
from projections.privacy import Privacy
from projections.queries import LedgerQueries
from projections.service import Projections

API_SETTINGS = {
    "API_TITLE": "Mentorship Ledger",
    "API_VERSION": "1",
    "OPENAPI_VERSION": "3.0.3",
    "OPENAPI_URL_PREFIX": "/",
    "OPENAPI_JSON_PATH": "openapi.json",
}


class LedgerApi(Api):
    """flask-smorest's Api, with problem+json errors: handled by ours, documented as such."""

    ERROR_SCHEMA = ProblemSchema
    # Each operation's "default" error answer is written out by api.openapi (generators do not follow refs).
    DEFAULT_ERROR_RESPONSE_NAME = None

    def _register_error_handlers(self) -> None:
        register_error_handlers(self._app)

    def _register_responses(self) -> None:
        """Every error response is documented as application/problem+json."""
        for status in HTTPStatus:
            response: dict[str, Any] = {"description": status.phrase}
            if status >= 400:
                response["schema"] = self.ERROR_SCHEMA
            if str(status.value) in RETRY_AFTER_OF:
                response["headers"] = {"Retry-After": RETRY_AFTER_OF[str(status.value)]}
            prepare_response(response, self.spec, PROBLEM_JSON)
            self.spec.components.response(status.name, response, lazy=True)


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the service: settings from the environment, then ``config`` on top."""
    app = Flask("api", instance_relative_config=True)
    app.config.update(API_SETTINGS)
    app.config.update(from_environment())
    app.config.update(config or {})
    app.config["MAX_CONTENT_LENGTH"] = app.config["MAX_BODY_BYTES"]
    os.makedirs(app.instance_path, exist_ok=True)

    env = store_env(app.config["DATABASE_URL"], app.instance_path)
    env["SNAPSHOT_INTERVAL"] = str(app.config["SNAPSHOT_INTERVAL"])
    env["INSTANCE_PATH"] = app.instance_path
    env.update(app.config.get("STORE_ENV") or {})
    ledger = MentorshipLedger(env=env, clock=app.config.get("CLOCK") or utc_now)
    try:
        _build(app, ledger)
    except BaseException:
        ledger.close()  # its connections, now (a server's worker loads again every second while the store is away)
        raise
    return app


def _build(app: Flask, ledger: MentorshipLedger) -> None:
    """The service around its ledger."""
    app.extensions["ledger"] = ledger
    app.extensions["tokens"] = token_store_for(ledger)
    app.config["STORE_KIND"] = store_kind(ledger)
    if is_green() and app.config["STORE_KIND"] == "sqlite":  # the production server's gevent workers
        app.extensions["group_commit"] = group_commits(ledger.recorder)  # commands arriving together: one commit
    projections = Projections(ledger, batch_size=app.config["PROJECTIONS_BATCH_SIZE"])
    app.extensions["projections"] = projections
    app.extensions["queries"] = LedgerQueries(ledger, projections)
    app.extensions["privacy"] = Privacy(ledger, app.extensions["queries"], app.extensions["tokens"])
    app.extensions["privacy"].finish_pending_soon()  # an erasure a stopped process left midway
    app.extensions["limiter"] = CommandLimiter(app.config["COMMANDS_PER_MINUTE"], app.config["COMMAND_BURST"])
    if not app.config["PROJECTIONS_MODE"]:
        app.config["PROJECTIONS_MODE"] = "inline" if app.config["STORE_KIND"] == "sqlite" else "worker"

    app.teardown_request(lambda _: (ledger.forget_checked(), projections.note_live(None)))
    http.install(app)
    app.before_request(auth.authenticate)
    register_api(app)
    pages.install(app)
    app.register_blueprint(docs.blp)
    app.cli.add_command(tokens_cli)
    app.cli.add_command(projections_cli)
    app.cli.add_command(audit_cli)
    app.cli.add_command(privacy_cli)
    app.cli.add_command(demo_cli)


def create_unavailable_app() -> Flask:
    """What a server answers while the event store does not answer and the service could not be built
    (``api.serving``): liveness (``/healthz``) 200, every other request 503 problem+json with Retry-After, as the
    service answers while its store is down; the same security headers, HEAD, OPTIONS and 405 as the service."""
    from api.operations import NOT_REACHABLE

    app = Flask("api.unavailable")
    app.config.update(from_environment())
    app.config["MAX_CONTENT_LENGTH"] = app.config["MAX_BODY_BYTES"]
    http.install(app)
    register_error_handlers(app)

    @app.get("/healthz")
    def healthz() -> Any:
        return {"status": "ok"}

    @app.route("/", defaults={"path": ""}, methods=list(UNAVAILABLE_METHODS))
    @app.route("/<path:path>", methods=list(UNAVAILABLE_METHODS))
    def unavailable(path: str) -> Any:
        if path == "healthz":
            raise MethodNotAllowed(valid_methods=["GET", "HEAD", "OPTIONS"])
        return problem(503, NOT_REACHABLE if path == "readyz" else STORE_UNAVAILABLE, headers={"Retry-After": "1"})

    return app


UNAVAILABLE_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def register_api(app: Flask) -> None:
    from api import (
        audit,
        concerns,
        feedback,
        growth,
        health,
        operations,
        privacy,
        relationships,
    )

    api = LedgerApi(app, spec_kwargs={"security": [{"bearerAuth": []}], "extra_plugins": [ContractHeaders()]})
    api.spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer"})
    api.register_blueprint(relationships.blp)
    api.register_blueprint(feedback.blp)
    api.register_blueprint(concerns.blp)
    api.register_blueprint(health.blp)
    api.register_blueprint(growth.blp)
    api.register_blueprint(audit.blp)
    api.register_blueprint(privacy.blp)
    api.register_blueprint(operations.blp)
