-- One layer of one vector tile (WebMercatorQuad z/x/y), feature by feature.
-- Placeholders in braces are catalogue identifiers and the compiled layer filter
-- (user values are bound); geometries are simplified to half a pixel at this zoom
-- before ST_AsMVTGeom snaps them to the 4096 grid, and clipped with a 64 px buffer.
-- A feature whose clipped geometry is empty (NULL) is left out by ST_AsMVT itself
-- (PostGIS mvt.c skips a row with a NULL geometry before reading its properties), so no
-- filter is written for it: a filter made each geometry either computed twice or kept
-- in a materialized CTE, which cost 12-14% of a zoom-14/15 incident tile (issue 19).
WITH bounds AS (
    SELECT ST_TileEnvelope(:tile_z, :tile_x, :tile_y) AS b3857,
           ST_Transform(ST_TileEnvelope(:tile_z, :tile_x, :tile_y, margin => 0.015625),
                        4326) AS b4326
)
SELECT ST_AsMVT(mvtgeom.*, :layer_name, 4096, 'geom', {fid_name})
FROM (
    SELECT {id_select}
           ST_AsMVTGeom({geom}, bounds.b3857, 4096, 64, true) AS geom
           {props}
    FROM {table} t, bounds
    WHERE t.geom && bounds.b4326 AND {where}
) mvtgeom
