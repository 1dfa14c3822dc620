"""The steps of :func:`gis.generate.district.generate_district` that turn the town and
countryside into published tables: roads, blocks, buildings, patrols, and the final
projection to EPSG:4326 with the contract's column names."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely

from gis.generate import names
from gis.generate.blocks import SETBACK, road_buffers, street_blocks
from gis.generate.buildings import urban_buildings
from gis.generate.geom import segments
from gis.generate.houses import rural_buildings
from gis.generate.patrols import patrol_points, rural_beats, urban_beats
from gis.generate.town import Lines

HIGHWAY_NAMES = ("G107", "S208", "G240", "S316", "G319", "S207")


@dataclass
class PlaceArrays:
    geometry: np.ndarray
    kind: np.ndarray


def roads_table(arterials: Lines, minor: Lines, rural: Lines, rng) -> pd.DataFrame:
    """Published road lines (single LineStrings) with class, name and town flag."""
    urban_cls = np.concatenate([arterials.cls, minor.cls])
    urban_names = names.street_names(rng, urban_cls)
    rural_names = np.empty(len(rural.cls), dtype=object)
    for cls, prefix in (("rural", "Y"), ("lane", "C")):
        m = rural.cls == cls
        rural_names[m] = names.coded_names(prefix, int(m.sum()))
    m = rural.cls == "primary"
    rural_names[m] = [HIGHWAY_NAMES[i % len(HIGHWAY_NAMES)] for i in range(int(m.sum()))]
    geom = np.concatenate([arterials.geometry, minor.geometry, rural.geometry])
    parts, idx = shapely.get_parts(shapely.line_merge(geom), return_index=True)
    ok = (shapely.get_type_id(parts) == 1) & (shapely.length(parts) > 1.0)
    cls = np.concatenate([urban_cls, rural.cls])
    name = np.concatenate([urban_names, rural_names])
    urban = np.r_[np.ones(len(urban_cls), bool), np.zeros(len(rural.cls), bool)]
    return pd.DataFrame({"class": cls[idx[ok]], "name": name[idx[ok]],
                         "urban": urban[idx[ok]], "geometry": parts[ok]})


def blocks_table(town, country, roads: pd.DataFrame) -> pd.DataFrame:
    """Street blocks of communities then villages; ``unit`` numbers communities first."""
    urban = roads["urban"].to_numpy()
    geom, cls = roads["geometry"].to_numpy(), roads["class"].to_numpy()
    cu, li = shapely.STRtree(town.arterials.full).query(town.cells, predicate="intersects")
    ub, uu, ufree = street_blocks(
        town.cells, np.concatenate([town.arterials.full[li], town.minor.full]),
        np.concatenate([cu, town.minor.cell]),
        road_buffers(geom[urban], cls[urban], SETBACK["urban"]))
    vu, vl = shapely.STRtree(country.roads.full).query(country.villages, predicate="intersects")
    rb, ru, rfree = street_blocks(country.villages, country.roads.full[vl], vu,
                                  road_buffers(geom[~urban], cls[~urban], SETBACK["rural"]))
    return pd.DataFrame({"geometry": np.concatenate([ub, rb]),
                         "buildable": np.concatenate([ufree, rfree]),
                         "unit": np.r_[uu, ru + len(town.cells)],
                         "urban": np.r_[np.ones(len(ub), bool), np.zeros(len(rb), bool)]})


def buildings_table(town, country, admin, blocks: pd.DataFrame, roads: pd.DataFrame,
                    urban_hh: int, rng):
    """Buildings (with community code and block) and key places."""
    n_urban_blocks = int(blocks["urban"].sum())
    ub = blocks.iloc[:n_urban_blocks]
    street_names = [admin.township_name[f"{c[:9]}000"] for c in
                    _first_code_per_street(town.street, admin.community_code)]
    ubld, uplaces = urban_buildings(ub["geometry"].to_numpy(), ub["unit"].to_numpy(),
                                    ub["buildable"].to_numpy(), town.households, town.street,
                                    urban_hh, street_names, rng)
    rural = ~roads["urban"].to_numpy()
    rgeom, rcls = roads["geometry"].to_numpy()[rural], roads["class"].to_numpy()[rural]
    tcodes = sorted({c[:9] + "000" for c in admin.village_code})
    seat_names = [admin.township_name[c] for c in tcodes]
    assert len(seat_names) == len(country.seat)
    seg, parent = segments(rgeom)  # buffers of short segments keep spatial queries cheap
    rbld, rplaces, rv = rural_buildings(country.villages, country.centres, country.households,
                                        country.seat, seat_names, country.township_kind, rgeom,
                                        road_buffers(seg, rcls[parent], SETBACK["rural"]), rng)
    rblock = _locate(rbld.geometry, blocks["geometry"].to_numpy()[n_urban_blocks:])
    codes = np.r_[admin.community_code, admin.village_code]
    unit = np.r_[ub["unit"].to_numpy()[ubld.block], rv + len(town.cells)]
    bld = pd.DataFrame({
        "households": np.r_[ubld.households, rbld.households].astype(np.int64),
        "floors": np.r_[ubld.floors, rbld.floors].astype(np.int64),
        "kind": np.r_[ubld.kind, rbld.kind].astype(object),
        "compound": np.r_[ubld.compound, rbld.compound].astype(object),
        "community_code": codes[unit], "block": np.r_[ubld.block, rblock + n_urban_blocks],
        "geometry": np.r_[ubld.geometry, rbld.geometry]})
    places = pd.DataFrame({"name": np.r_[uplaces.name, rplaces.name],
                           "kind": np.r_[uplaces.kind, rplaces.kind],
                           "geometry": np.r_[uplaces.geometry, rplaces.geometry]})
    return bld, places


def _first_code_per_street(street: np.ndarray, codes: np.ndarray) -> list[str]:
    return [codes[np.flatnonzero(street == s)[0]] for s in range(int(street.max()) + 1)]


def _locate(geoms: np.ndarray, blocks: np.ndarray) -> np.ndarray:
    """Index of the block holding each building (by an interior point)."""
    b, k = shapely.STRtree(blocks).query(shapely.point_on_surface(geoms), predicate="within")
    out = np.full(len(geoms), -1, dtype=np.int64)
    out[b] = k
    return out


def patrols(town, country, admin, blocks, bld, roads, days: int, frame, rng):
    """Workers (id, community, mode) and their GPS fixes."""
    n_ub = int(blocks["urban"].sum())
    block_hh = np.bincount(bld["block"].to_numpy(), weights=bld["households"].to_numpy(),
                           minlength=len(blocks))
    ubeats, uown = urban_beats(blocks["geometry"].to_numpy()[:n_ub],
                               blocks["unit"].to_numpy()[:n_ub], block_hh[:n_ub],
                               town.households)
    rural = ~roads["urban"].to_numpy()
    rbeats, rown = rural_beats(country.villages, country.centres, country.households,
                               roads["geometry"].to_numpy()[rural])
    beats = ubeats + rbeats
    n = len(beats)
    ids = np.array([f"W{i:0{max(4, len(str(n)))}d}" for i in range(1, n + 1)], dtype=object)
    modes = np.r_[np.full(len(ubeats), "walk"), np.full(len(rbeats), "cycle")]
    codes = np.r_[admin.community_code[uown], admin.village_code[rown]]
    workers = pd.DataFrame({"worker": ids, "community_code": codes, "mode": modes})
    return workers, patrol_points(beats, modes, ids, days, frame.lonlat, rng)


def publish(frame, admin, roads, blocks, bld, places, cams, inc):
    """The contract's tables in EPSG:4326."""
    codes = np.r_[admin.community_code, admin.village_code]
    block_hh = np.bincount(bld["block"].to_numpy(), weights=bld["households"].to_numpy(),
                           minlength=len(blocks)).astype(np.int64)
    out = {"admin_units": frame.gdf(admin.table)}
    out["roads"] = frame.gdf(pd.DataFrame({
        "road_id": np.arange(1, len(roads) + 1), "class": roads["class"].astype(str),
        "name": roads["name"].astype(str), "geometry": roads["geometry"]}))
    out["blocks"] = frame.gdf(pd.DataFrame({
        "block_id": np.arange(1, len(blocks) + 1),
        "community_code": codes[blocks["unit"].to_numpy()], "households": block_hh,
        "geometry": blocks["geometry"]}))
    # rural households come as address points (as real rural data do); their house
    # footprints only kept the points apart and off the roads, so they are not buildings
    rural = bld["kind"].to_numpy() == "rural_house"
    b = bld[~rural].drop(columns="block").copy()
    b.insert(0, "building_id", np.arange(1, len(b) + 1))
    b.insert(len(b.columns) - 1, "block_id", bld["block"].to_numpy()[~rural] + 1)
    out["buildings"] = frame.gdf(b)
    out["address_points"] = frame.gdf(pd.DataFrame({
        "point_id": np.arange(1, rural.sum() + 1),
        "households": bld["households"].to_numpy()[rural],
        "community_code": bld["community_code"].to_numpy()[rural],
        "block_id": bld["block"].to_numpy()[rural] + 1,
        "geometry": shapely.point_on_surface(bld["geometry"].to_numpy()[rural])}))
    places = places.copy()
    places.insert(0, "place_id", np.arange(1, len(places) + 1))
    out["key_places"] = frame.gdf(places)
    out["cameras"] = frame.gdf(cams)
    out["incidents"] = frame.gdf(inc)
    return out
