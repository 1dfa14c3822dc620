"""Street-bounded, household-balanced grid partitioning (街巷定界、规模适度、无缝覆盖、动态调整).

Pure functions on GeoDataFrames in EPSG:4326; metric work happens in
:func:`gis.crs.metric_crs_for`'s CRS.

* :func:`partition` — units (buildings, address points or blocks) → grids + report.
* :func:`validate` — gaps, overlaps, spills, non-contiguous grids, bounds, cut buildings.
* :func:`rebalance` — minimal-change repair after households change.
* :func:`crosswalk` — old grid → new grid with shared households and area (多网合一).
"""

from gis.partition.crosswalk import crosswalk
from gis.partition.pipeline import PartitionResult, partition
from gis.partition.quality import validate
from gis.partition.rebalance import RebalanceResult, rebalance

__all__ = ["PartitionResult", "RebalanceResult", "crosswalk", "partition", "rebalance",
           "validate"]
