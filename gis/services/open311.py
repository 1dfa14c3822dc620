"""Open311 GeoReport v2 (http://wiki.open311.org/GeoReport_v2): our incident categories
as services, service requests created by integrations (accounts of role ``integration``,
their API token is the ``api_key``) and read by anyone.

Only incidents that came in through the public channels (a resident's /report or
Open311) are published as service requests, with public fields only: staff reports
(disputes in a family, drug tips...) stay inside. Statuses are mapped to ``open`` /
``closed`` with ``status_notes`` (:data:`gis.vocabulary.PUBLIC_STATUS_NOTES`)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from gis.errors import InputError, NotFound
from gis.incidents import CLOCK_STOPPED
from gis.services import reports
from gis.services.idempotency import Once
from gis.services.uow import unit_of_work
from gis.settings import Settings
from gis.store import public_reports as repo
from gis.store.public_reports import RequestFilter
from gis.store.users import Principal
from gis.vocabulary import INCIDENT_CATEGORIES, INCIDENT_CATEGORY_NAMES, PUBLIC_STATUS_NOTES

__all__ = ["DEFAULT_DAYS", "MAX_REQUESTS", "RequestFilter", "check_jurisdiction", "create",
           "request", "requests", "service_definition", "services"]

DEFAULT_DAYS = 90      # the spec's default window of GET requests
MAX_REQUESTS = 1000
GROUPS = {"dispute": "平安 Public safety", "security_hazard": "平安 Public safety",
          "safety_hazard": "平安 Public safety", "public_facility": "城乡环境 City and village",
          "environment": "城乡环境 City and village", "population": "社区 Community",
          "other": "社区 Community"}
NOTICE = "已收到，将在规定时限内受理 Received; it will be accepted within the time limit"


def services() -> list[dict]:
    """GET services: one service per incident category."""
    return [{"service_code": code, "service_name": INCIDENT_CATEGORY_NAMES[code][1],
             "description": " ".join(INCIDENT_CATEGORY_NAMES[code]), "metadata": False,
             "type": "realtime", "keywords": ", ".join(subs), "group": GROUPS[code]}
            for code, subs in INCIDENT_CATEGORIES.items()]


def service_definition(code: str) -> dict:
    """GET service definition: the optional ``subcategory`` attribute (none for a category
    with a single subcategory)."""
    if code not in INCIDENT_CATEGORIES:
        raise NotFound(f"no service with code {code!r}")
    subs = INCIDENT_CATEGORIES[code]
    attributes = [] if len(subs) < 2 else [{
        "variable": True, "code": "subcategory", "datatype": "singlevaluelist",
        "required": False, "datatype_description": None, "order": 1,
        "description": "小类 Subcategory", "values": [{"key": s, "name": s} for s in subs]}]
    return {"service_code": code, "attributes": attributes}


def check_jurisdiction(engine: Engine, jurisdiction_id: str | None) -> None:
    """``jurisdiction_id`` must be absent or name the county served (12 or 6 digits);
    another is a jurisdiction not found here (404)."""
    if jurisdiction_id is None:
        return
    with unit_of_work(engine, read_only=True) as session:
        counties = repo.county_codes(session)
    if not any(jurisdiction_id in (c, c[:6]) for c in counties):
        raise NotFound(f"jurisdiction_id {jurisdiction_id!r} is not served here (use "
                       f"{' or '.join(counties) or 'none'})")


def create(engine: Engine, settings: Settings, principal: Principal,
           report: reports.NewReport, *, once: Once | None = None) -> list[dict]:
    """POST requests: the new service request's id (stored as an incident, channel
    ``open311``, inside the integration's area)."""
    if report.category not in INCIDENT_CATEGORIES:
        raise InputError(f"unknown service_code {report.category!r} (see services.json)",
                         field="service_code")
    if report.subcategory and report.subcategory not in INCIDENT_CATEGORIES[report.category]:
        raise InputError(f"attribute[subcategory] {report.subcategory!r} is not one of "
                         f"{report.category}'s (see services/{report.category}.json)",
                         field="attribute[subcategory]")
    done = reports.submit(engine, settings, report, channel="open311", principal=principal,
                          once=once)
    return [{"service_request_id": done["id"], "service_notice": NOTICE, "account_id": None}]


def _time(value: datetime | None, tz: str) -> str | None:
    return None if value is None else value.astimezone(ZoneInfo(tz)).isoformat(
        timespec="seconds")


def _expected(due: datetime | None) -> datetime | None:
    """No expected time while the incident's clock is paused (暂停)."""
    return None if due == CLOCK_STOPPED else due


def _request(row: dict, tz: str) -> dict:
    zh, en = PUBLIC_STATUS_NOTES[row["status"]]
    return {"service_request_id": row["id"],
            "status": "closed" if row["status"] == "closed" else "open",
            "status_notes": f"{zh} {en}", "service_name": INCIDENT_CATEGORY_NAMES[row["category"]][1],
            "service_code": row["category"], "description": row["description"],
            "agency_responsible": None, "service_notice": None,
            "requested_datetime": _time(row["reported_at"], tz),
            "updated_datetime": _time(row["updated_at"], tz),
            "expected_datetime": _time(_expected(row["due_at"]), tz), "address": None,
            "address_id": None, "zipcode": None, "lat": row["lat"], "long": row["lon"],
            "media_url": row["media_url"]}


def requests(engine: Engine, settings: Settings, flt: RequestFilter) -> list[dict]:
    """GET requests: by ids, or by services, period (default: the last 90 days) and
    open/closed; newest first, at most :data:`MAX_REQUESTS`."""
    if flt.ids is None and flt.start is None and flt.end is None:
        flt.start = datetime.now(timezone.utc) - timedelta(days=DEFAULT_DAYS)
    # filters select: an unknown service code or a start after the end selects nothing
    with unit_of_work(engine, read_only=True) as session:
        rows = repo.requests(session, flt, limit=MAX_REQUESTS)
    return [_request(r, settings.timezone) for r in rows]


def request(engine: Engine, settings: Settings, request_id: int) -> list[dict]:
    """GET one request (a list of one, as the spec answers)."""
    found = requests(engine, settings, RequestFilter(ids=[request_id]))
    if not found:
        raise NotFound(f"no service request {request_id}")
    return found
