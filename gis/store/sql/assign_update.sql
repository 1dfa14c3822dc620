-- The write shared by both paths: the answers of res into incidents, only for the rows
-- they change (a republish moves few incidents).
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
   AND (i.grid_code IS DISTINCT FROM r.grid_code
        OR i.candidates IS DISTINCT FROM r.candidates
        OR i.boundary IS DISTINCT FROM r.boundary
        OR i.community_code IS DISTINCT FROM r.community_code
        OR (:at_report AND i.grid_code_at_report IS DISTINCT FROM r.grid_code))
