"""One table from exception class to HTTP status, one handler that answers with RFC 9457
problem details. Nothing raw from the database or a traceback reaches a client."""

from __future__ import annotations

import logging
import os
import re
import tempfile

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException

from gis.errors import (Conflict, DatabaseUnavailable, Forbidden, GridgisError, InputError,
                        InvalidRows, NotFound, NotStored)

log = logging.getLogger("gridgis.api")

STATUS = {
    InputError: (422, "Invalid input"),
    InvalidRows: (422, "Invalid rows"),
    NotFound: (404, "Not found"),
    Forbidden: (403, "Forbidden"),
    Conflict: (409, "Conflict"),
    DatabaseUnavailable: (503, "Database unavailable"),
    NotStored: (503, "Not stored"),
    GridgisError: (400, "Bad request"),
}


def _temp_roots() -> list[str]:
    roots = {tempfile.gettempdir(), "/tmp", "/var/tmp"}
    return sorted({os.path.realpath(r) for r in roots} | roots, key=len, reverse=True)


# A path under a temporary directory, up to its last component (kept: the user's file name).
_TEMP_PATH = re.compile("(?:" + "|".join(re.escape(r) for r in _temp_roots())
                        + r")/(?:[^\s'\"/]+/)*")


def hide_paths(text):
    """Uploads are read from server temp folders; their paths never reach a client (they
    tell an attacker the layout of the machine): ``/tmp/gg-upload-x1/a.csv`` -> ``a.csv``."""
    return _TEMP_PATH.sub("", text) if isinstance(text, str) else text


def problem(status: int, title: str, detail: str | None = None, headers: dict | None = None,
            **extra) -> JSONResponse:
    body = {"type": "about:blank", "status": status, "title": title}
    if detail:
        body["detail"] = hide_paths(detail)
    body.update({k: hide_paths(v) for k, v in extra.items() if v is not None})
    for err in body.get("errors") or []:
        if isinstance(err, dict):
            err.update({k: hide_paths(v) for k, v in err.items()})
    return JSONResponse(body, status_code=status, media_type="application/problem+json",
                        headers=headers)


def _status_for(exc: GridgisError) -> tuple[int, str]:
    if type(exc).__name__ == "Unauthorized":  # defined in api.auth, which imports us
        return 401, "Unauthorized"
    if type(exc).__name__ == "TooManyAttempts":
        return 429, "Too many requests"
    if type(exc).__name__ == "TooManyStreams":  # api.live: every event stream slot taken
        return 503, "Service unavailable"
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 400, "Bad request"


async def _domain(request: Request, exc: GridgisError):
    status, title = _status_for(exc)
    extra = {}
    if isinstance(exc, InputError):
        extra = {"field": exc.problem.field, "row": exc.problem.row}
    elif isinstance(exc, InvalidRows):
        extra = {"errors": [p.as_dict() for p in exc.problems[:100]]}
    elif isinstance(exc, Conflict):
        extra = {"current_version": exc.current_version, "allowed": exc.allowed or None}
    response = problem(status, title, str(exc), **extra)
    if getattr(exc, "retry_after", None):
        response.headers["Retry-After"] = str(exc.retry_after)
    return response


def _loc(err: dict) -> str:
    parts = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path")]
    return ".".join(parts) or "body"


async def _validation(request: Request, exc: RequestValidationError):
    errors = [{"field": _loc(e), "reason": e.get("msg")} for e in exc.errors()]
    first = errors[0] if errors else {"field": None, "reason": "invalid request"}
    return problem(422, "Invalid input", f"{first['field']}: {first['reason']}",
                   field=first["field"], errors=errors)


async def _http(request: Request, exc: StarletteHTTPException):
    # keep the exception's headers: a 405 names the allowed methods (Allow), a 401 its scheme
    headers = dict(getattr(exc, "headers", None) or {})
    if exc.status_code == 405:
        headers["Allow"] = _allowed(request) or headers.get("Allow", "")
    return problem(exc.status_code, _title(exc.status_code), str(exc.detail) if exc.detail else None,
                   headers=headers or None)


def _allowed(request: Request) -> str:
    """Every method of every route on this path: the router names only the first route
    that matched the path (GET /cameras/{id}, not its PATCH and DELETE siblings)."""
    from api.openapi import api_routes

    path = request.url.path
    methods = {m for route in api_routes(request.app.routes)
               if route.path_regex.match(path) for m in route.methods}
    return ", ".join(sorted(methods))


def _title(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


async def _integrity(request: Request, exc: IntegrityError):
    log.warning("integrity error on %s: %s", request.url.path, exc.orig)
    return problem(409, "Conflict", "the change conflicts with existing data")


async def _data(request: Request, exc: DataError):
    """PostgreSQL refused a value (out of range, malformed): the client's input, so 422;
    the raw message stays in the log."""
    log.warning("data error on %s: %s", request.url.path, exc.orig)
    return problem(422, "Invalid input", "a value is out of range or malformed")


async def _database(request: Request, exc: DBAPIError):
    log.error("database error on %s: %s", request.url.path, exc)
    return problem(503, "Database error", "the database could not complete the request")


async def _unexpected(request: Request, exc: Exception):
    log.exception("unhandled error on %s", request.url.path)
    return problem(500, "Internal server error", "an unexpected error occurred; it was logged")


def install(app: FastAPI) -> None:
    app.add_exception_handler(GridgisError, _domain)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(IntegrityError, _integrity)
    app.add_exception_handler(DataError, _data)
    app.add_exception_handler(DBAPIError, _database)
    app.add_exception_handler(Exception, _unexpected)
