-- The assignment rules of assign_candidates.sql for many points at once, with the safe
-- region idea of the library path (gis.assign.index): most points lie deep inside one
-- grid and need no distance at all. Follows a CTE named pts(id, geom); defines
--   cur:        the current grids, transformed to the metric CRS once (not once per pair);
--   safe:       per grid, its safe region (assign_safe_regions.sql): the grid shrunk by
--               more than the tolerance, kept in grid_safe_regions under :safe_key, a
--               digest of the current grids, tolerance and projection. A point inside
--               it is more than :tol true metres inside that grid, hence more than :tol
--               from every other grid: one candidate, no flag;
--   inner_hits: those points, found by the points' GiST index ({points}: a table with
--               id and geom) and one point-in-polygon test;
--   near, kept, best: the exact rules (assign_rules.sql) on the other points only.
{cur},
safe AS MATERIALIZED (
    -- built once per set of current grids (assign_safe_regions.sql, gis.store.assignment)
    SELECT s.gid, s.code, s.community_code, s.sg
    FROM grid_safe_regions s
    WHERE s.key = :safe_key
),
inner_hits AS MATERIALIZED (
    -- each safe region probes the points' GiST index (10,000 probes, each returning
    -- many points, its polygon prepared once) rather than each point the grids' index
    -- (a million probes: 46 s against 12 s at load 10 for 1M x 10,000)
    SELECT p.id, s.code AS grid_code, s.community_code
    FROM safe s
    JOIN {points} p ON p.geom && s.sg AND ST_Intersects(s.sg, p.geom)
    -- every point of the table: those not in pts are left out by the joins with pts
    -- below (a semi-join here was planned as a nested loop: 20 s for 10,000 rows)
),
near AS MATERIALIZED (
    SELECT p.id, c.code, c.community_code, c.gm, ST_Transform(p.geom, :srid) AS pm
    {reach}
    JOIN cur c ON c.gid = g.id
    WHERE NOT EXISTS (SELECT 1 FROM inner_hits h WHERE h.id = p.id)
),
{rules}
