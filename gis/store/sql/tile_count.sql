-- How many points of a layer fall in (or on the edge of) a tile:
-- decides whether a zoomed-in tile can carry every point or must aggregate them.
WITH bounds AS (
    SELECT ST_TileEnvelope(:tile_z, :tile_x, :tile_y) AS b3857,
           ST_Transform(ST_TileEnvelope(:tile_z, :tile_x, :tile_y), 4326) AS b4326
)
SELECT count(*)
FROM {table} t, bounds
WHERE t.geom && bounds.b4326 AND {where}
