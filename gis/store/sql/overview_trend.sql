-- Incidents of an area reported and closed per week: :weeks weeks from :start (a local
-- Monday midnight). The area as in overview_units.sql (:prefix, :plen, :is_grid).
WITH weeks AS (
  SELECT :start + n * interval '1 week' AS w FROM generate_series(0, :weeks - 1) AS n
),
inc AS (
  SELECT i.reported_at, i.closed_at
  FROM incidents i
  WHERE CASE WHEN :is_grid THEN i.grid_code = :prefix
             ELSE left(i.community_code, :plen) = :prefix END
    AND (i.reported_at >= :start OR i.closed_at >= :start)
    AND i.merged_into IS NULL  -- a merged duplicate counts once, as its survivor
)
SELECT w AS week_start,
       (SELECT count(*) FROM inc WHERE reported_at >= w AND reported_at < w + interval '1 week')
         AS reported,
       (SELECT count(*) FROM inc WHERE closed_at >= w AND closed_at < w + interval '1 week')
         AS closed
FROM weeks ORDER BY w
