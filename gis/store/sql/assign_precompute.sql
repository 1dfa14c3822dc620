-- The answers of assign_answers.sql for many incidents, computed into a temporary table
-- (no WAL, dropped at commit) before incidents is written: assign_incidents.sql then
-- reads res from it, and the caller knows how many rows will move before the UPDATE
-- (to write a large share of the table without its secondary indexes).
CREATE TEMP TABLE _gg_res ON COMMIT DROP AS
WITH {answers}
SELECT id, old_grid, status, grid_code, candidates, boundary, community_code, township_code
FROM res
