-- The safe regions of the current grids under the key :safe_key (gis.store.assignment
-- computes it: a digest of every current grid's id, code, community and geometry, of the
-- tolerance and projection, and of this statement), for assign_bulk.sql:
--   crossed: grids whose interior another current grid's interior meets (bad data:
--            such grids get no safe region, their points take the exact path);
--   regions: per other grid, the grid shrunk by more than the tolerance in projected
--            metres at the largest scale factor over the grid, back in lon/lat.
-- Margins only shrink the safe regions (a point outside one merely takes the exact
-- path): 1 % for GEOS' round buffer joins (0.5 % chord error at 8 segments a quarter),
-- 5 cm for lon/lat chords of metric segments of at most 200 m.
-- A transaction building the same key at the same time waits on the set's row, then
-- adds nothing (ON CONFLICT): each set is built once.
WITH {cur},
crossed AS MATERIALIZED (
    SELECT DISTINCT a.id AS gid
    FROM grids a
    JOIN grids b ON b.geom && a.geom AND b.id <> a.id AND b.valid_to IS NULL
    WHERE a.valid_to IS NULL AND ST_Relate(a.geom, b.geom, 'T********')
),
made AS (
    INSERT INTO grid_safe_region_sets (key) VALUES (:safe_key)
    ON CONFLICT DO NOTHING
    RETURNING key
)
INSERT INTO grid_safe_regions (key, gid, code, community_code, sg)
SELECT m.key, c.gid, c.code, c.community_code,
       ST_Transform(ST_Segmentize(ST_Buffer(c.gm, -((:tol * c.kmax + :edge_m) * 1.01 + 0.05)),
                                  200.0), 4326)
FROM made m
CROSS JOIN (SELECT gid, code, community_code, gm,
                   -- the largest scale factor over the grid, at its x farthest from the meridian
                   :k0 * (1 + power(greatest(abs(ST_XMin(gm) - :fe),
                                             abs(ST_XMax(gm) - :fe)) / :k0, 2)
                          / (2 * 6371000.0 ^ 2)) AS kmax
            FROM cur) c
WHERE c.gid NOT IN (SELECT gid FROM crossed)
