"""Camera coverage, blind spots and new camera sites (雪亮工程 全覆盖、无死角).

* :func:`camera_views` — each camera's 2D visibility polygon (sector cut by buildings);
* :func:`target_area` — what must be seen (public space, whole grid, or streets);
* :func:`coverage` — coverage, blind spots, per-grid ratios and key places;
* :func:`suggest_sites` — where k new cameras would cover the most blind spot.
"""

from gis.coverage.analysis import CoverageResult, coverage
from gis.coverage.cameras import normalize_cameras
from gis.coverage.target import target_area
from gis.coverage.sites import suggest_sites
from gis.coverage.visibility import camera_views

__all__ = ["CoverageResult", "camera_views", "coverage", "normalize_cameras", "suggest_sites",
           "target_area"]
