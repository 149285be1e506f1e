"""Liveness and readiness, for load balancers and orchestrators. No authentication."""

from __future__ import annotations

from typing import Any

from eventsourcing.persistence import PersistenceError
from flask import Blueprint, current_app

from api.errors import problem

blp = Blueprint("operations", __name__)


@blp.get("/healthz")
def healthz() -> Any:
    """The process is up."""
    return {"status": "ok"}


@blp.get("/readyz")
def readyz() -> Any:
    """The store answers; reports the newest position in it and how far each view lags behind."""
    try:
        position = current_app.extensions["ledger"].position()
        views = current_app.extensions["projections"].positions()
    except PersistenceError:
        return problem(503, "The event store is not reachable.", headers={"Retry-After": "1"})
    return {
        "status": "ready",
        "store": current_app.config["STORE_KIND"],
        "position": position,
        "projections": {
            "mode": current_app.config["PROJECTIONS_MODE"],
            "views": {name: {"position": done, "lag": position - done} for name, done in views.items()},
        },
    }
