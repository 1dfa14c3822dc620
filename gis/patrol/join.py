"""Joining cleaned tracks to grids: time and distance inside each grid, entries and exits.

A *segment* joins two consecutive fixes of one worker no more than ``max_gap_s`` apart.
The worker is assumed to move along it at constant speed, so time and distance split
in the same proportions:

* a segment whose two ends lie in the same grid counts fully for that grid (the
  cheap, common case: fixes are seconds apart, grids hundreds of metres wide);
* any other segment (ends in different grids, or an end outside every grid) is cut
  where it crosses grid edges (numpy line–line intersection against the edges an
  STRtree finds: the same answer as a shapely intersection, several times faster);
  each grid gets the fraction of the segment's length inside it, in metres and seconds;
* a segment faster than ``speed_max`` is not counted at all (the worker was in a car,
  or one end is bad), so no bogus distance reaches a grid;
* segments are first cut at window boundaries (at the interpolated instant), so the
  11:50–12:10 walk gives ten minutes to each half day.

A fix on the shared edge of two grids belongs to the first grid in the grids table.
Seconds and metres are summed as integer millionths (see :func:`micro`), so totals do
not depend on summation order. An *entry* is a segment piece inside a grid whose segment starts outside it, or the
first fix of a track (after a gap) inside it; an *exit* is a piece whose segment ends
outside the grid.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import shapely
from pyproj import CRS

from gis.crs import WGS84, metric_crs_for
from gis.errors import InputError
from gis.patrol.windows import Windows, to_ns

MICRO = 1_000_000
PRESENCE_COLUMNS = ("grid", "window", "worker", "seconds", "metres", "entries", "exits")


class GridIndex:
    """Grids in a metric CRS with an STRtree; picklable (the tree is rebuilt), so it can
    be shipped to Dask workers.

    Parameters
    ----------
    grids : polygons in any CRS (converted to EPSG:4326 first).
    key : column naming each grid (``code``, ``grid_id``...); the row position when None.
    crs : metric CRS; chosen from the grids' extent by :func:`gis.crs.metric_crs` if None.
    """

    def __init__(self, grids: gpd.GeoDataFrame, key: str | None = None, crs: CRS | None = None):
        if grids.crs is not None and not CRS(grids.crs).equals(WGS84):
            grids = grids.to_crs(WGS84)
        if key is not None and key not in grids.columns:
            raise InputError(f"no grid key column {key!r} (columns: "
                             f"{', '.join(map(str, grids.columns))})", field="grid-key")
        keys = grids[key] if key else pd.Series(np.arange(len(grids)))
        if keys.isna().any() or keys.duplicated().any():
            dup = keys[keys.isna() | keys.duplicated()].iloc[0]
            raise InputError(f"grid key {key!r} must be unique and present (see {dup!r})",
                             field="grid-key")
        self.keys = keys.astype(str).to_numpy()
        self.crs = CRS(crs) if crs is not None else metric_crs_for(grids)
        self.polygons = grids.geometry.to_crs(self.crs).to_numpy()
        self._build()

    def _build(self) -> None:
        self.tree = shapely.STRtree(self.polygons)
        shapely.prepare(self.polygons)
        self._disjoint = None
        self._edges = None

    def edges(self):
        """Every ring edge of every grid as (start xy, end xy, STRtree), built on first use."""
        if self._edges is None:
            xy, ring = shapely.get_coordinates(shapely.get_rings(self.polygons), return_index=True)
            same = np.flatnonzero(ring[1:] == ring[:-1])
            a, b = xy[same], xy[same + 1]
            self._edges = (a, b, shapely.STRtree(shapely.linestrings(np.stack([a, b], axis=1))))
        return self._edges

    def __getstate__(self):
        return {"keys": self.keys, "crs": self.crs.to_wkt(),
                "wkb": shapely.to_wkb(self.polygons)}

    def __setstate__(self, state):
        self.keys, self.crs = state["keys"], CRS.from_wkt(state["crs"])
        self.polygons = shapely.from_wkb(state["wkb"])
        self._build()

    def __len__(self) -> int:
        return len(self.keys)

    def locate(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Grid position of each metric point, -1 outside every grid (bulk STRtree query);
        on a shared edge, the first grid."""
        out = np.full(len(x), len(self), dtype=np.int64)
        if len(x):
            pi, gi = self.tree.query(shapely.points(x, y), predicate="intersects")
            np.minimum.at(out, pi, gi)
        out[out == len(self)] = -1
        return out

    def locate_track(self, x: np.ndarray, y: np.ndarray, every: int = 16) -> np.ndarray:
        """:meth:`locate` for consecutive fixes, faster: consecutive fixes are nearly always
        in the same grid, so every ``every``-th fix is located with the tree, the others are
        checked against that fix's grid (``contains_xy``, no Point objects) and only the
        misses go to the tree. Exact when grid interiors do not overlap; otherwise this
        falls back to :meth:`locate`."""
        if not self.disjoint or len(x) < 4 * every:
            return self.locate(x, y)
        anchor = np.arange(0, len(x), every)
        guess = np.repeat(self.locate(x[anchor], y[anchor]), every)[:len(x)]
        ok = guess >= 0
        ok[ok] = shapely.contains_xy(self.polygons[guess[ok]], x[ok], y[ok])
        miss = np.flatnonzero(~ok)
        guess[miss] = self.locate(x[miss], y[miss])
        return guess

    @property
    def disjoint(self) -> bool:
        """True when no two grid interiors overlap (a seamless partition)."""
        if self._disjoint is None:
            a, b = self.tree.query(self.polygons, predicate="overlaps")
            c, d = self.tree.query(self.polygons, predicate="contains")
            self._disjoint = not len(a) and not np.any(c != d)
        return self._disjoint


