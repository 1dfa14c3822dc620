-- The FROM clause that pairs each point of a CTE named pts(id, geom) with the current
-- grids (g) within reach of the tolerance (assign_candidates.sql). The lon/lat box pre-filter uses the grids' GiST index; it is safe
-- because a degree of longitude is the shortest, 111.32 km x cos(lat) or more, and a
-- degree of latitude at least 110.574 km (1 % and the cos margin only widen the box).
FROM pts p
JOIN grids g
  ON g.valid_to IS NULL
 AND g.geom && ST_Expand(p.geom,
                         (:tol + :edge_m) * 1.01
                         / (111320.0 * greatest(cos(radians(abs(ST_Y(p.geom)) + 0.01)), 0.001)),
                         (:tol + :edge_m) * 1.01 / 110574.0)
