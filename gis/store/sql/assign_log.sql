-- With :log_moves, an incident_events row (action reassign, keeping the new grid) for each
-- incident of {moves} (id, old_grid, grid_code, status) whose grid changed.
INSERT INTO incident_events (incident_id, action, from_status, to_status, actor, note,
                             grid_code)
SELECT m.id, 'reassign', m.status, m.status, :actor,
       'grids republished: ' || coalesce(m.old_grid, 'none') || ' -> '
           || coalesce(m.grid_code, 'none'),
       m.grid_code
FROM {moves} m
WHERE :log_moves AND m.old_grid IS DISTINCT FROM m.grid_code
