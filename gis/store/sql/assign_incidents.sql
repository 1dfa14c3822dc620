-- Assign incidents (all, or the ids in :ids; only open ones when :open_only) to the
-- current grids in one set-based statement. Incidents inside no grid's reach keep
-- grid_code NULL (never dropped) and take their community from the admin polygons.
-- With :at_report the grid is also the grid at the time of the report; with :log_moves
-- an incident whose grid changes gets an incident_events row recording the move.
-- The answers are assign_answers.sql; many incidents take the bulk path instead
-- (assign_write.sql). The write and the log are the fragments both paths share.
WITH {answers},
moved AS (
    {update}
    RETURNING i.id, r.old_grid, i.grid_code, i.boundary, i.status
),
logged AS (
    {log}
    RETURNING 1
)
SELECT (SELECT count(*) FROM res) AS incidents,
       (SELECT count(grid_code) FROM res) AS assigned,
       (SELECT count(*) FILTER (WHERE boundary) FROM res) AS boundary,
       (SELECT count(*) - count(grid_code) FROM res) AS unassigned,
       (SELECT count(*) FILTER (WHERE old_grid IS DISTINCT FROM grid_code) FROM moved) AS moved
