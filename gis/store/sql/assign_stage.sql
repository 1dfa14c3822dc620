-- Assign the rows staged by an incidents import (gis.store.importer) BEFORE they reach
-- the incidents table, so that they are inserted once with their grids: no second pass
-- rewriting a million rows and their nine indexes. Same rules as assign_incidents;
-- columns a_row (the stage's _row), a_grid, a_candidates, a_boundary, a_community,
-- a_township.
CREATE TEMP TABLE _gg_assigned ON COMMIT DROP AS
WITH pts AS (SELECT s._row AS id, s.geom FROM _gg_stage_incidents s),
{candidates},
{result}
SELECT id AS a_row, grid_code AS a_grid, candidates AS a_candidates, boundary AS a_boundary,
       community_code AS a_community, township_code AS a_township
FROM res
