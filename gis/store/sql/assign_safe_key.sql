-- The key of the current grids' safe regions (assign_safe_regions.sql): a digest of every
-- current grid (id, code, community, geometry), of the tolerance and projection, and of
-- :rules (a digest of the statement that builds them). Any change of a current grid, a
-- publish or a load, gives another key: a stale set of safe regions is never read.
SELECT md5(concat_ws('|', CAST(:rules AS text), CAST(:tol AS float8), CAST(:edge_m AS float8),
                     CAST(:srid AS int), CAST(:k0 AS float8), CAST(:fe AS float8),
                     (SELECT string_agg(g.id::text || ',' || g.code || ','
                                        || coalesce(g.community_code, '') || ','
                                        || md5(ST_AsEWKB(g.geom)), ';' ORDER BY g.id)
                      FROM grids g
                      WHERE g.valid_to IS NULL)))
