"""The admin hierarchy with 12-digit statistical codes: the county (6 digits +
000000), streets 街道 (001–099), towns 镇 (101–199) and townships 乡 (201–399),
then communities 社区 (001–199) and villages 村 (201–399). Parents are the exact
union of their children, so the hierarchy tiles without gaps or overlaps."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely

from gis.generate import names
from gis.generate.countryside import Countryside
from gis.generate.town import Town

COUNTY_CODE = "430199"
COUNTY_NAME = "示范县"


@dataclass
class Admin:
    table: pd.DataFrame           # code, name, level, kind, parent_code, geometry (metric)
    community_code: np.ndarray    # per urban community
    village_code: np.ndarray      # per village
    township_name: dict           # township code -> name


def _north_west_order(geoms) -> np.ndarray:
    c = shapely.get_coordinates(shapely.point_on_surface(geoms))
    return np.lexsort((c[:, 0].round(-2), -c[:, 1].round(-2)))


def _codes(groups: np.ndarray, geoms, first: int, prefixes: list[str]) -> np.ndarray:
    """Serial codes within each group, numbered north-west first."""
    out = np.empty(len(groups), dtype=object)
    order = _north_west_order(geoms)
    counter: dict[int, int] = {}
    for i in order:  # one per community or village
        g = int(groups[i])
        counter[g] = counter.get(g, first - 1) + 1
        out[i] = f"{prefixes[g]}{counter[g]:03d}"
    return out


def build_admin(town: Town, country: Countryside, rng) -> Admin:
    """All admin units of the district, metric geometry."""
    n_street = int(town.street.max()) + 1
    kinds = ["street"] * n_street + list(country.township_kind)
    tnames = names.township_names(rng, kinds)
    serial = {"street": 0, "town": 100, "township": 200}
    tcodes = []
    for k in kinds:
        serial[k] += 1
        tcodes.append(f"{COUNTY_CODE}{serial[k]:03d}")
    ccodes = _codes(town.street, town.cells, 1, tcodes[:n_street])
    vcodes = _codes(country.township, country.villages, 201, tcodes[n_street:])
    child_geom = np.concatenate([town.cells, country.villages])
    child_parent = np.r_[town.street, country.township + n_street]
    tgeom = np.array([shapely.union_all(child_geom[child_parent == t])
                      for t in range(len(kinds))], dtype=object)
    county = shapely.union_all(tgeom)
    rows = [(f"{COUNTY_CODE}000000", COUNTY_NAME, "county", "county", None, county)]
    rows += [(f"{c}000", n, "township", k, f"{COUNTY_CODE}000000", g)
             for c, n, k, g in zip(tcodes, tnames, kinds, tgeom)]
    cnames = names.community_names(rng, len(ccodes))
    rows += [(c, n, "community", "community", c[:9] + "000", g)
             for c, n, g in zip(ccodes, cnames, town.cells)]
    vnames = names.village_names(rng, len(vcodes))
    rows += [(c, n, "community", "village", c[:9] + "000", g)
             for c, n, g in zip(vcodes, vnames, country.villages)]
    table = pd.DataFrame(rows, columns=["code", "name", "level", "kind", "parent_code",
                                        "geometry"])
    table["geometry"] = _multi(table["geometry"].to_numpy())
    return Admin(table, ccodes, vcodes, dict(zip([f"{c}000" for c in tcodes], tnames)))


def _multi(geoms: np.ndarray) -> np.ndarray:
    parts, idx = shapely.get_parts(geoms, return_index=True)
    parts = parts[shapely.get_type_id(parts) == 3] if len(parts) else parts
    idx = idx[shapely.get_type_id(shapely.get_parts(geoms)) == 3]
    return shapely.multipolygons(parts, indices=idx)
