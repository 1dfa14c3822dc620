"""PostGIS store: the embedded cluster, engine and migrations, models, repositories.
The store flushes; the caller (a CLI command or an API request) commits."""