def _segments(codes, t, x, y, g, max_gap_ns: int, speed_max: float) -> dict[str, np.ndarray]:
    """Consecutive fix pairs of one worker, at most ``max_gap_ns`` apart and not too fast."""
    link = (codes[1:] == codes[:-1]) & (t[1:] - t[:-1] <= max_gap_ns)
    start = np.r_[True, ~link[:-1]] if len(link) else np.array([], bool)  # track begins here
    dist = np.hypot(x[1:] - x[:-1], y[1:] - y[:-1])
    plausible = dist <= speed_max * (t[1:] - t[:-1]) / 1e9
    i = np.flatnonzero(link & plausible)
    return {"w": codes[i], "t0": t[i], "t1": t[i + 1], "x0": x[i], "y0": y[i],
            "x1": x[i + 1], "y1": y[i + 1], "g0": g[i], "g1": g[i + 1], "first": start[i]}


def _split_at_windows(seg: dict, windows: Windows, index: GridIndex) -> dict:
    """Cut segments that cross a window boundary at the interpolated instant."""
    win = windows.start_of(seg["t0"])
    end = windows.end_of(win)
    cut = np.flatnonzero(seg["t1"] > end)
    seg["win"] = win
    if not len(cut):
        return seg
    f = (end[cut] - seg["t0"][cut]) / (seg["t1"][cut] - seg["t0"][cut])
    xb = seg["x0"][cut] + f * (seg["x1"][cut] - seg["x0"][cut])
    yb = seg["y0"][cut] + f * (seg["y1"][cut] - seg["y0"][cut])
    gb = index.locate(xb, yb)
    tail = {k: v[cut].copy() for k, v in seg.items()}
    tail.update(t0=end[cut], x0=xb, y0=yb, g0=gb, win=end[cut], first=np.zeros(len(cut), bool))
    for k, v in (("t1", end[cut]), ("x1", xb), ("y1", yb), ("g1", gb)):
        seg[k][cut] = v
    return {k: np.concatenate([seg[k], tail[k]]) for k in seg}


def _pieces(seg: dict, index: GridIndex) -> pd.DataFrame:
    """(segment, grid, fraction) for every piece of every segment inside a grid."""
    same = (seg["g0"] == seg["g1"]) & (seg["g0"] >= 0)
    whole = pd.DataFrame({"s": np.flatnonzero(same), "grid": seg["g0"][same], "frac": 1.0})
    cross = np.flatnonzero(~same)
    if not len(cross):
        return whole
    part = _crossing_pieces(seg["x0"][cross], seg["y0"][cross], seg["x1"][cross],
                            seg["y1"][cross], index)
    part["s"] = cross[part["s"].to_numpy()]
    return pd.concat([whole, part], ignore_index=True)


def _cross2(ax, ay, bx, by):
    return ax * by - ay * bx


