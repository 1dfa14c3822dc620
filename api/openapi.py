"""The published OpenAPI document, completed in one place after every router is mounted,
so that it states everything a client can get back (schemathesis checks it):

* every error status an operation can answer, derived from the route — 401/403 when it
  needs credentials, 400/413 when it takes a body, 404/422 when it takes parameters,
  409 when it changes something, 429/503 everywhere (the concurrency limit, the database)
  — each as ``application/problem+json`` with the :data:`PROBLEM` schema (RFC 9457),
  replacing FastAPI's ``application/json`` validation error;
* the syntax the domain layer checks for parameters and body fields that recur across
  routers (area codes, windows, statuses, ...), so a value that fits the schema is one the
  service accepts;
* ``x-constraints``: per operation, the fields with a rule JSON Schema cannot state (one
  field compared with another, a file's contents, a code that must name existing data);
  a value breaking one of them is a 422 naming that field;
* the two ways to authenticate (Bearer token, session cookie) and which operations need one.

Routers declare nothing of this; a new route gets it from its own signature."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute

from api.auth import COOKIE, current_principal
from gis.incidents import ACTIONS
from gis.vocabulary import INCIDENT_CATEGORIES, INCIDENT_STATUSES

PROBLEM = {
    "type": "object",
    "description": "RFC 9457 problem details",
    "required": ["type", "status", "title"],
    "properties": {
        "type": {"type": "string"},
        "status": {"type": "integer"},
        "title": {"type": "string"},
        "detail": {"type": "string"},
        "field": {"type": ["string", "null"], "description": "the input at fault"},
        "row": {"type": ["integer", "null"]},
        "errors": {"type": "array", "items": {"type": "object"}},
        "current_version": {"type": ["integer", "null"], "description": "on 409"},
        "allowed": {"type": "array", "items": {"type": "string"}, "description": "on 409"},
    },
}

OPEN311 = "/open311/"
OPEN311_ERRORS = {
    "type": "array", "description": "Open311 GeoReport v2 errors",
    "items": {"type": "object", "required": ["code", "description"],
              "properties": {"code": {"type": "integer"}, "description": {"type": "string"}}}}

WHY = {
    400: "The request body cannot be parsed (malformed JSON or multipart); Open311: any "
         "invalid input",
    401: "No, invalid, expired or revoked credentials",
    403: "The caller's role may not do this, or the target lies outside the caller's area",
    404: "An id, code or area that does not exist or lies outside the caller's area",
    409: "Another change came first (stale version, state that does not allow it)",
    413: "The request body is larger than the configured upload limit",
    422: "Invalid input; `field` names it",
    429: "Too many requests at once (or too many failed logins, or public reports from one "
         "address); retry later (Retry-After)",
    503: "The database is unavailable",
}
UNSAFE = {"post", "put", "patch", "delete"}

# Syntax the domain layer enforces, by parameter or body-field name (patterns are the
# same checks the code does; a value matching one is accepted).
NUM = r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)"
SYNTAX: dict[str, dict[str, Any]] = {
    "area": {"pattern": r"^[0-9]{6}[0-9]*$", "description": "admin or grid code (digits)"},
    "code": {"pattern": r"^[0-9]{12}[0-9]*$"},
    "window": {"pattern": r"^([1-9][0-9]?d|(1|2|3|4|6|8|12|24)h)$",
               "description": "window length: whole days (1d) or hours dividing a day (12h)"},
    "category": {"enum": list(INCIDENT_CATEGORIES)},
    "status": {"pattern": rf"^({'|'.join(INCIDENT_STATUSES)})(,({'|'.join(INCIDENT_STATUSES)}))*$",
               "description": "comma-separated statuses"},
    "bbox": {"pattern": rf"^{NUM}(,{NUM}){{3}}$", "description": "minx,miny,maxx,maxy"},
    "layers": {"pattern": r"^[a-z_]+(,[a-z_]+)*$", "description": "comma-separated ids"},
    "username": {"minLength": 1, "pattern": r"^[^\x00]+$"},  # PostgreSQL text has no NUL
    "password": {"minLength": 1},
    "name": {"minLength": 1, "pattern": r"\S"},
}

INT4, INT8 = 2**31 - 1, 2**63 - 1
INT4_PARAMS = {"min_incidents"}

# body fields only (a query parameter of the same name may mean something else: /audit's
# action filters every kind of audited action)
BODY_SYNTAX = {**SYNTAX, "action": {"enum": list(ACTIONS)}}

# Rules beyond JSON Schema, by field name: listed under x-constraints of every operation
# that takes the field.
CONSTRAINTS = {
    "bbox": "min <= max on both axes, longitudes within ±180 and latitudes within ±90",
    "since": "not after until", "start": "not after end", "from": "not after to",
    "until": "after since", "end": "after start", "to": "after from; a period of at most "
    "93 days where the operation says so",
    "file": "a readable file of the documented kind whose rows pass the import checks",
    "subcategory": "one of the chosen category's subcategories",
    "area_code": "an area holding communities (and, to rebalance, current grids)",
    "layers": "distinct collection ids (see /collections)",
    "min_households": "not above max_households",
    "reported_at": "not in the future",
    "lon": "sent together with lat", "lat": "sent together with lon",
    "window": "at most the period asked for",
    "household": "the register's own reference: not an ID number or a phone number, and "
    "not already registered",
    "building": "an existing building inside your area",
    "month": "for the monthly report: a month that has begun",
    "Idempotency-Key": "a key already used by the caller must come with the same request "
                       "(its first answer is then returned)",
}


def install(app: FastAPI) -> None:
    """Serve the completed document at /openapi.json (built once, on first request)."""
    plain = app.openapi

    def openapi() -> dict:
        if not app.openapi_schema:
            app.openapi_schema = complete(plain(), _routes(app))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def api_routes(routes) -> list[APIRoute]:
    """Every APIRoute, also inside included routers (FastAPI keeps them nested)."""
    found = []
    for route in routes:
        if isinstance(route, APIRoute):
            found.append(route)
        elif hasattr(route, "original_router"):
            found += api_routes(route.original_router.routes)
    return found


def _routes(app: FastAPI) -> dict[tuple[str, str], APIRoute]:
    return {(route.path_format, method.lower()): route for route in api_routes(app.routes)
            for method in route.methods}


def complete(doc: dict, routes: dict[tuple[str, str], APIRoute]) -> dict:
    components = doc.setdefault("components", {})
    components.setdefault("schemas", {})["Problem"] = PROBLEM
    components["schemas"]["Open311Errors"] = OPEN311_ERRORS
    components["securitySchemes"] = {
        "bearer": {"type": "http", "scheme": "bearer", "description": "an API token"},
        "cookie": {"type": "apiKey", "in": "cookie", "name": COOKIE,
                   "description": "the session cookie set by POST /auth/login"}}
    for path, item in doc.get("paths", {}).items():
        for method, op in item.items():
            route = routes.get((path, method))
            if route is not None:
                _operation(op, method, route, components["schemas"])
    return doc


def _operation(op: dict, method: str, route: APIRoute, schemas: dict) -> None:
    params = op.get("parameters", [])
    for param in params:
        _constrain(param.get("schema", {}), param["name"], SYNTAX)
    body = op.get("requestBody") is not None
    for schema in _body_schemas(op, schemas):  # request bodies only: responses say what is
        for prop, spec in schema.get("properties", {}).items():
            _constrain(spec, prop, BODY_SYNTAX)
    for schema in _body_schemas(op, schemas, FORM_MEDIA):
        for spec in schema.get("properties", {}).values():
            _no_null(spec)
    statuses = {429, 503}
    fields = {p["name"] for p in params} | {f for s in _body_schemas(op, schemas)
                                            for f in s.get("properties", {})}
    if _needs_credentials(route):
        statuses |= {401, 403}
        op["security"] = [{"bearer": []}, {"cookie": []}]
    elif "password" in fields:  # logging in: a wrong password is a 401
        statuses.add(401)
    if body:
        statuses |= {400, 413}
    if params or body:
        statuses |= {404, 422}
    if method in UNSAFE:
        statuses.add(409)
    responses = op.setdefault("responses", {})
    if route.path.startswith(OPEN311):  # the standard's own error documents, its statuses
        statuses = (statuses - {401, 422}) | {400, 403, 404}
        op.get("responses", {}).pop("422", None)  # validation answers 400 there (Open311Route)
        content = {"application/json": {"schema": {"$ref": "#/components/schemas/Open311Errors"}},
                   "text/xml": {},  # a path no route matches: the service-wide 404
                   "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    else:
        content = {"application/problem+json": {
            "schema": {"$ref": "#/components/schemas/Problem"}}}
    for status in sorted(statuses):
        responses[str(status)] = {"description": WHY[status], "content": content}
    # a route may state rules of its own (openapi_extra); the shared ones are added
    rules = {**op.get("x-constraints", {}),
             **{f: CONSTRAINTS[f] for f in sorted(fields) if f in CONSTRAINTS}}
    if rules:
        op["x-constraints"] = rules


def _constrain(schema: dict, name: str, syntax: dict[str, dict[str, Any]]) -> None:
    """Add the documented syntax of ``name`` to its schema (or to the string branch of an
    optional one)."""
    for branch in schema.get("anyOf", [schema]):
        if branch.get("type") == "integer" and "maximum" not in branch:
            # what PostgreSQL takes (bigint; int for counts compared to int columns):
            # beyond it the database refuses the value and the answer is a 422
            branch["maximum"] = INT4 if name in INT4_PARAMS else INT8
        if branch.get("type") != "string" or "pattern" in branch:
            continue
        if name in syntax and "enum" not in branch and "const" not in branch:
            extra = dict(syntax[name])
            if "description" in extra and "description" in schema:
                extra.pop("description")
            branch.update(extra)


FORM_MEDIA = ("application/x-www-form-urlencoded", "multipart/form-data")


def _no_null(spec: dict) -> None:
    """A form field cannot be null: it is sent or left out. Documenting ``null`` made
    clients send the text "null", which the field's own syntax then refused."""
    branches = spec.get("anyOf")
    if branches and any(b.get("type") == "null" for b in branches):
        kept = [b for b in branches if b.get("type") != "null"]
        if len(kept) == 1:
            spec.pop("anyOf")
            spec.update(kept[0])
        else:
            spec["anyOf"] = kept


def _body_schemas(op: dict, schemas: dict, media_types: tuple[str, ...] | None = None
                  ) -> list[dict]:
    found = []
    for kind, media in op.get("requestBody", {}).get("content", {}).items():
        if media_types is not None and kind not in media_types:
            continue
        ref = media.get("schema", {}).get("$ref", "")
        if ref.rsplit("/", 1)[-1] in schemas:
            found.append(schemas[ref.rsplit("/", 1)[-1]])
    return found


def _needs_credentials(route: APIRoute) -> bool:
    pending = [route.dependant]
    while pending:
        dep = pending.pop()
        if dep.call is current_principal:
            return True
        pending.extend(dep.dependencies)
    return False
