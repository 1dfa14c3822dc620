-- The bulk path's write: the answers _precompute left in _gg_res (one row per incident to
-- assign), by one UPDATE with nothing returned. The statement of the per-point path
-- (assign_incidents.sql) returns every rewritten row to count and log the moves: at a
-- million rows that tuple store and the counts over it were 1.3 s of 6.2 s; here the
-- counts come from _gg_res and the moves are logged by assign_log.sql.
WITH res AS (SELECT * FROM _gg_res)
{update}
