"""flask-smorest blueprints whose argument parser refuses unknown query parameters too."""

from __future__ import annotations

import flask_smorest
from marshmallow import RAISE
from webargs.flaskparser import FlaskParser


class StrictParser(FlaskParser):
    """Unknown fields are a 422 wherever they come from (webargs ignores unknown query keys by default)."""

    DEFAULT_UNKNOWN_BY_LOCATION = {location: RAISE for location in FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION}


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = StrictParser()

    def _store_endpoint_docs(self, endpoint, obj, parameters, tags, **options):  # type: ignore[no-untyped-def]
        """Each operation is named by its view function (operationId): generated clients get readable names."""
        super()._store_endpoint_docs(endpoint, obj, parameters, tags, **options)
        for method, doc in self._docs[endpoint].items():
            if method != "parameters" and isinstance(doc, dict):
                doc.setdefault("manual_doc", {}).setdefault("operationId", endpoint)
