"""Vector tiles over HTTP, in one package: :mod:`api.tiles.routes` is the router (the OGC
API – Tiles paths, TileJSON, the multi-layer tile and the change counters),
:mod:`api.tiles.mvt` the tile response and its in-process cache, :mod:`api.tiles.warm` the
warm path that answers cached tiles before FastAPI runs (its SQL in ``sql/``). The tiles
themselves are built in PostGIS by :mod:`gis.store.tiles`, through
:func:`gis.services.layers.tile`."""
