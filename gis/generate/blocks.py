"""Street blocks: the street network polygonised inside each community or village
(so blocks never cross an admin boundary), and the buildable part of each block:
the block minus every road buffered by half its width plus a setback."""

from __future__ import annotations

import numpy as np
import shapely

from gis.vocabulary import ROAD_CLASSES

SETBACK = {"urban": 3.0, "rural": 4.0}


def road_buffers(geoms: np.ndarray, classes: np.ndarray, setback: float) -> np.ndarray:
    """Road centre lines buffered by half the carriageway plus a building setback."""
    width = np.array([ROAD_CLASSES[c] for c in classes], dtype=float)
    return shapely.buffer(geoms, width / 2.0 + setback, quad_segs=4)


def street_blocks(units: np.ndarray, lines: np.ndarray, line_unit: np.ndarray,
                  buffers: np.ndarray):
    """Blocks of every unit and their buildable area.

    Parameters
    ----------
    units : community/village polygons.
    lines : street lines that bound blocks (extended past junctions for clean noding).
    line_unit : the unit each entry of ``lines`` is polygonised in (a line may repeat).
    buffers : road buffers that buildings must stay out of.

    Returns
    -------
    blocks, block_unit, buildable : arrays; ``buildable[i]`` lies inside ``blocks[i]``.
    """
    order = np.argsort(line_unit, kind="stable")
    splits = np.searchsorted(line_unit[order], np.arange(len(units) + 1))
    tree = shapely.STRtree(buffers)
    b_unit, b_idx = tree.query(units, predicate="intersects")
    b_splits = np.searchsorted(b_unit, np.arange(len(units) + 1))
    blocks, owner, buildable = [], [], []
    for u, unit in enumerate(units):  # one polygonize per unit; vectorised inside
        own = lines[order[splits[u]:splits[u + 1]]]
        faces = _faces(unit, own)
        near = buffers[b_idx[b_splits[u]:b_splits[u + 1]]]
        free = shapely.difference(faces, shapely.union_all(near)) if len(near) else faces
        blocks.append(faces)
        buildable.append(free)
        owner.append(np.full(len(faces), u))
    return np.concatenate(blocks), np.concatenate(owner), np.concatenate(buildable)


def _faces(unit, lines: np.ndarray) -> np.ndarray:
    noded = shapely.union_all(np.append(lines, shapely.boundary(unit)))
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(noded)))
    if len(faces) == 0:
        return np.array([unit], dtype=object)
    inside = shapely.contains(unit, shapely.point_on_surface(faces))
    return faces[inside]
