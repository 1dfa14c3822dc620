"""Target, covered and blind area of every grid, in chunks of grids on both cores.

Each grid's figures depend only on what lies over it (footprints, streets, views), so
the grids are cut into chunks of :data:`GRID_CHUNK` and each chunk is done on its own
(:mod:`gis.coverage.workers`): memory held by the overlays stays that of one chunk, a
GEOS robustness failure is redone pair by pair in its chunk only, and a county's grids
share the cores. The indexes (STRtrees of footprints, streets, views) are built once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely

from gis.coverage import blindspots as bs
from gis.coverage.target import Targets, remove_exclusions
from gis.coverage.workers import map_ranges

GRID_CHUNK = 100  # grids per chunk: about a community or two


@dataclass
class GridFigures:
    """Per grid (input order): target (exclusions removed), covered, blind polygons and
    the target area before exclusions."""

    targets: np.ndarray
    covered: np.ndarray
    blind: np.ndarray
    target_m2_before_exclusions: np.ndarray


def grid_figures(grid_geoms: np.ndarray, targets: Targets, views: np.ndarray,
                 exclusions: np.ndarray | None = None, *, workers: int | None = None,
                 chunk: int = GRID_CHUNK) -> GridFigures:
    """Target, covered and blind polygons of each grid, all arrays in one metric CRS."""
    tree = bs.view_tree(views)
    excl = exclusions if exclusions is not None and len(exclusions) else None

    def figures(lo, hi):
        target = targets.of(grid_geoms[lo:hi])
        before = shapely.area(target)
        if excl is not None:
            target = remove_exclusions(target, excl)
        covered, blind = bs.covered_and_blind(target, tree)
        return target, covered, blind, before

    parts = map_ranges(figures, len(grid_geoms), chunk, workers)
    if not parts:
        empty = np.empty(0, dtype=object)
        return GridFigures(empty, empty, empty, np.zeros(0))
    return GridFigures(*(np.concatenate(col) for col in zip(*parts)))
