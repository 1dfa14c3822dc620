-- How many points of a layer fall in (or on the edge of) a tile, counted up to
-- :max_points + 1: decides whether a zoomed-in tile can carry every point or must
-- aggregate them (tile_dense.sql).
WITH bounds AS (
    SELECT ST_Transform(ST_TileEnvelope(:tile_z, :tile_x, :tile_y), 4326) AS b4326
)
SELECT count(*) FROM (
    SELECT 1
    FROM {table} t, bounds
    WHERE t.geom && bounds.b4326 AND {where}
    LIMIT :max_points + 1
) n
