-- A point layer zoomed in: every point as a feature when the tile holds at most
-- :max_points of them, else dense clusters (counts add up: nothing is dropped).
-- Uncorrelated subqueries are run only when their CASE branch is taken.
SELECT CASE WHEN ({count}) > :max_points THEN ({clusters}) ELSE ({features}) END
