-- One layer of one vector tile (WebMercatorQuad z/x/y), feature by feature.
-- Placeholders in braces are catalogue identifiers and the compiled layer filter
-- (user values are bound); geometries are simplified to half a pixel at this zoom
-- before ST_AsMVTGeom snaps them to the 4096 grid, and clipped with a 64 px buffer.
WITH bounds AS (
    SELECT ST_TileEnvelope(:tile_z, :tile_x, :tile_y) AS b3857,
           ST_Transform(ST_TileEnvelope(:tile_z, :tile_x, :tile_y, margin => 0.015625),
                        4326) AS b4326
),
-- MATERIALIZED: each feature's clipped geometry is computed once; inlined, the IS NOT
-- NULL filter ran ST_AsMVTGeom a second time (grid tiles at zoom 12: 2x the time).
mvtgeom AS MATERIALIZED (
    SELECT {id_select}
           ST_AsMVTGeom({geom}, bounds.b3857, 4096, 64, true) AS geom
           {props}
    FROM {table} t, bounds
    WHERE t.geom && bounds.b4326 AND {where}
)
SELECT ST_AsMVT(mvtgeom.*, :layer_name, 4096, 'geom', {fid_name})
FROM mvtgeom
WHERE mvtgeom.geom IS NOT NULL
