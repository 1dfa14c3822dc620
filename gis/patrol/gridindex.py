"""Grids in a metric CRS with a spatial index: where is each fix (bulk STRtree queries),
and which grid edges does a segment cross. Picklable, so Dask workers get a copy."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from gis.crs import WGS84, metric_crs_for
from gis.errors import InputError


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
            pos = int(np.flatnonzero((keys.isna() | keys.duplicated()).to_numpy())[0])
            raise InputError(f"grid key {key!r} must be unique and present (see "
                             f"{keys.iloc[pos]!r})", row=pos + 1, field=key)
        self.keys = keys.astype(str).to_numpy()
        self.crs = CRS(crs) if crs is not None else metric_crs_for(grids)
        # the cleaning's cached transformer: one PROJ set-up per process, not two
        self.polygons = shapely.transform(grids.geometry.to_numpy(), self._project)
        self._build()

    def _project(self, lonlat: np.ndarray) -> np.ndarray:
        from gis.patrol.cleaning import to_metric

        return np.column_stack(to_metric(lonlat[:, 0], lonlat[:, 1], self.crs))

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
                "wkb": shapely.to_wkb(self.polygons), "disjoint": self._disjoint}

    def __setstate__(self, state):
        self.keys, self.crs = state["keys"], CRS.from_wkt(state["crs"])
        self.polygons = shapely.from_wkb(state["wkb"])
        self._build()
        self._disjoint = state.get("disjoint")  # computed once, not on every Dask worker

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
        in the same grid, so every ``every``-th fix (an anchor) is located with the tree,
        the others are checked (``contains_xy``, no Point objects) against the previous
        anchor's grid, then the next anchor's (the worker crossed into it), and only the
        rest go to the tree. Exact when grid interiors do not overlap (an interior point
        of one grid is in no other); otherwise this falls back to :meth:`locate`."""
        if not self.disjoint or len(x) < 4 * every:
            return self.locate(x, y)
        anchors = self.locate(x[::every], y[::every])
        guess = np.repeat(anchors, every)[:len(x)]
        miss = np.flatnonzero(~self._inside(guess, x, y))
        second = np.repeat(np.r_[anchors[1:], -1], every)[:len(x)][miss]
        hit = self._inside(second, x[miss], y[miss])
        guess[miss[hit]] = second[hit]
        rest = miss[~hit]
        guess[rest] = self.locate(x[rest], y[rest])
        return guess

    def _inside(self, grid: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Is each point in the interior of its proposed grid (-1: no proposal)?"""
        ok = grid >= 0
        ok[ok] = shapely.contains_xy(self.polygons[grid[ok]], x[ok], y[ok])
        return ok

    @property
    def disjoint(self) -> bool:
        """True when no two grid interiors overlap (a seamless partition)."""
        if self._disjoint is None and shapely.coverage_is_valid(self.polygons):
            self._disjoint = True  # a valid coverage (GEOS): no overlaps, matching edges
        if self._disjoint is None:
            # one DE-9IM matrix per touching pair: do the interiors meet?
            a, b = self.tree.query(self.polygons, predicate="intersects")
            pair = a < b
            inner = shapely.relate_pattern(self.polygons[a[pair]], self.polygons[b[pair]],
                                           "T********")
            self._disjoint = not bool(np.any(inner))
        return self._disjoint
