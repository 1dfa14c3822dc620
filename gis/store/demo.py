"""The demo database's parts: generate a district (deterministic per seed), partition each
community into grids, load every layer into the caller's transaction, and create one
account per role. The use case that commits is :func:`gis.services.demo.ensure_demo`."""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import geopandas as gpd
import pandas as pd
from sqlalchemy import func, select

from gis.settings import Settings
from gis.store import demo_live as live
from gis.store.models import AdminUnit, Camera, Grid, Incident, PatrolPoint, Visit
from gis.store.users import add_user, issue_token

PATROL_DAYS = 7
DEMO_ROLES = ("admin", "planner", "dispatcher", "analyst", "grid_worker", "viewer")


def generate(demo_dir: Path, households: int, seed: int):
    from gis.generate import generate_district, write_district

    # a week of patrols: the overview's compliance covers the last 14 half days
    district = generate_district(households, seed, patrol_days=PATROL_DAYS)
    write_district(district, demo_dir)
    return district


def load(session, district, settings: Settings, *, now: datetime,
         new_code: Callable[[], str]) -> dict:
    """Load the district with its timeline ending at ``now`` (see
    :func:`gis.generate.timeline.end_now`), the demo grid worker staffing two grids, their
    visits, key households, two cases dispatched to the
    demo worker, a few residents' reports (tracking codes from ``new_code``), and camera
    coverage computed. Returns what was added beside the layers."""
    from gis.generate.timeline import end_now
    from gis.store.importer import import_frame

    district = end_now(district, now, settings.timezone)
    for layer in ("admin_units", "roads", "buildings", "address_points", "key_places", "cameras"):
        import_frame(session, layer, getattr(district, layer))
    grids = demo_grids(district, code_width=settings.grid_code_width)
    import_frame(session, "grids", grids)
    staff = demo_staff(grids, district.patrol_points)
    mine = _staff_demo_worker(staff, district, demo_scopes(district)["grid_worker"])
    fixes = _rename_workers(district.patrol_points, mine["renamed"])
    import_frame(session, "grid_staff", staff)
    import_frame(session, "patrol_points", _patrol_frame(fixes), timezone=settings.timezone)
    incidents = district.incidents.assign(
        reporter=district.incidents["reporter"].replace(mine["renamed"]))
    import_frame(session, "incidents", incidents, timezone=settings.timezone)
    return {"visits": live.add_visits(session, fixes, seed=district.seed),
            "key_households": live.add_key_households(session),
            "dispatched_to_demo_worker": live.dispatch_to(session, mine["grids"], now,
                                                          settings.tolerance_m),
            "public_reports": live.add_public_reports(
                session, demo_scopes(district)["dispatcher"], now, settings.tolerance_m,
                new_code),
            "coverage_grids": live.compute_coverage(session, _county(district))}


DEMO_WORKER = "demo-grid_worker"


def _county(district) -> str:
    units = district.admin_units
    return units.loc[units["level"] == "county", "code"].iloc[0]


def _staff_demo_worker(staff: pd.DataFrame, district, community: str, grids: int = 2) -> dict:
    """The demo grid worker takes over the first ``grids`` grids of their community: the
    generated worker ids there become the demo account's (in place in ``staff``)."""
    rows = staff.index[(staff["role"] == "fulltime_worker")
                       & staff["grid_code"].str.startswith(community)][:grids]
    renamed = {w: DEMO_WORKER for w in staff.loc[rows, "worker_id"].dropna()}
    staff.loc[rows, "worker_id"] = DEMO_WORKER
    return {"renamed": renamed, "grids": staff.loc[rows, "grid_code"].tolist()}


def _rename_workers(fixes: pd.DataFrame, renamed: dict) -> pd.DataFrame:
    return fixes.assign(worker=fixes["worker"].replace(renamed)) if renamed else fixes


RESIDENTIAL_KINDS = ("highrise", "lowrise")


