-- One page of a layer as GeoJSON features (text), in the requested output CRS
-- (transformed, and axes swapped for north-first CRSs, by the geometry fragment).
-- Table, id, property and filter fragments come from the layer catalogue and the compiled
-- filter (user values are bound parameters); options 0: no "crs" member in geometries.
SELECT json_build_object(
         'type', 'Feature',
         'id', t.{id},
         'geometry', ST_AsGeoJSON({geom}, :digits, 0)::json,
         'properties', json_build_object({props})
       )::text AS feature
FROM {table} t
WHERE {where}
ORDER BY t.{id}
LIMIT :limit OFFSET :offset
