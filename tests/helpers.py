"""Small helpers several test files share (kept here so each is written once)."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import shapely

from gis.services import accounts


def department_headers(engine, code: str) -> dict:
    """Bearer headers of a new department clerk (``CODE-clerk``) of department ``code``."""
    token = accounts.add_user(engine, f"{code}-clerk", "department",
                              department_code=code)["token"]
    return {"Authorization": f"Bearer {token}"}


def three_grids_file(path: Path, codes: list[str]) -> Path:
    """Three 0.01° squares (about 980 m × 1110 m) side by side west to east from lon 113,
    lat 28, named ``codes`` in a ``code`` column, written to ``path`` (GeoJSON)."""
    boxes = [shapely.box(113.0 + 0.01 * i, 28.0, 113.01 + 0.01 * i, 28.01) for i in range(3)]
    gpd.GeoDataFrame({"code": codes}, geometry=boxes, crs=4326).to_file(path)
    return path
