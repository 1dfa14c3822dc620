-- The assignment rules, shared by assign_incidents (few incidents), reassign and locate,
-- computed as the file path (gis.assign) does: in the metric CRS :srid chosen from the
-- current grids' extent (gis.crs.metric_crs), a transverse Mercator with scale :k0 and
-- false easting :fe. Follows a CTE named pts(id, geom) (EPSG:4326 points); pairs each
-- point with the grids near it (near), then applies assign_rules.sql (kept, best).
-- Each pair transforms its grid: cheap for a few points; the bulk path
-- (assign_bulk.sql) transforms every grid once instead.
-- The pairing itself (FROM pts JOIN grids within reach) is assign_reach.sql.
near AS MATERIALIZED (
    SELECT p.id, g.code, g.community_code,
           ST_Transform(g.geom, :srid) AS gm, ST_Transform(p.geom, :srid) AS pm
    {reach}
),
{rules},
-- no safe-region shortcut here (see assign_bulk.sql)
inner_hits AS (SELECT NULL::bigint AS id, NULL::text AS grid_code,
                          NULL::text AS community_code WHERE false)
