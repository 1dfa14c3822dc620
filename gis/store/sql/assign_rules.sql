-- The assignment rules on the (point, grid) pairs of a CTE named near(id, code,
-- community_code, gm, pm) (grid and point in the metric CRS :srid), as gis.assign computes
-- them; defines
--   kept: every grid within :tol true metres of a point (projected distance divided by the
--         projection's scale factor at the point), with
--         rank 0 = strictly inside (more than :edge_m from its boundary), 1 = otherwise,
--         d    = projected distance, 0 when within :edge_m;
--   best: per point the assigned grid (first by rank, distance, code), its community,
--         the ordered candidates and the boundary flag.
dist AS MATERIALIZED (
    SELECT id, code, community_code, gm, pm, ST_Distance(gm, pm) AS dm,
           -- point scale factor of a transverse Mercator, k0 (1 + x^2 / 2R^2)
           :k0 * (1 + power((ST_X(pm) - :fe) / :k0, 2) / (2 * 6371000.0 ^ 2)) AS k
    FROM near
),
kept AS (
    SELECT id, code, community_code,
           CASE WHEN dm = 0 AND ST_Distance(ST_Boundary(gm), pm) > :edge_m
                THEN 0 ELSE 1 END AS rank,
           CASE WHEN dm <= :edge_m THEN 0.0 ELSE dm END AS d,
           -- ties by code: numeric codes by value, then other text (as gis.assign)
           (code !~ '^[0-9]+$') AS texty,
           CASE WHEN code ~ '^[0-9]+$' THEN code::numeric END AS num
    FROM dist
    WHERE dm <= :tol * k OR dm <= :edge_m
),
best AS (
    SELECT id,
           (array_agg(code ORDER BY rank, d, texty, num, code))[1] AS grid_code,
           (array_agg(community_code ORDER BY rank, d, texty, num, code))[1] AS community_code,
           array_agg(code ORDER BY rank, d, texty, num, code) AS candidates,
           count(*) > 1 OR min(d) > 0 AS boundary,
           min(d) AS distance_m
    FROM kept
    GROUP BY id
)
