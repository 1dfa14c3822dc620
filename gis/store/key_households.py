"""The key-household register in the store (重点家庭/特殊群体, issue 18): list, read, add,
edit with optimistic locking on ``version``, delete, and a file's rows added at once.

Scope: a household belongs to a community (``community_code``); a caller sees those of
the communities inside their scope, and a caller scoped to one grid only those placed in
that grid. Anything else does not exist for them (NotFound). Every read is written to the
audit log in the caller's transaction (who read which households, never their contents),
every change with before and after images.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, delete, func, select, true, update
from sqlalchemy.orm import Session

from gis.errors import Conflict, InputError, InvalidRows, NotFound, RowProblem
from gis.store import audit
from gis.store.coverage import area_prefix
from gis.store.models import AdminUnit, Building, Grid, KeyHousehold
from gis.store.users import Principal

MAX_PAGE = 5000


def _place():
    """The household's point: its own, else a point inside its building."""
    building = select(func.ST_PointOnSurface(Building.geom)).where(
        Building.id == KeyHousehold.building_id).scalar_subquery()
    return func.coalesce(KeyHousehold.geom, building)


def _in_prefix(prefix: str) -> ColumnElement[bool]:
    """Households of a scope or area prefix (county, township, community, or one grid)."""
    if not prefix:
        return true()
    if len(prefix) <= 12:
        return KeyHousehold.community_code.startswith(prefix, autoescape=True)
    grid = select(Grid.geom).where(Grid.code == prefix, Grid.valid_to.is_(None)).scalar_subquery()
    return and_(KeyHousehold.community_code == prefix[:12], func.ST_Intersects(_place(), grid))


def _visible(principal: Principal) -> ColumnElement[bool]:
    return _in_prefix(principal.scope_prefix)


def _columns() -> list:
    # the names of the register's files (household, building), as the API answers them
    return [KeyHousehold.id, KeyHousehold.household_ref.label("household"), KeyHousehold.kind,
            KeyHousehold.building_id.label("building"), KeyHousehold.community_code,
            KeyHousehold.responsible_worker, KeyHousehold.version, KeyHousehold.created_at,
            func.ST_X(KeyHousehold.geom).label("lon"), func.ST_Y(KeyHousehold.geom).label("lat")]


def _row(r) -> dict:
    d = dict(r._mapping)
    d["created_at"] = d["created_at"].isoformat()
    return d


def list_page(session: Session, principal: Principal, area: str | None, *, kind: str | None,
              limit: int, offset: int) -> tuple[int, list[dict]]:
    """``(total, one page)`` of the area's households (the caller's scope when ``area`` is
    None; an area outside it is NotFound); the read is audited."""
    prefix = area_prefix(session, area, principal)
    cond = [_visible(principal), _in_prefix(prefix)]
    if kind is not None:
        cond.append(KeyHousehold.kind == kind)
    total = session.scalar(select(func.count()).select_from(KeyHousehold).where(*cond))
    rows = session.execute(select(*_columns()).where(*cond).order_by(KeyHousehold.id)
                           .limit(limit).offset(offset)).all()
    audit.record(session, principal.username, "read", "key_households", prefix or area,
                 after={"households": len(rows), "ids": [r.id for r in rows],
                        "purpose": "register"})
    return int(total or 0), [_row(r) for r in rows]


def get(session: Session, principal: Principal, kh_id: int, *, audited: bool = True) -> dict:
    row = session.execute(select(*_columns()).where(KeyHousehold.id == kh_id,
                                                    _visible(principal))).first()
    if row is None:
        raise NotFound(f"no key household {kh_id}")
    if audited:
        audit.record(session, principal.username, "read", "key_households", kh_id)
    return _row(row)


def _placement(session: Session, principal: Principal, row: dict) -> tuple[str, object]:
    """``(community, point)`` of a row: the building's community (it must be in scope),
    else the community containing the position. Errors name the field."""
    point = None
    if row.get("lon") is not None and row.get("lat") is not None:
        point = func.ST_SetSRID(func.ST_MakePoint(float(row["lon"]), float(row["lat"])), 4326)
    if row.get("building_id") is not None:
        community = session.scalar(select(Building.community_code).where(
            Building.id == row["building_id"]))
        if community is None or not community.startswith(principal.scope_prefix[:12]):
            raise InputError(f"no building {row['building_id']} in your area", field="building")
        return community, point
    if point is None:
        raise InputError("a key household needs a building or a position (lon, lat)",
                         field="building")
    community = session.scalar(select(AdminUnit.code).where(
        AdminUnit.level == "community", func.ST_Intersects(AdminUnit.geom, point),
        AdminUnit.code.startswith(principal.scope_prefix[:12], autoescape=True))
        .order_by(AdminUnit.code).limit(1))
    if community is None:
        raise InputError("the position lies in no community of your area", field="lon")
    return community, point


