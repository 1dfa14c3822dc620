-- The assignment rules, shared by assign_incidents, reassign_open_incidents and locate.
-- Follows a CTE named pts(id, geom) (EPSG:4326 points); defines:
--   cand: every current grid within :tol metres of a point, with
--         rank 0 = strictly inside (more than :edge_m from its boundary), 1 = otherwise,
--         d    = true (geodesic) distance in metres, 0 when within :edge_m;
--   best: per point the assigned grid (first by rank, distance, code), its community,
--         the ordered candidates and the boundary flag.
-- The planar ST_DWithin in degrees is a safe pre-filter (a degree of longitude is the
-- shortest, 111.32 km x cos(lat) or more), so only true neighbours get the geodesic test.
near AS (
    SELECT p.id, g.code, g.community_code, g.geom AS ggeom, p.geom AS pgeom,
           ST_Intersects(g.geom, p.geom) AS covers
    FROM pts p
    JOIN grids g
      ON g.valid_to IS NULL
     AND ST_DWithin(g.geom, p.geom,
                    (:tol + :edge_m) * 1.01
                    / (111320.0 * greatest(cos(radians(abs(ST_Y(p.geom)) + 0.01)), 0.001)))
),
cand AS (
    SELECT id, code, community_code,
           CASE WHEN covers AND NOT ST_DWithin(ST_Boundary(ggeom)::geography,
                                               pgeom::geography, :edge_m, false)
                THEN 0 ELSE 1 END AS rank,
           CASE WHEN covers THEN 0.0
                ELSE ST_Distance(ggeom::geography, pgeom::geography) END AS d
    FROM near
),
kept AS (
    SELECT id, code, community_code, rank,
           CASE WHEN d <= :edge_m THEN 0.0 ELSE d END AS d,
           -- ties by code: numeric codes by value, then other text (as gis.assign)
           (code !~ '^[0-9]+$') AS texty,
           CASE WHEN code ~ '^[0-9]+$' THEN code::numeric END AS num
    FROM cand
    WHERE d <= greatest(:tol, :edge_m)
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
