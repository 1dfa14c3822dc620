-- Spatial (lon/lat) and temporal extent of the rows the caller may see.
SELECT ST_XMin(e.box) AS minx, ST_YMin(e.box) AS miny, ST_XMax(e.box) AS maxx,
       ST_YMax(e.box) AS maxy, e.t0, e.t1, e.n
FROM (
    SELECT ST_Extent(t.geom) AS box, {t0} AS t0, {t1} AS t1, count(*) AS n
    FROM {table} t
    WHERE {where}
) e
