-- Point layer aggregated into clusters: every point of the tile falls in exactly one
-- cell of the cluster grid (tiles are half-open, so a point on a tile edge is counted
-- once across tiles); a cluster sits at the mean of its points and carries "count"
-- plus the catalogue's per-cluster counts. Nothing is dropped: counts add up.
-- Speed (issue 19): the tile's edges are read once, and each point's projected
-- position and counted conditions are computed once (OFFSET 0 keeps the subquery a plan
-- node of its own), not again in every filter, sort key and average that uses them
-- (3x faster on a 30,000-point tile).
WITH bounds AS (
    SELECT b3857, ST_Transform(b3857, 4326) AS b4326,
           ST_XMin(b3857) AS x0, ST_XMax(b3857) AS x1,
           ST_YMin(b3857) AS y0, ST_YMax(b3857) AS y1
    FROM (SELECT ST_TileEnvelope(:tile_z, :tile_x, :tile_y) AS b3857) e
),
pts AS (
    -- Spherical Mercator by formula: the same numbers as ST_Transform(geom, 3857) for
    -- points, several times cheaper on the 100,000s of points of a low-zoom tile.
    SELECT 6378137.0 * radians(ST_X(t.geom)) AS px,
           6378137.0 * ln(tan(pi() / 4 + radians(ST_Y(t.geom)) / 2)) AS py {counted_src}
    FROM {table} t, bounds
    WHERE t.geom && bounds.b4326 AND {where}
    OFFSET 0
),
cells AS (
    SELECT floor((p.px - b.x0) / :cell_m) AS cx,
           floor((b.y1 - p.py) / :cell_m) AS cy,
           count(*) AS count, avg(p.px) AS mx, avg(p.py) AS my {counted_sum}
    FROM pts p, bounds b
    WHERE p.px >= b.x0 AND p.px < b.x1 AND p.py > b.y0 AND p.py <= b.y1
    GROUP BY 1, 2
),
mvtgeom AS (
    SELECT ST_AsMVTGeom(ST_SetSRID(ST_MakePoint(c.mx, c.my), 3857), bounds.b3857,
                        4096, 0, true) AS geom,
           c.count, true AS cluster {counted_out}
    FROM cells c, bounds
)
SELECT ST_AsMVT(mvtgeom.*, :layer_name, 4096, 'geom')
FROM mvtgeom
