-- Figures of an area, per unit below it and in total (key '*'), for the period [:a, :b).
-- Units: township (:clen 9), community (:clen 12) or grid (:clen 0) codes. The area is the
-- codes starting with :prefix (:plen digits), or the one grid :prefix when :is_grid.
-- Incidents count in the unit of their community / grid at present (key '-': in the area,
-- outside every unit). Patrol: a grid counts as patrolled in a window of :wlen from
-- :wstart when the fixes inside it in that window span at least :min_minutes.
WITH area_grids AS (
  SELECT g.code, g.kind, g.households, g.geom,
         CASE WHEN :clen = 0 THEN g.code
              ELSE rpad(left(g.community_code, :clen), 12, '0') END AS unit
  FROM grids g
  WHERE g.valid_to IS NULL
    AND CASE WHEN :is_grid THEN g.code = :prefix ELSE left(g.code, :plen) = :prefix END
),
grid_figs AS (
  SELECT CASE WHEN GROUPING(unit) = 1 THEN '*' ELSE unit END AS key,
         count(*) AS grids, coalesce(sum(households), 0) AS households,
         count(*) FILTER (WHERE kind = 'basic') AS basic_grids,
         count(*) FILTER (WHERE kind = 'basic' AND households < :min_hh) AS below_min,
         count(*) FILTER (WHERE kind = 'basic' AND households > :max_hh) AS above_max
  FROM area_grids GROUP BY GROUPING SETS ((unit), ())
),
inc AS (
  SELECT CASE WHEN :clen = 0 THEN i.grid_code
              ELSE rpad(left(i.community_code, :clen), 12, '0') END AS unit,
         i.reported_at, i.closed_at, i.due_at,
         /*overdue_at_b*/ AS overdue_reason  -- gis.incidents.overdue at :b (generated)
  FROM incidents i
  WHERE CASE WHEN :is_grid THEN i.grid_code = :prefix
             ELSE left(i.community_code, :plen) = :prefix END
    AND i.reported_at < :b
    AND (i.reported_at >= :a OR i.closed_at IS NULL OR i.closed_at >= :b)
    AND i.merged_into IS NULL  -- a merged duplicate counts once, as its survivor
),
inc_figs AS (
  SELECT CASE WHEN GROUPING(unit) = 1 THEN '*' ELSE coalesce(unit, '-') END AS key,
         count(*) FILTER (WHERE reported_at >= :a) AS incidents,
         count(*) FILTER (WHERE reported_at >= :a AND closed_at < :b) AS closed,
         count(*) FILTER (WHERE closed_at IS NULL OR closed_at >= :b) AS open,
         count(*) FILTER (WHERE overdue_reason IS NOT NULL) AS overdue,
         -- reported in the period and closed after the limit, or still open past it
         count(*) FILTER (WHERE reported_at >= :a AND due_at < least(closed_at, :b)) AS late
  FROM inc GROUP BY GROUPING SETS ((unit), ())
),
cov_figs AS (
  SELECT CASE WHEN GROUPING(g.unit) = 1 THEN '*' ELSE g.unit END AS key,
         count(c.id) AS coverage_grids, sum(c.target_m2) AS target_m2,
         sum(c.covered_m2) AS covered_m2, coalesce(sum(c.blind_spots), 0) AS blind_spots
  FROM area_grids g JOIN coverage c ON c.grid_code = g.code
  GROUP BY GROUPING SETS ((g.unit), ())
),
hits AS (
  SELECT g.unit, g.code, date_bin(:wlen, p.time, :wstart) AS w
  FROM area_grids g JOIN patrol_points p ON ST_Intersects(g.geom, p.geom)
  WHERE p.time >= :wstart AND p.time < :wend
  GROUP BY g.unit, g.code, 3
  HAVING max(p.time) - min(p.time) >= :min_minutes * interval '1 minute'
),
pat_figs AS (
  SELECT CASE WHEN GROUPING(unit) = 1 THEN '*' ELSE unit END AS key,
         count(*) AS patrolled_windows
  FROM hits GROUP BY GROUPING SETS ((unit), ())
)
SELECT key,
       coalesce(grids, 0) AS grids, coalesce(households, 0) AS households,
       coalesce(basic_grids, 0) AS basic_grids, coalesce(below_min, 0) AS below_min,
       coalesce(above_max, 0) AS above_max,
       coalesce(incidents, 0) AS incidents, coalesce(closed, 0) AS closed,
       coalesce(open, 0) AS open, coalesce(overdue, 0) AS overdue, coalesce(late, 0) AS late,
       coalesce(coverage_grids, 0) AS coverage_grids, target_m2, covered_m2,
       coalesce(blind_spots, 0) AS blind_spots,
       coalesce(patrolled_windows, 0) AS patrolled_windows
FROM grid_figs
FULL JOIN inc_figs USING (key)
FULL JOIN cov_figs USING (key)
FULL JOIN pat_figs USING (key)
