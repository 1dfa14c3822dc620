"""Imported or uploaded GPS fixes become daily track lines (the tracks map layer)."""

import geopandas as gpd
import pandas as pd
from sqlalchemy import text

from gis.store.db import transaction
from gis.store.importer import import_frame


def _fixes(worker, day, n, lon0):
    times = pd.date_range(f"{day} 09:00", periods=n, freq="30s", tz="Asia/Shanghai")
    lon = [lon0 + 0.0001 * i for i in range(n)]
    return pd.DataFrame({"worker": worker, "time": times, "lon": lon, "lat": 28.0})


def test_import_draws_one_line_per_worker_and_local_day(db):
    df = pd.concat([_fixes("W1", "2026-10-30", 5, 113.0), _fixes("W1", "2026-10-31", 3, 113.1),
                    _fixes("W2", "2026-10-31", 4, 113.2), _fixes("W3", "2026-10-31", 1, 113.3)])
    gdf = gpd.GeoDataFrame(df, geometry=gpd.points_from_xy(df.lon, df.lat), crs=4326)
    with transaction(db) as session:
        import_frame(session, "patrol_points", gdf.drop(columns=["lon", "lat"]))
    with db.connect() as conn:
        rows = conn.execute(text("SELECT worker, day::text, ST_NPoints(geom) FROM patrol_tracks "
                                 "ORDER BY worker, day")).all()
    # W3 has a single fix that day: no line can be drawn from it.
    assert rows == [("W1", "2026-10-30", 5), ("W1", "2026-10-31", 3), ("W2", "2026-10-31", 4)]


def test_more_fixes_for_a_day_redraw_that_day_only(db):
    first = _fixes("W1", "2026-10-30", 4, 113.0)
    later = _fixes("W1", "2026-10-30", 3, 113.01).assign(
        time=lambda d: d.time + pd.Timedelta(hours=3))
    for df in (first, later):
        gdf = gpd.GeoDataFrame(df, geometry=gpd.points_from_xy(df.lon, df.lat), crs=4326)
        with transaction(db) as session:
            import_frame(session, "patrol_points", gdf.drop(columns=["lon", "lat"]))
    with db.connect() as conn:
        rows = conn.execute(text("SELECT count(*), max(ST_NPoints(geom)) FROM patrol_tracks")).one()
    assert tuple(rows) == (1, 7)
