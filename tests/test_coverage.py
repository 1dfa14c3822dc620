"""Coverage geometry against cases with known answers, and the per-grid invariant."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from gis.coverage import camera_views, coverage, normalize_cameras, suggest_sites, target_area
from gis.errors import InputError, InvalidRows

GK = 4547  # CGCS2000 Gauss–Krüger CM 114E: metres, so expected areas are exact figures
X0, Y0 = 500_000.0, 2_500_000.0  # a point near the zone's central meridian


def at(x, y):
    return X0 + x, Y0 + y


def box(x0, y0, x1, y1):
    return shapely.box(*at(x0, y0), *at(x1, y1))


def cams(rows, crs=GK):
    """rows: (x, y, dict of fields)."""
    df = pd.DataFrame([r[2] for r in rows])
    pts = gpd.points_from_xy([at(*r[:2])[0] for r in rows], [at(*r[:2])[1] for r in rows])
    return gpd.GeoDataFrame(df, geometry=pts, crs=crs)


def blds(*geoms):
    return gpd.GeoDataFrame(geometry=list(geoms), crs=GK)


NO_BUILDINGS = gpd.GeoDataFrame(geometry=[], crs=GK)


def test_one_camera_one_wall_hides_the_area_behind_it():
    # camera at the origin facing east (90°), fov 90, range 50; a 1 m wall at x=10..11,
    # y=-5..5. Hidden: the wedge behind the wall's face x=10 (half-angle atan(5/10)).
    cam = cams([(0, 0, {"type": "xueliang_a", "azimuth": 90, "fov": 90, "range": 50})])
    views = camera_views(cam, blds(box(10, -5, 11, 5)))
    wedge = 0.5 * 2 * math.atan(0.5) * 50**2 - 0.5 * 10 * 10
    expected = math.pi * 50**2 / 4 - wedge
    assert views.view_m2.iloc[0] == pytest.approx(expected, rel=1e-3)
    view = views.geometry.iloc[0]
    assert not view.contains(shapely.Point(at(30, 0)))      # straight behind the wall
    assert not view.contains(shapely.Point(at(30, 14)))     # inside the shadow wedge
    assert view.contains(shapely.Point(at(30, 16)))         # just outside it
    assert view.contains(shapely.Point(at(5, 0)))           # in front of the wall


def test_camera_in_courtyard_sees_only_the_courtyard():
    ring = box(-20, -20, 20, 20).difference(box(-10, -10, 10, 10))
    cam = cams([(0, 0, {"type": "dome", "range": 50})])
    view = camera_views(cam, blds(ring)).geometry.iloc[0]
    assert view.area == pytest.approx(400.0, rel=1e-9)
    assert view.symmetric_difference(box(-10, -10, 10, 10)).area < 1e-6


def test_courtyard_is_hidden_from_a_camera_outside_the_ring():
    ring = box(-20, -20, 20, 20).difference(box(-10, -10, 10, 10))
    cam = cams([(-40, 0, {"type": "dome", "range": 60})])
    view = camera_views(cam, blds(ring)).geometry.iloc[0]
    assert view.intersection(box(-10, -10, 10, 10)).area < 1e-6


def test_dome_in_the_open_sees_a_disc_and_zero_range_sees_nothing():
    c = cams([(0, 0, {"type": "dome", "range": 40}), (100, 0, {"type": "ptz", "range": 0}),
              (200, 0, {"type": "face", "azimuth": 0, "fov": 360, "range": 10})])
    views = camera_views(c, NO_BUILDINGS)
    assert views.view_m2.iloc[0] == pytest.approx(math.pi * 40**2, rel=1e-3)
    assert views.view_m2.iloc[1] == 0.0 and views.geometry.iloc[1].is_empty
    assert views.view_m2.iloc[2] == pytest.approx(math.pi * 10**2, rel=1e-3)


def test_wall_mounted_dome_sees_the_half_plane_in_front_of_its_wall():
    # camera exactly on the west wall of a 10 x 30 building: it sees west, not through
    cam = cams([(10, 0, {"type": "dome", "range": 30})])
    views = camera_views(cam, blds(box(10, -15, 20, 15)))
    half = math.pi * 30**2 / 2
    assert views.view_m2.iloc[0] == pytest.approx(half, rel=0.01)
    assert views.moved_m.iloc[0] == pytest.approx(0.01)
    assert not views.geometry.iloc[0].contains(shapely.Point(at(25, 0)))   # behind the building


def test_offline_cameras_are_excluded_unless_asked():
    c = cams([(0, 0, {"type": "dome", "status": "online", "range": 10}),
              (100, 0, {"type": "dome", "status": "离线", "range": 10})])
    assert len(camera_views(c, NO_BUILDINGS)) == 1
    assert len(camera_views(c, NO_BUILDINGS, include_offline=True)) == 2
    grid = gpd.GeoDataFrame({"code": ["g"]}, geometry=[box(-50, -50, 150, 50)], crs=GK)
    base = coverage(c, NO_BUILDINGS, grid, min_area=0).summary
    both = coverage(c, NO_BUILDINGS, grid, min_area=0, include_offline=True).summary
    assert base["cameras_used"] == 1 and base["cameras_offline"] == 1
    assert both["covered_m2"] == pytest.approx(2 * base["covered_m2"], rel=1e-6)


def test_missing_fields_get_type_defaults_and_are_reported():
    c = cams([(0, 0, {"CAM_KIND": "tianwang", "DIR": 45}), (5, 5, {"CAM_KIND": "dome"}),
              (9, 9, {"CAM_KIND": "face"})])
    out = normalize_cameras(c, {"CAM_KIND": "type", "DIR": "azimuth"})
    # face: no azimuth -> a 360° disc of its 50° sector's area (not 360° of its range)
    assert out["range"].tolist() == pytest.approx([100.0, 50.0, 25.0 * (50 / 360) ** 0.5])
    assert out["fov"].tolist() == [70.0, 360.0, 360.0]
    used = out.attrs["defaults_used"]
    assert used["range"] == {"tianwang": 1, "dome": 1, "face": 1}
    assert used["azimuth"] == {"face": 1}
    assert out["defaults"].iloc[0] == "status,fov,range,height"


def test_bad_camera_rows_are_named():
    c = cams([(0, 0, {"type": "dome", "range": 10}), (1, 1, {"type": "laser", "range": -3})])
    with pytest.raises(InvalidRows) as err:
        normalize_cameras(c, file="cams.csv")
    text = str(err.value)
    assert "cams.csv: row 2: field 'type'" in text and "field 'range'" in text


def _town():
    """Two grids, buildings, a street along y=0 and y=60, a few cameras and incidents."""
    grids = gpd.GeoDataFrame({"name": ["west", "east"]},
                             geometry=[box(0, -50, 100, 100), box(100, -50, 200, 100)], crs=GK)
    buildings = blds(box(20, 10, 45, 40), box(60, 10, 90, 40), box(120, 10, 150, 45),
                     box(160, 70, 190, 95), box(110, -40, 130, -15))
    roads = gpd.GeoDataFrame({"class": ["secondary", "residential", "lane"]}, geometry=[
        shapely.LineString([at(0, 0), at(200, 0)]), shapely.LineString([at(0, 60), at(200, 60)]),
        shapely.LineString([at(100, -50), at(100, 100)])], crs=GK)
    cameras = cams([(10, 0, {"type": "xueliang_a", "azimuth": 90}),
                    (100, 60, {"type": "dome", "range": 40}),
                    (180, 0, {"type": "xueliang_b", "azimuth": 270, "status": "offline"})])
    incidents = gpd.GeoDataFrame(
        {"reported_at": ["2024-01-05", "2024-02-01", "2024-03-01", "2023-12-31"]},
        geometry=gpd.points_from_xy(*zip(*[at(195, -45), at(195, -40), at(5, 95), at(190, -45)])),
        crs=GK)
    return grids, buildings, roads, cameras, incidents


@pytest.mark.parametrize("mode", ["public", "grid", "streets"])
def test_covered_plus_blind_equals_target_for_every_grid(mode):
    grids, buildings, roads, cameras, incidents = _town()
    res = coverage(cameras, buildings, grids, roads=roads, incidents=incidents, mode=mode,
                   min_area=25.0)
    t = res.grid_coverage
    assert (t.covered_m2 + t.blind_m2).to_numpy() == pytest.approx(t.target_m2.to_numpy(),
                                                                    rel=1e-9, abs=1e-6)
    assert (t.blind_spot_m2 <= t.blind_m2 + 1e-6).all()  # the size filter only removes
    assert res.blind_spots.area_m2.min() >= 25.0
    target = target_area(grids, buildings, roads, mode)
    assert target.target_m2.to_numpy() == pytest.approx(t.target_m2.to_numpy())
    assert res.summary["coverage_ratio"] == pytest.approx(
        t.covered_m2.sum() / t.target_m2.sum(), abs=1e-4)


def test_target_modes_and_no_buildings_inside():
    grids, buildings, roads, _, _ = _town()
    grid = target_area(grids, buildings, None, "grid")
    assert grid.target_m2.sum() == pytest.approx(2 * 100 * 150 - buildings.area.sum())
    public_no_roads = target_area(grids, buildings, None, "public")
    assert public_no_roads.target_m2.sum() == pytest.approx(grid.target_m2.sum())
    streets = target_area(grids, buildings, roads, "streets")
    # 20 m + 8 m wide over 200 m, a 4 m lane over 150 m, minus the two crossings
    assert streets.target_m2.sum() == pytest.approx(200 * 28 + 4 * 150 - 4 * 28)
    public = target_area(grids, buildings, roads, "public")
    assert streets.target_m2.sum() < public.target_m2.sum() < grid.target_m2.sum()
    assert public.geometry.union_all().intersection(buildings.union_all()).area < 1e-6


def test_blind_spots_carry_grid_incidents_in_period_and_nearest_camera():
    grids, buildings, roads, cameras, incidents = _town()
    res = coverage(cameras, buildings, grids, grid_key="name", incidents=incidents, mode="grid",
                   period=("2024-01-01", "2024-12-31"))
    top = res.blind_spots.iloc[0]
    assert top.incidents == 2 and top.grid == "east"   # 2023 incident is outside the period
    assert res.summary["incidents_in_blind_spots"] == 3
    assert top.nearest_camera in (0, 1) and top.camera_m > 0
    assert res.grid_coverage.set_index("grid").loc["east", "blind_incidents"] == 2


def test_results_come_back_in_the_grids_crs_with_metric_areas():
    grids, buildings, roads, cameras, incidents = _town()
    metric = coverage(cameras, buildings, grids, roads=roads, mode="grid")
    lonlat = coverage(cameras.to_crs(4326), buildings.to_crs(4326), grids.to_crs(4326),
                      roads=roads.to_crs(4326), mode="grid")
    assert lonlat.blind_spots.crs.to_epsg() == 4326
    assert lonlat.summary["covered_m2"] == pytest.approx(metric.summary["covered_m2"], rel=1e-3)


def test_key_places_have_their_own_ratio():
    grids, buildings, roads, cameras, _ = _town()
    places = gpd.GeoDataFrame({"kind": ["school", "station"]},
                              geometry=[box(0, -10, 20, 10), shapely.Point(at(500, 500))], crs=GK)
    res = coverage(cameras, buildings, grids, key_places=places, mode="grid")
    kp = res.key_places.set_index("kind")
    assert 0 < kp.loc["school", "coverage_ratio"] < 1
    assert kp.loc["station", "coverage_ratio"] == 0.0
    assert kp.loc["station", "target_m2"] == pytest.approx(math.pi * 50**2, rel=1e-2)


def test_suggested_sites_raise_coverage_by_the_reported_gain():
    grids, buildings, roads, cameras, incidents = _town()
    res = coverage(cameras, buildings, grids, roads=roads, incidents=incidents, min_area=0)
    sites = suggest_sites(res.blind_spots, roads, 3, buildings=buildings, weight="incidents")
    assert len(sites) == 3 and sites["rank"].tolist() == [1, 2, 3]
    bound = sites.attrs["bound"]
    assert bound["upper_bound"] >= bound["objective"] > 0
    assert sites.gain_incidents.iloc[0] > 0  # the incident hot spot comes first
    more = pd.concat([cameras, sites[["type", "status", "azimuth", "fov", "range", "height",
                                      "geometry"]]], ignore_index=True)
    again = coverage(more, buildings, grids, roads=roads, incidents=incidents, min_area=0)
    raised = again.summary["covered_m2"] - res.summary["covered_m2"]
    assert raised == pytest.approx(sites.cumulative_m2.iloc[-1], rel=1e-4, abs=0.5)


def test_area_weighted_sites_pick_the_largest_gain_first():
    grids, buildings, roads, cameras, _ = _town()
    res = coverage(cameras, buildings, grids, roads=roads, min_area=0)
    sites = suggest_sites(res.blind_spots, roads, 4, buildings=buildings, weight="area")
    gains = sites.gain_m2.to_numpy()
    assert (np.diff(gains) <= 1e-6).all()  # greedy gains never grow (submodular)
    with pytest.raises(InputError):
        suggest_sites(res.blind_spots, roads, 2, weight="beauty")
