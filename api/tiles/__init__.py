"""Vector tiles, in one package: :mod:`api.tiles.mvt` builds tiles in PostGIS and caches
them, :mod:`api.tiles.warm` answers warm tiles before FastAPI runs, :mod:`api.tiles.routes`
is the router (the OGC API – Tiles paths, TileJSON, the multi-layer tile and the change
counters); the SQL is in ``sql/`` beside them."""
