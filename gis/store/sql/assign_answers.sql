-- The incidents to assign (all, or the ids in :ids; only open ones when :open_only) as
-- pts(id, geom, old_grid, status), and res, their answers (assign_result.sql).
pts AS (
    SELECT i.id, i.geom, i.grid_code AS old_grid, i.status
    FROM incidents i
    WHERE (CAST(:ids AS bigint[]) IS NULL OR i.id = ANY(CAST(:ids AS bigint[])))
      AND (NOT :open_only OR i.status <> 'closed')
),
{candidates},
{result}
