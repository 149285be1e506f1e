"""/docs: the API, interactive (Swagger UI), from the swagger-ui-bundle package's own files — no CDN, so it
works offline. Try calls with a token: "Authorize" takes it as a bearer token."""

from __future__ import annotations

from typing import Any

import swagger_ui_bundle
from flask import Blueprint, render_template, send_from_directory

blp = Blueprint("docs", __name__, url_prefix="/docs", template_folder="pages/templates",
                static_folder="pages/static", static_url_path="/static")


@blp.route("", strict_slashes=False)
def docs() -> Any:
    return render_template("pages/docs.html")


@blp.route("/assets/<path:name>")
def assets(name: str) -> Any:
    """Swagger UI's files, as the package ships them."""
    return send_from_directory(swagger_ui_bundle.swagger_ui_path, name, max_age=86400)
