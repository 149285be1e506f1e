"""Liveness and readiness, for load balancers and orchestrators. No authentication."""

from __future__ import annotations

from typing import Any

from eventsourcing.persistence import PersistenceError
from flask import current_app

from api.auth import bearer_principal
from api.blueprint import Blueprint
from api.errors import problem
from api.schemas.views import LivenessSchema, ReadinessSchema

NOT_REACHABLE = "The event store is not reachable."

blp = Blueprint("operations", __name__, description="Liveness and readiness, without authentication.")


@blp.route("/healthz", methods=["GET"])
@blp.doc(security=[])
@blp.response(200, LivenessSchema)
def healthz() -> Any:
    """The process is up."""
    return {"status": "ok"}


@blp.route("/readyz", methods=["GET"])
@blp.doc(security=[])
@blp.response(200, ReadinessSchema)
@blp.alt_response(503, response="SERVICE_UNAVAILABLE")
def readyz() -> Any:
    """The store answers. With a coordinator's or auditor's token, also the newest position in the store and
    how far each view lags behind (without one, only the status: positions tell how busy the store is)."""
    try:
        views = current_app.extensions["projections"].positions()  # no retries: fails fast when the store is down
        position = current_app.extensions["ledger"].position()
    except PersistenceError:
        return problem(503, NOT_REACHABLE, headers={"Retry-After": "1"})
    operator = bearer_principal()
    if operator is None or operator.is_participant:
        return {"status": "ready"}
    return {
        "status": "ready",
        "store": current_app.config["STORE_KIND"],
        "position": position,
        "projections": {
            "mode": current_app.config["PROJECTIONS_MODE"],
            "views": {name: {"position": done, "lag": position - done} for name, done in views.items()},
        },
    }