def _check_ref_free(session: Session, ref: str, kh_id: int | None = None) -> None:
    taken = session.scalar(select(KeyHousehold.id).where(KeyHousehold.household_ref == ref))
    if taken is not None and taken != kh_id:
        # said without telling whose: the other record may lie outside the caller's scope
        raise Conflict(f"household reference {ref} is already in the register")


def create(session: Session, principal: Principal, row: dict) -> dict:
    community, point = _placement(session, principal, row)
    if row.get("community_code") and row["community_code"] != community:
        raise InputError(f"the household lies in community {community}, not "
                         f"{row['community_code']}", field="community_code")
    _check_ref_free(session, row["household_ref"])
    kh = KeyHousehold(household_ref=row["household_ref"], kind=row["kind"],
                      building_id=row.get("building_id"), community_code=community,
                      responsible_worker=row.get("responsible_worker"), geom=point)
    session.add(kh)
    session.flush()
    audit.record(session, principal.username, "create", "key_households", kh.id,
                 after={"kind": kh.kind, "community_code": community})
    return _fetch(session, kh.id)


def _fetch(session: Session, kh_id: int) -> dict:
    """A row just written by the caller (placed inside their area by :func:`_placement`)."""
    return _row(session.execute(select(*_columns()).where(KeyHousehold.id == kh_id)).one())


def update_one(session: Session, principal: Principal, kh_id: int, version: int,
               changes: dict) -> dict:
    """Change kind, reference, worker or place, if ``version`` is still the current one."""
    before = get(session, principal, kh_id, audited=False)
    values = {k: changes[k] for k in ("household_ref", "kind", "responsible_worker")
              if changes.get(k) is not None}
    if changes.get("building_id") is not None or changes.get("lon") is not None:
        community, point = _placement(session, principal, changes)
        values.update(community_code=community, geom=point,
                      building_id=changes.get("building_id"))
    if "household_ref" in values:
        _check_ref_free(session, values["household_ref"], kh_id)
    done = session.scalar(update(KeyHousehold)
                          .where(KeyHousehold.id == kh_id, KeyHousehold.version == version)
                          .values(**values, version=KeyHousehold.version + 1)
                          .returning(KeyHousehold.id))
    if done is None:
        raise _conflict(session, kh_id)
    after = _fetch(session, kh_id)
    audit.record(session, principal.username, "update", "key_households", kh_id,
                 _summary(before), _summary(after))
    return after


def delete_one(session: Session, principal: Principal, kh_id: int, version: int) -> None:
    before = get(session, principal, kh_id, audited=False)
    done = session.scalar(delete(KeyHousehold)
                          .where(KeyHousehold.id == kh_id, KeyHousehold.version == version)
                          .returning(KeyHousehold.id))
    if done is None:
        raise _conflict(session, kh_id)
    audit.record(session, principal.username, "delete", "key_households", kh_id,
                 _summary(before), None)


def _summary(row: dict) -> dict:
    """What the audit log keeps of a household: no more than the register itself."""
    return {k: row.get(k) for k in ("household", "kind", "building", "community_code",
                                    "responsible_worker", "version")}


def _conflict(session: Session, kh_id: int) -> Conflict | NotFound:
    current = session.scalar(select(KeyHousehold.version).where(KeyHousehold.id == kh_id))
    if current is None:
        return NotFound(f"no key household {kh_id}")
    return Conflict(f"key household {kh_id} was changed by someone else (now version "
                    f"{current}); reload it and apply your change again",
                    current_version=int(current))


def import_rows(session: Session, principal: Principal, rows: list[dict],
                file: str | None) -> list[int]:
    """Add every checked row of a file, or none: each row's problem (building outside the
    area, position in no community of it, reference already registered) is listed."""
    problems, ids = [], []
    for row in rows:
        try:
            community, point = _placement(session, principal, row)
            _check_ref_free(session, row["household_ref"])
        except (InputError, Conflict) as exc:
            field = exc.field if isinstance(exc, InputError) else "household"
            reason = exc.problem.reason if isinstance(exc, InputError) else str(exc)
            problems.append(RowProblem(row["row"], field, reason, file))
            continue
        kh = KeyHousehold(household_ref=row["household_ref"], kind=row["kind"],
                          building_id=row.get("building_id"), community_code=community,
                          responsible_worker=row.get("responsible_worker"), geom=point)
        session.add(kh)
        session.flush()
        ids.append(kh.id)
    if problems:
        raise InvalidRows(problems, file=file)  # the caller's transaction rolls back
    audit.record(session, principal.username, "import", "key_households", None,
                 after={"file": file, "households": len(ids)})
    return ids
