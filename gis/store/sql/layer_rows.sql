-- Rows of a layer as columns + geometry (downloads as GeoPackage/FlatGeobuf/GeoParquet); "id" is the feature id.
SELECT t.{id} AS id, {columns}, t.geom AS geometry
FROM {table} t
WHERE {where}
ORDER BY t.{id}
{limit}
