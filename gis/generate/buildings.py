"""Urban buildings: public facilities (markets, schools, hospitals, offices, the bus
station, parks) on chosen blocks, then residential blocks filled with high-rise
compounds (小区, 100–600 households, several towers each) or low-rise buildings
(2–30 households), with every community's household total met exactly."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely

from gis.generate import names
from gis.generate.footprints import lay_out
from gis.generate.households import allocate

COMPOUND_HH = (100, 600)
LOWRISE_HH = (2, 30)
# facility -> (block pattern, key place kind, buildings kept, floors, min buildable m²)
FACILITIES = {
    "market": ("market", "market", 2, (1, 3), 2500.0),
    "school": ("school", "school", 4, (3, 5), 9000.0),
    "hospital": ("hospital", "hospital", 3, (5, 14), 9000.0),
    "government": ("office", "government", 2, (4, 9), 3000.0),
    "station": ("public", "station", 1, (1, 3), 6000.0),
    "park": (None, "park", 0, (0, 0), 6000.0),
}


@dataclass
class Buildings:
    geometry: np.ndarray
    households: np.ndarray
    floors: np.ndarray
    kind: np.ndarray
    compound: np.ndarray   # compound / campus name or None
    block: np.ndarray


@dataclass
class Places:
    geometry: np.ndarray
    name: np.ndarray
    kind: np.ndarray


def _requests(street: np.ndarray, urban_hh: int, street_names: list[str], rng) -> list:
    """(street, facility, name) for every public facility the town needs."""
    out = [(0, "government", "县人民政府"), (0, "station", "汽车客运站")]
    stems = names.place_stems(rng)
    pick = iter(range(10**9))

    def word() -> str:
        return stems[next(pick) % len(stems)]

    for s in range(street.max() + 1):
        n_comm = int((street == s).sum())
        out.append((s, "market", f"{word()}农贸市场"))
        out.append((s, "government", f"{street_names[s]}办事处"))
        for k in range(max(1, (n_comm + 1) // 2)):
            out.append((s, "school", f"{word()}{'小学' if k % 3 else '中学'}"))
        if n_comm >= 4:
            out.append((s, "park", f"{word()}公园"))
    for h in range(max(1, int(round(urban_hh / 40000)))):
        name = "县人民医院" if h == 0 else f"{names.WORDS[h % len(names.WORDS)]}医院"
        out.append((h % (street.max() + 1), "hospital", name))
    return out


def plan_blocks(block_unit, buildable, street, urban_hh, street_names, rng):
    """Kind of each urban block (facility pattern, highrise, lowrise or open) and the
    key places: (block index, place kind, name) per facility."""
    area = shapely.area(buildable)
    kinds = np.where(area > 6000, np.where(rng.random(len(area)) < 0.5, "highrise", "lowrise"),
                     np.where(area > 600, "lowrise", "open")).astype(object)
    used = np.zeros(len(area), dtype=bool)
    hosted = np.zeros(street.size, dtype=np.int64)
    # a community keeps at least 60% of its blocks (and two) for housing
    spare = np.bincount(block_unit, weights=(kinds != "open"), minlength=street.size)
    spare = np.floor(spare - np.maximum(2, 0.6 * spare)).astype(np.int64)
    places = []
    block_street = street[block_unit]
    for s, fac, name in _requests(street, urban_hh, street_names, rng):
        pattern, place_kind, _, _, min_area = FACILITIES[fac]
        free = ~used & (spare[block_unit] > 0)
        ok = np.flatnonzero((block_street == s) & free & (area >= min_area))
        if len(ok) == 0:
            ok = np.flatnonzero(free & (area >= min_area / 3))
        if len(ok) == 0:
            continue
        score = hosted[block_unit[ok]] * 1e9 + np.abs(area[ok] - 2 * min_area) \
            * rng.uniform(0.5, 1.5, len(ok))
        b = int(ok[np.argmin(score)])
        used[b] = True
        hosted[block_unit[b]] += 1
        spare[block_unit[b]] -= 1
        kinds[b] = pattern or "open"
        places.append((b, place_kind, name, fac))
    return kinds, places


def urban_buildings(blocks, block_unit, buildable, town_hh, street, urban_hh,
                    street_names, rng) -> tuple[Buildings, Places]:
    """Buildings and key places of the town; households per community exactly ``town_hh``."""
    kinds, places = plan_blocks(block_unit, buildable, street, urban_hh, street_names, rng)
    fp = lay_out(buildable, kinds, rng)
    fkind = kinds[fp.block]
    keep = _cap_facilities(fp, fkind, places)
    fp_geom, fp_block, fp_row, fkind = fp.geometry[keep], fp.block[keep], fp.row[keep], fkind[keep]
    hh, compound, alive = _fill_communities(fp_geom, fkind, fp_block, fp_row,
                                            block_unit[fp_block], town_hh, rng)
    fp_geom, fp_block, fkind, compound, hh = (a[alive] for a in
                                             (fp_geom, fp_block, fkind, compound, hh))
    floors = _floors(fp_geom, fkind, hh, places, fp_block, rng)
    cname = _compound_names(compound, fp_block, places, rng)
    b = Buildings(fp_geom, hh, floors, fkind.astype(object), cname, fp_block)
    p = Places(buildable[[pl[0] for pl in places]], np.array([pl[2] for pl in places], object),
               np.array([pl[1] for pl in places], object))
    return b, p


def _cap_facilities(fp, fkind, places) -> np.ndarray:
    """Keep only the first few buildings of a facility campus."""
    keep = np.isin(fkind, ("highrise", "lowrise"))
    for b, _, _, fac in places:
        idx = np.flatnonzero(fp.block == b)
        keep[idx[np.argsort(fp.row[idx], kind="stable")[:FACILITIES[fac][2]]]] = True
    return keep


def _fill_communities(geom, kind, block, row, unit, town_hh, rng):
    """Compound ids and households per footprint so that each community's total is
    exact; a community's towers form about one compound per 350 high-rise households."""
    area = shapely.area(geom)
    hh = np.zeros(len(geom), dtype=np.int64)
    compound = np.full(len(geom), -1, dtype=np.int64)
    alive = np.ones(len(geom), dtype=bool)
    low, high = kind == "lowrise", kind == "highrise"
    next_id = 0
    for c, total in enumerate(town_hh):  # one allocation per community
        total = int(total)
        ti = np.flatnonzero(high & (unit == c))
        li = np.flatnonzero(low & (unit == c))
        wl = area[li] * 0.03 * rng.uniform(0.6, 1.4, len(li))
        share = area[ti].sum() * 0.11 / max(area[ti].sum() * 0.11 + wl.sum(), 1e-9)
        comp = _split_towers(ti, block, row, total * share)
        n_comp = int(comp.max()) + 1 if len(comp) else 0
        compound[ti] = comp + next_id
        next_id += n_comp
        cap = np.bincount(comp, weights=area[ti] * 0.11, minlength=n_comp)
        order = np.argsort(-wl, kind="stable")  # drop the smallest first if too many
        li, wl = li[order], wl[order]
        lo_c, hi_c, lo_l, hi_l, n_low = _bounds(total, n_comp, len(li))
        alive[li[n_low:]] = False
        li = li[:n_low]
        x = allocate(total, np.r_[wl[:n_low], cap],
                     np.r_[np.full(n_low, lo_l), np.full(n_comp, lo_c)],
                     np.r_[np.full(n_low, hi_l), np.full(n_comp, hi_c)])
        hh[li] = x[:n_low]
        for j in range(n_comp):  # split each compound over its towers
            towers = ti[comp == j]
            hh[towers] = allocate(int(x[n_low + j]), area[towers], min(1, x[n_low + j]), 10**6)
    return hh, compound, alive


