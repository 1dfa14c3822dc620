-- The assignment rules, shared by assign_incidents (few incidents), reassign and locate,
-- computed as the file path (gis.assign) does: in the metric CRS :srid chosen from the
-- current grids' extent (gis.crs.metric_crs), a transverse Mercator with scale :k0 and
-- false easting :fe. Follows a CTE named pts(id, geom) (EPSG:4326 points); pairs each
-- point with the grids near it (near), then applies assign_rules.sql (kept, best).
-- Each pair transforms its grid: cheap for a few points; many points are placed by the
-- library path instead (gis.store.assignment._precompute).
-- The pairing itself (FROM pts JOIN grids within reach) is assign_reach.sql.
near AS MATERIALIZED (
    SELECT p.id, g.code, g.community_code,
           ST_Transform(g.geom, :srid) AS gm, ST_Transform(p.geom, :srid) AS pm
    {reach}
),
{rules}
