"""gridgis: grid management (网格化管理) on GeoPandas and PostGIS.

``gis`` holds the pure analyses (partition, assignment, coverage, patrol), the
coordinate handling and file I/O; ``gis.store`` is the PostGIS system of record.
Nothing here imports ``api``.
"""

__version__ = "0.1.0"
