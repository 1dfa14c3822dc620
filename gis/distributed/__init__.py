"""Batch analyses on a Dask cluster, for counties that outgrow one machine.

* :func:`gis.distributed.assign.assign_points_dask` — points to grids;
* :func:`gis.distributed.coverage.coverage_dask` — camera coverage per grid.

Both partition their input spatially (dask-geopandas ``spatial_shuffle`` along a
Hilbert curve, so that a partition holds neighbouring features and needs only the data
around it), run the very same single-machine functions on every partition and combine
the parts, so the results equal those of :func:`gis.assign.assign_points` and
:func:`gis.coverage.coverage`. ``scheduler`` is ``"local"`` (a LocalCluster on this
machine, the default) or the ``tcp://host:port`` address of a running scheduler. The
patrol join has its own Dask path in :mod:`gis.patrol.distributed`.
"""

from gis.patrol.distributed import dask_client

__all__ = ["dask_client"]