def _crossing_pieces(x0, y0, x1, y1, index: GridIndex) -> pd.DataFrame:
    """Cut segments where they cross grid edges (line–line intersection in numpy against
    the edges an STRtree finds); each piece between cuts lies in one grid (or none),
    found by locating its midpoint. Exact, and much cheaper than polygon overlay."""
    ea, eb, tree = index.edges()
    si, ei = tree.query(shapely.linestrings(np.stack([np.column_stack([x0, y0]),
                                                      np.column_stack([x1, y1])], axis=1)))
    dx, dy = (x1 - x0)[si], (y1 - y0)[si]
    ex, ey = (eb - ea)[ei, 0], (eb - ea)[ei, 1]
    wx, wy = ea[ei, 0] - x0[si], ea[ei, 1] - y0[si]
    den = _cross2(dx, dy, ex, ey)
    with np.errstate(invalid="ignore", divide="ignore"):
        u, v = _cross2(wx, wy, ex, ey) / den, _cross2(wx, wy, dx, dy) / den
    hit = (den != 0) & (u > 0) & (u < 1) & (v >= 0) & (v <= 1)
    n = len(x0)
    seg = np.concatenate([si[hit], np.arange(n), np.arange(n)])
    cut = np.concatenate([u[hit], np.zeros(n), np.ones(n)])
    order = np.lexsort((cut, seg))
    seg, cut = seg[order], cut[order]
    nxt = np.flatnonzero((seg[1:] == seg[:-1]) & (cut[1:] > cut[:-1]))
    s, lo, hi = seg[nxt], cut[nxt], cut[nxt + 1]
    mid = (lo + hi) / 2.0
    grid = index.locate(x0[s] + mid * (x1 - x0)[s], y0[s] + mid * (y1 - y0)[s])
    keep = grid >= 0
    return pd.DataFrame({"s": s[keep], "grid": grid[keep], "frac": (hi - lo)[keep]})


def presence(clean: pd.DataFrame, index: GridIndex, windows: Windows, *,
             speed_max: float, max_gap_s: float) -> pd.DataFrame:
    """Seconds, metres, entries and exits per grid, window and worker.

    Parameters
    ----------
    clean : cleaned fixes sorted by worker and time, with metric ``x``, ``y`` in
        ``index.crs`` (the output of :func:`gis.patrol.cleaning.clean_fixes`).
    index : the grids.
    windows : the compliance windows.

    Returns
    -------
    DataFrame : columns ``grid`` (position in ``index``), ``window`` (UTC ns of the window
        start), ``worker``, ``seconds``, ``metres``, ``entries``, ``exits``, sorted by
        grid, window and worker.
    """
    if not len(clean):
        return _empty_presence()
    codes, workers = worker_runs(clean["worker"])
    t = to_ns(clean["time"])
    x, y = clean["x"].to_numpy(), clean["y"].to_numpy()
    seg = _segments(codes, t, x, y, index.locate_track(x, y), int(max_gap_s * 1e9), speed_max)
    seg = _split_at_windows(seg, windows, index)
    p = _pieces(seg, index)
    s = p["s"].to_numpy()
    g = p["grid"].to_numpy()
    dur = (seg["t1"][s] - seg["t0"][s]) / 1e9
    dist = np.hypot(seg["x1"][s] - seg["x0"][s], seg["y1"][s] - seg["y0"][s])
    rows = pd.DataFrame({
        "grid": g, "window": seg["win"][s], "worker": seg["w"][s],
        "seconds": micro(dur * p["frac"].to_numpy()), "metres": micro(dist * p["frac"].to_numpy()),
        "entries": ((seg["g0"][s] != g) | seg["first"][s]).astype(np.int64),
        "exits": (seg["g1"][s] != g).astype(np.int64)})
    out = rows.groupby(["grid", "window", "worker"], sort=True, as_index=False).sum()
    out["seconds"], out["metres"] = out["seconds"] / MICRO, out["metres"] / MICRO
    out["worker"] = workers[out["worker"].to_numpy()]  # codes follow name order: still sorted
    return out[list(PRESENCE_COLUMNS)]


def worker_runs(worker: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Codes 0..k-1 for the runs of a worker column sorted by worker, and the run names
    (cheaper than factorising ten million strings)."""
    arr = pa.array(worker, type=pa.large_string())
    if len(arr) == 0:
        return np.array([], dtype=np.int64), np.array([], dtype=object)
    change = pc.not_equal(arr[1:], arr[:-1]).to_numpy(zero_copy_only=False)
    codes = np.r_[0, np.cumsum(change)].astype(np.int64)
    starts = np.flatnonzero(np.r_[True, change])
    return codes, np.asarray(arr.take(pa.array(starts)).to_pylist(), dtype=object)


def micro(values) -> np.ndarray:
    """Seconds or metres as integer millionths: integer sums are exact in any order, so
    every partitioning of the work (batches, Dask) gives bit-identical totals."""
    return np.rint(np.asarray(values, dtype=float) * MICRO).astype(np.int64)


def _empty_presence() -> pd.DataFrame:
    return pd.DataFrame({"grid": pd.Series([], dtype=np.int64),
                         "window": pd.Series([], dtype=np.int64),
                         "worker": pd.Series([], dtype=str), "seconds": [], "metres": [],
                         "entries": pd.Series([], dtype=np.int64),
                         "exits": pd.Series([], dtype=np.int64)})
