-- The assignment rules of assign_candidates.sql for many points at once, with the safe
-- region idea of the library path (gis.assign.index): most points lie deep inside one
-- grid and need no distance at all. Follows a CTE named pts(id, geom); defines
--   cur:        the current grids, transformed to the metric CRS once (not once per pair);
--   crossed:    grids whose interior another current grid's interior meets (bad data:
--               such grids get no safe region, their points take the exact path);
--   safe:       per other grid, the grid shrunk by more than the tolerance in projected
--               metres at the largest scale factor over the grid, back in lon/lat. A point
--               inside it is more than :tol true metres inside that grid, hence (grids not
--               crossing) more than :tol from every other grid: one candidate, no flag;
--   inner_hits: those points, found by the points' GiST index ({points}: a table with
--               id and geom) and one point-in-polygon test;
--   near, kept, best: the exact rules (assign_rules.sql) on the other points only.
-- Margins only shrink the safe regions (a point outside one merely takes the exact
-- path): 1 % for GEOS' round buffer joins (0.5 % chord error at 8 segments a quarter),
-- 5 cm for lon/lat chords of metric segments of at most 200 m.
cur AS MATERIALIZED (
    SELECT g.id AS gid, g.code, g.community_code, ST_Transform(g.geom, :srid) AS gm
    FROM grids g
    WHERE g.valid_to IS NULL
),
crossed AS MATERIALIZED (
    SELECT DISTINCT a.id AS gid
    FROM grids a
    JOIN grids b ON b.geom && a.geom AND b.id <> a.id AND b.valid_to IS NULL
    WHERE a.valid_to IS NULL AND ST_Relate(a.geom, b.geom, 'T********')
),
safe AS MATERIALIZED (
    SELECT c.gid, c.code, c.community_code,
           ST_Transform(ST_Segmentize(ST_Buffer(c.gm, -((:tol * c.kmax + :edge_m) * 1.01 + 0.05)),
                                      200.0), 4326) AS sg
    FROM (SELECT gid, code, community_code, gm,
                 -- the largest scale factor over the grid, at its x farthest from the meridian
                 :k0 * (1 + power(greatest(abs(ST_XMin(gm) - :fe), abs(ST_XMax(gm) - :fe)) / :k0, 2)
                        / (2 * 6371000.0 ^ 2)) AS kmax
          FROM cur) c
    WHERE c.gid NOT IN (SELECT gid FROM crossed)
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
