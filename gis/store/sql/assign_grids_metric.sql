-- The current grids transformed to the metric CRS :srid once (not once per pair), as a
-- CTE named cur(gid, code, community_code, gm): shared by assign_bulk.sql and
-- assign_safe_regions.sql.
cur AS MATERIALIZED (
    SELECT g.id AS gid, g.code, g.community_code, ST_Transform(g.geom, :srid) AS gm
    FROM grids g
    WHERE g.valid_to IS NULL
)