def _split_towers(ti, block, row, high_hh: float) -> np.ndarray:
    """Compound index (0..k-1) per tower: runs of neighbouring towers in each block,
    about one compound per 350 households and at least one per block."""
    if len(ti) == 0:
        return np.empty(0, dtype=np.int64)
    order = np.lexsort((row[ti], block[ti]))
    blk = block[ti][order]
    starts = np.flatnonzero(np.r_[True, blk[1:] != blk[:-1]])
    n = np.diff(np.r_[starts, len(order)])
    want = int(np.clip(round(high_hh / 350.0), len(n), len(ti)))
    k = allocate(want, n, 1, n)
    rank = np.arange(len(order)) - np.repeat(starts, n)
    local = rank * np.repeat(k, n) // np.repeat(n, n)
    out = np.empty(len(ti), dtype=np.int64)
    out[order] = np.repeat(np.cumsum(k) - k, n) + local
    return out


def _bounds(total: int, n_comp: int, n_low: int):
    """Unit bounds for one community, relaxed only when its footprints cannot hold
    ``total`` within the usual ranges (tiny or very dense communities)."""
    lo_c, hi_c = COMPOUND_HH
    lo_l, hi_l = LOWRISE_HH
    if n_comp * lo_c > total:
        lo_c = total // max(n_comp, 1)
    n_low = min(n_low, max(0, (total - n_comp * lo_c) // lo_l))
    short = total - (n_low * hi_l + n_comp * hi_c)
    if short > 0 and n_comp:
        hi_c += -(-short // n_comp)
    elif short > 0 and n_low:
        hi_l += -(-short // n_low)
    elif short > 0:
        raise RuntimeError(f"a community of {total} households has no building footprint")
    return lo_c, hi_c, lo_l, hi_l, n_low


def _floors(geom, kind, hh, places, block, rng) -> np.ndarray:
    per_floor = np.maximum(1, np.round(shapely.area(geom) / np.where(kind == "highrise", 160, 90)))
    floors = np.ceil(hh / per_floor)
    floors = np.where(kind == "highrise", np.clip(floors, 6, 34), np.clip(floors, 1, 7))
    fac = {b: FACILITIES[f][3] for b, _, _, f in places}
    for b, (lo, hi) in fac.items():
        idx = np.flatnonzero(block == b)
        floors[idx] = rng.integers(lo, hi + 1, len(idx))
    return floors.astype(np.int64)


def _compound_names(compound, block, places, rng) -> np.ndarray:
    ids = np.unique(compound[compound >= 0])
    table = dict(zip(ids.tolist(), names.compound_names(rng, len(ids))))
    out = np.array([table.get(c) for c in compound.tolist()], dtype=object)
    for b, _, name, _ in places:  # campuses and markets are exclusive grids too
        out[block == b] = name
    return out
