"""HTTP plumbing shared by every endpoint: JSON encoding, body checks, security headers."""

from __future__ import annotations

import io
import json
from datetime import date, datetime
from typing import Any
from urllib.parse import unquote_to_bytes
from uuid import UUID

from flask import Flask, Response, current_app, request
from flask.json.provider import DefaultJSONProvider

from api.errors import invalid, problem
from projections.canonical import fixed_stamp

BODY_METHODS = ("POST", "PUT", "PATCH")
PAGE_FORM_FACTOR = 4  # a page's form within its fields' limits is several times larger URL-encoded
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "Cross-Origin-Resource-Policy": "same-origin",
}


def rfc3339(moment: datetime) -> str:
    """A UTC time as RFC 3339 with a Z and microseconds, e.g. 2026-01-15T09:30:00.000000Z."""
    return fixed_stamp(moment)


class LedgerJSONProvider(DefaultJSONProvider):
    """JSON with RFC 3339 UTC times and UUIDs as strings."""

    sort_keys = False

    @staticmethod
    def default(o: Any) -> Any:
        if isinstance(o, datetime):
            return rfc3339(o)
        if isinstance(o, date):
            return o.isoformat()
        if isinstance(o, UUID):
            return str(o)
        return DefaultJSONProvider.default(o)


MAX_REQUEST_LINE = 8190  # bytes of method, target and version: as gunicorn.conf.py's limit_request_line


def check_request_line() -> Response | None:
    """Refuse a request line over the limit (414), whatever server runs the application."""
    target = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI") or request.full_path
    if len(request.method) + len(target) + len(request.environ.get("SERVER_PROTOCOL", "HTTP/1.1")) + 2 \
            > MAX_REQUEST_LINE:
        return problem(414, f"The request line is longer than {MAX_REQUEST_LINE} bytes.")
    environ = request.environ
    try:  # werkzeug would read percent-encoded bytes that are not UTF-8 as U+FFFD (a different id)
        if "RAW_URI" in environ or "REQUEST_URI" in environ:  # as the client sent it
            unquote_to_bytes((environ.get("RAW_URI") or environ["REQUEST_URI"]).encode("latin-1")).decode("utf-8")
        else:  # WSGI's path: the bytes read as Latin-1
            environ.get("PATH_INFO", "").encode("latin-1").decode("utf-8")
            unquote_to_bytes(environ.get("QUERY_STRING", "")).decode("utf-8")
    except UnicodeError:
        return problem(400, "The request target is not valid UTF-8 (percent-encode UTF-8 bytes only).")
    return None


def check_headers() -> Response | None:
    """Refuse requests whose headers together exceed the limit (431)."""
    limit = current_app.config["MAX_HEADER_BYTES"]
    size = sum(len(name) + len(value) + 4 for name, value in request.headers.items())
    if size > limit:
        return problem(431, f"The request headers are larger than the limit of {limit} bytes.")
    return None


def check_body() -> Response | None:
    """Refuse an unreadable (400), oversized (413) or non-JSON (415) body before anything else."""
    if request.method not in BODY_METHODS:
        return None
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    if request.path.startswith("/app/"):  # the pages' forms (urlencoded, so larger), checked by their own schemas
        request.max_content_length = limit * PAGE_FORM_FACTOR
        if request.content_length is not None and request.content_length > limit * PAGE_FORM_FACTOR:
            return problem(413, f"The form is larger than the limit of {limit * PAGE_FORM_FACTOR} bytes.")
        return None
    if request.content_length is not None and request.content_length > limit:
        return problem(413, f"The body is larger than the limit of {limit} bytes.")
    data = request.get_data(cache=True)
    if not data:
        return None
    if request.mimetype != "application/json":  # not any "+json" type: the body is read as this one only
        return problem(415, "Send the body as application/json.")
    if request.headers.get("Content-Encoding", "identity").strip().lower() != "identity":
        return problem(415, "Send the body uncompressed: no Content-Encoding is read.")
    try:
        document = json.loads(data.decode("utf-8"), parse_constant=not_json, object_pairs_hook=one_each)
    except TwiceNamedError as error:
        return problem(400, f"The body is not valid JSON for this service: {error}")
    except (UnicodeDecodeError, ValueError, RecursionError):
        return problem(400, "The body is not valid JSON.")
    if b"\\u" in data:  # a lone surrogate can only arrive as a \u escape
        where = unencodable(document)
        if where is not None:
            return invalid({where: ["Not valid Unicode text: it holds a lone surrogate (\\ud800-\\udfff)."]})
    return None


