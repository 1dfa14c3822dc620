"""Geometry that clients send, checked before any analysis or PostgreSQL sees it:
every coordinate finite (a bounding box hides NaN: GEOS skips it when it computes
extents), and polygons valid, repaired with ``make_valid`` where that is safe.

Safe means the repaired shape is still polygonal and keeps the area its author meant
(the rings read as filled shells minus holes, ``make_valid(method="structure")``) within
:data:`REPAIR_TOLERANCE`; a bow-tie becomes its two triangles. Anything else is refused,
naming the feature. Used by the plan upload and crosswalk endpoints and the CLI commands
that read polygon files; the importers apply the same rule row by row
(:mod:`gis.store.validation`)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from gis.errors import InputError

REPAIR_TOLERANCE = 0.01
POLYGONAL = (3, 6)  # Polygon, MultiPolygon


def finite(geoms) -> np.ndarray:
    """Per geometry: True when every coordinate (x, y and z) is a finite number."""
    geoms = np.asarray(geoms, dtype=object)
    ok = np.ones(len(geoms), dtype=bool)
    coords, index = shapely.get_coordinates(geoms, return_index=True)
    ok[np.unique(index[~np.isfinite(coords).all(axis=1)])] = False
    with_z = np.flatnonzero(shapely.has_z(geoms))  # a 2-D geometry reads its z as NaN
    if len(with_z):
        coords, index = shapely.get_coordinates(geoms[with_z], include_z=True,
                                                return_index=True)
        ok[with_z[np.unique(index[~np.isfinite(coords[:, 2])])]] = False
    return ok


def repair_polygon(geom: BaseGeometry) -> tuple[BaseGeometry | None, str]:
    """(the repaired polygonal geometry or None, why it was invalid / why not repaired)."""
    reason = shapely.is_valid_reason(geom)
    parts = shapely.get_parts(shapely.make_valid(geom))
    parts = parts[np.isin(shapely.get_type_id(parts), POLYGONAL)]
    kept = shapely.union_all(parts) if len(parts) else None
    if kept is None or kept.is_empty:
        return None, f"invalid polygon ({reason}) with no area left after repair"
    meant = shapely.make_valid(geom, method="structure").area
    change = abs(kept.area - meant) / meant if meant > 0 else 1.0
    if change > REPAIR_TOLERANCE:
        return None, f"invalid polygon ({reason}); repair would change its area by {change:.0%}"
    return kept, reason


def _label(gdf: gpd.GeoDataFrame, i: int, label_field: str | None) -> str:
    if label_field and label_field in gdf and gdf[label_field].iloc[i] is not None:
        return f"feature {i + 1} ({label_field} {gdf[label_field].iloc[i]!s})"
    return f"feature {i + 1}"


def checked_polygons(gdf: gpd.GeoDataFrame, *, file: str | None = None,
                     label_field: str | None = "code") -> tuple[gpd.GeoDataFrame, list[dict]]:
    """An uploaded polygon layer with non-finite coordinates refused and invalid polygons
    repaired where safe. Returns the layer and one note per repaired feature
    (``feature``, ``row``, ``reason``, ``action``) for the response to say so.

    Examples
    --------
    >>> bowtie = shapely.Polygon([(0, 0), (1, 1), (1, 0), (0, 1), (0, 0)])
    >>> fixed, notes = checked_polygons(gpd.GeoDataFrame(geometry=[bowtie]))
    >>> fixed.geometry.iloc[0].geom_type, notes[0]["action"]
    ('MultiPolygon', 'repaired with make_valid')
    """
    geoms = gdf.geometry.values
    present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    bad = np.flatnonzero(present & ~finite(geoms))
    if len(bad):
        raise InputError(f"{_label(gdf, int(bad[0]), label_field)}: coordinates must be "
                         "finite numbers (NaN or Infinity found)", field="geometry",
                         row=int(bad[0]) + 1, file=file)
    invalid = np.flatnonzero(present & ~shapely.is_valid(geoms))
    if not len(invalid):
        return gdf, []
    values, notes = np.array(geoms, dtype=object), []
    for i in invalid:  # only the invalid features (rare) get here
        fixed, reason = repair_polygon(geoms[i])
        label = _label(gdf, int(i), label_field)
        if fixed is None:
            raise InputError(f"{label}: {reason}", field="geometry", row=int(i) + 1, file=file)
        values[i] = fixed
        notes.append({"feature": label, "row": int(i) + 1, "reason": reason,
                      "action": "repaired with make_valid"})
    out = gdf.copy()
    out[gdf.geometry.name] = gpd.GeoSeries(values, index=gdf.index, crs=gdf.crs)
    return out, notes


def checked_drawn(geom: BaseGeometry, field: str = "geometry") -> BaseGeometry:
    """One geometry drawn on the map: finite, and a polygon must be valid (the user is
    at the screen and can redraw it; a guess at what they meant is not made for them)."""
    if not finite([geom])[0]:
        raise InputError("coordinates must be finite numbers (NaN or Infinity found)",
                         field=field)
    if shapely.get_type_id(geom) in POLYGONAL and not geom.is_valid:
        raise InputError(f"the drawn polygon is invalid ({shapely.is_valid_reason(geom)}): "
                         "redraw it without crossing edges", field=field)
    return geom
