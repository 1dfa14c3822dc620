-- Per point of pts (every column of pts kept): the grid, candidates and boundary flag
-- (best, the rules of assign_rules.sql), the community
-- (the grid's, else the admin polygon holding an unassigned point) and its township.
res AS (
    SELECT p.*, b.grid_code, b.candidates,
           coalesce(b.boundary, false) AS boundary,
           c.community_code,
           CASE WHEN c.community_code IS NULL THEN NULL
                ELSE coalesce(t.parent_code, left(c.community_code, 9) || '000')
           END AS township_code
    FROM pts p
    LEFT JOIN best b ON b.id = p.id
    LEFT JOIN LATERAL (
        SELECT a.code FROM admin_units a
        WHERE b.id IS NULL AND a.level = 'community'
          AND ST_Intersects(a.geom, p.geom)
        ORDER BY a.code LIMIT 1
    ) f ON true
    CROSS JOIN LATERAL (SELECT coalesce(b.community_code, f.code)
                               AS community_code) c
    LEFT JOIN admin_units t ON t.code = c.community_code
)
