-- A cold tile in ONE round trip (issue 19): the caller check (tile_warm_check.sql,
-- the same rules) and the tile as built for the caller this token named last time.
-- The tile is computed only when the check finds exactly that caller (same user, role,
-- scope and department); otherwise the column is NULL and the normal path answers. The
-- change counters come from the same snapshot as the tile.
WITH found AS MATERIALIZED (
{check}
)
SELECT found.*,
       CASE WHEN (found.id, found.username, found.role, found.scope_code,
                  found.department_code)
                 IS NOT DISTINCT FROM (CAST(:as_id AS integer), CAST(:as_username AS text),
                                       CAST(:as_role AS text), CAST(:as_scope AS text),
                                       CAST(:as_department AS text))
            THEN ({tile}) END AS tile
FROM found
