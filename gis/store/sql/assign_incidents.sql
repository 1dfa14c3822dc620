-- Assign incidents (all, or the ids in :ids; only open ones when :open_only) to the
-- current grids in one set-based statement. Incidents inside no grid's reach keep
-- grid_code NULL (never dropped) and take their community from the admin polygons.
-- With :at_report the grid is also the grid at the time of the report; with :log_moves
-- an incident whose grid changes gets an incident_events row recording the move.
-- The answers are assign_answers.sql (res computed here) or, for many incidents, res read
-- from the temporary table assign_precompute.sql filled first.
WITH {answers},
moved AS (
    UPDATE incidents i
       SET grid_code = r.grid_code,
           candidates = r.candidates,
           boundary = r.boundary,
           community_code = r.community_code,
           township_code = r.township_code,
           grid_code_at_report = CASE WHEN :at_report THEN r.grid_code
                                      ELSE i.grid_code_at_report END
      FROM res r
     WHERE i.id = r.id
       -- rewrite only rows that change (a republish moves few incidents)
       AND (i.grid_code IS DISTINCT FROM r.grid_code
            OR i.candidates IS DISTINCT FROM r.candidates
            OR i.boundary IS DISTINCT FROM r.boundary
            OR i.community_code IS DISTINCT FROM r.community_code
            OR (:at_report AND i.grid_code_at_report IS DISTINCT FROM r.grid_code))
    RETURNING i.id, r.old_grid, i.grid_code, i.boundary, i.status
),
logged AS (
    INSERT INTO incident_events (incident_id, action, from_status, to_status, actor, note,
                                 grid_code)
    SELECT m.id, 'reassign', m.status, m.status, :actor,
           'grids republished: ' || coalesce(m.old_grid, 'none') || ' -> '
               || coalesce(m.grid_code, 'none'),
           m.grid_code
    FROM moved m
    WHERE :log_moves AND m.old_grid IS DISTINCT FROM m.grid_code
    RETURNING 1
)
SELECT (SELECT count(*) FROM res) AS incidents,
       (SELECT count(grid_code) FROM res) AS assigned,
       (SELECT count(*) FILTER (WHERE boundary) FROM res) AS boundary,
       (SELECT count(*) - count(grid_code) FROM res) AS unassigned,
       (SELECT count(*) FILTER (WHERE old_grid IS DISTINCT FROM grid_code) FROM moved) AS moved
