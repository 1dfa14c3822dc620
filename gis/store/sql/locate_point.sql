-- The grid (by the assignment rules) of one point, with its community and township.
WITH pts AS (SELECT 0::bigint AS id, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) AS geom),
{candidates}
SELECT b.grid_code, b.candidates, coalesce(b.boundary, false) AS boundary, b.distance_m,
       coalesce(b.community_code, f.code) AS community_code,
       g.name AS grid_name, g.kind AS grid_kind
FROM pts p
LEFT JOIN best b ON b.id = p.id
LEFT JOIN grids g ON g.code = b.grid_code AND g.valid_to IS NULL
LEFT JOIN LATERAL (
    SELECT a.code FROM admin_units a
    WHERE b.id IS NULL AND a.level = 'community' AND ST_Intersects(a.geom, p.geom)
    ORDER BY a.code LIMIT 1
) f ON true