def demo_grids(district, *, code_width: int = 4) -> gpd.GeoDataFrame:
    """Partition every community of the district into 300–500-household grids."""
    from gis.partition import partition

    # Rural households come only as address points (the generator does not repeat them as
    # buildings). Exclusive grids are the campuses, markets, offices and hospitals; a
    # residential compound (小区) is grouped with its neighbours into basic grids like any
    # other housing, or the 300–500 rule would leave 100-household grids and orphaned
    # pockets between the compounds.
    buildings = district.buildings.copy()
    buildings.loc[buildings["kind"].isin(RESIDENTIAL_KINDS), "compound"] = None
    units = pd.concat([buildings[["households", "compound", "community_code", "geometry"]],
                       district.address_points[["households", "community_code", "geometry"]]],
                      ignore_index=True)
    units = gpd.GeoDataFrame(units, geometry="geometry", crs=district.buildings.crs)
    communities = district.admin_units[district.admin_units["level"] == "community"]
    parts = []
    for _, com in communities.iterrows():
        mine = units[units["community_code"] == com["code"]]
        parent = gpd.GeoDataFrame({"code": [com["code"]]}, geometry=[com.geometry], crs=units.crs)
        result = partition(mine, "households", parent=parent, roads=district.roads,
                           community_code=com["code"], code_width=code_width,
                           exclusive="compound" if "compound" in mine else None)
        parts.append(result.grids)
    return gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), crs=units.crs)


def demo_staff(grids: gpd.GeoDataFrame, patrol_points: pd.DataFrame) -> pd.DataFrame:
    """A leader, a full-time worker and a police officer per grid; the patrol workers of
    the generated tracks are the full-time workers, in grid order."""
    workers = sorted(pd.unique(patrol_points["worker"]).tolist()) if len(patrol_points) else []
    rows = []
    for i, code in enumerate(sorted(grids["code"])):
        rows.append({"name": f"网格长{i + 1:04d}", "role": "grid_leader", "grid_code": code})
        worker = workers[i] if i < len(workers) else None
        rows.append({"name": f"网格员{i + 1:04d}", "role": "fulltime_worker", "grid_code": code,
                     "worker_id": worker, "phone": f"1380000{i:04d}"})
        rows.append({"name": f"网格警长{i + 1:04d}", "role": "police", "grid_code": code})
    return pd.DataFrame(rows)


def _patrol_frame(points: pd.DataFrame) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(points, geometry=gpd.points_from_xy(points["lon"], points["lat"]),
                            crs=4326)


def demo_scopes(district) -> dict[str, str | None]:
    """The area of each demo account: the county, or the first township / community."""
    units = district.admin_units
    county = _county(district)
    township = sorted(units.loc[units["level"] == "township", "code"])[0]
    community = sorted(units.loc[(units["level"] == "community")
                                 & units["code"].str.startswith(township[:9]), "code"])[0]
    return {"admin": None, "planner": county, "dispatcher": township, "analyst": county,
            "grid_worker": community, "viewer": county}


def create_accounts(session, district) -> list[dict]:
    scopes = demo_scopes(district)
    out = []
    for role in DEMO_ROLES:
        password = secrets.token_urlsafe(9)
        user = add_user(session, f"demo-{role}", role, scope_code=scopes[role], password=password)
        out.append({"role": role, "username": user.username, "password": password,
                    "scope": scopes[role], "token": issue_token(session, user, days=365)})
    return out


def save_accounts(demo_dir: Path, accounts: list[dict]) -> None:
    demo_dir.mkdir(parents=True, exist_ok=True)
    path = demo_dir / "accounts.json"
    path.write_text(json.dumps(accounts, indent=1))
    os.chmod(path, 0o600)  # demo credentials: readable by the owner only


def read_accounts(demo_dir: Path) -> list[dict]:
    try:
        return json.loads((demo_dir / "accounts.json").read_text())
    except (OSError, ValueError):
        return []


def counts(session) -> dict:
    def count(model, *where):
        return session.scalar(select(func.count()).select_from(model).where(*where))

    return {"admin_units": count(AdminUnit), "grids": count(Grid, Grid.valid_to.is_(None)),
            "households": session.scalar(select(func.coalesce(func.sum(Grid.households), 0))
                                         .where(Grid.valid_to.is_(None))),
            "incidents": count(Incident), "cameras": count(Camera),
            "patrol_points": count(PatrolPoint), "visits": count(Visit)}