class TwiceNamedError(ValueError):
    """A JSON object naming one member twice."""


def one_each(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object whose members have distinct names (RFC 8259 leaves duplicates to each parser: one that
    reads the first and one that reads the last would each see another request, I-JSON forbids them)."""
    document = dict(pairs)
    if len(document) != len(pairs):
        seen: set[str] = set()
        twice = next(name for name, _ in pairs if name in seen or seen.add(name))  # type: ignore[func-returns-value]
        raise TwiceNamedError(f"the name {json.dumps(twice)} appears twice in one object.")
    return document


def not_json(constant: str) -> Any:
    """``NaN``, ``Infinity`` and ``-Infinity``: Python's parser reads them, JSON (RFC 8259) has no such values."""
    raise ValueError(f"{constant} is not JSON")


def unencodable(value: Any, path: str = "") -> str | None:
    """The path (``skills.0``) of the first key or string in a JSON document that UTF-8 cannot encode."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return path or "_schema"
        return None
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, inner in items:
        inner_path = f"{path}.{key}" if path else str(key)
        if isinstance(key, str) and unencodable(key) is not None:
            return path or "_schema"
        found = unencodable(inner, inner_path)
        if found is not None:
            return found
    return None


class WholeBodies:
    """WSGI middleware: a body framed without a length (chunked) is read whole, up to the body limit, before the
    application sees it; one byte more is a 413 and the application never runs. Werkzeug would cut such a body
    at the limit and hand the first part on as if it were all."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.wsgi_app = app.wsgi_app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        framed_by_server = environ.get("wsgi.input_terminated")  # chunked: the server knows where it ends
        if framed_by_server and environ.get("REQUEST_METHOD") in BODY_METHODS and not environ.get("CONTENT_LENGTH"):
            limit = self.app.config["MAX_CONTENT_LENGTH"]
            stream, chunks, size = environ["wsgi.input"], [], 0
            try:
                while size <= limit:
                    chunk = stream.read(min(65536, limit + 1 - size))
                    if not chunk:
                        break
                    chunks.append(chunk)
                    size += len(chunk)
            except (OSError, ValueError):  # a malformed chunk (servers raise either)
                with self.app.request_context(environ):
                    response = add_security_headers(problem(400, "The body's chunked framing is malformed.",
                                                            headers={"Connection": "close"}))
                return response(environ, start_response)
            if size > limit:
                with self.app.request_context(environ):
                    response = add_security_headers(
                        problem(413, f"The body is larger than the limit of {limit} bytes.",
                                headers={"Connection": "close"}))
                return response(environ, start_response)
            body = b"".join(chunks)
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
            environ.pop("HTTP_TRANSFER_ENCODING", None)
        return self.wsgi_app(environ, start_response)


# The pages (/app) and the API docs (/docs) load their own scripts, styles and images, and post their own forms.
PAGES_POLICY = ("default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
                "form-action 'self'; frame-ancestors 'none'")
PAGE_PREFIXES = ("/app", "/docs")


def add_security_headers(response: Response) -> Response:
    """Each of these headers the response does not set itself (the names it has are read once: werkzeug's
    ``setdefault`` scans every header for each one)."""
    path = request.path
    wanted = list(SECURITY_HEADERS.items())
    if path.startswith(PAGE_PREFIXES):
        wanted.insert(0, ("Content-Security-Policy", PAGES_POLICY))
    if path.startswith("/v1"):
        wanted.append(("Cache-Control", "no-store"))
    headers = response.headers
    present = {name.lower() for name in headers.keys()}  # noqa: SIM118 - Headers iterates (name, value) pairs
    for name, value in wanted:
        if name.lower() not in present:
            headers.add(name, value)
            present.add(name.lower())
    return response


def options_answer(response: Response) -> Response:
    """An OPTIONS request (no route answers it itself): 204 and Allow, not an empty 200 "text/html"."""
    if request.method == "OPTIONS" and response.status_code == 200 and not response.get_data():
        response.status_code = 204
        response.headers.pop("Content-Type", None)
    return response


def install(app: Flask) -> None:
    app.json = LedgerJSONProvider(app)
    app.url_map.merge_slashes = False  # "/v1//relationships" is no route (404 problem), not a 308 with HTML
    app.after_request(options_answer)
    app.before_request(check_request_line)
    app.before_request(check_headers)
    app.before_request(check_body)
    app.after_request(add_security_headers)
    app.wsgi_app = WholeBodies(app)  # type: ignore[method-assign]
