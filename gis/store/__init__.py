"""Persistence: the embedded cluster, engine and migrations, models, repositories and the
SQL behind features and tiles. Repositories flush and never commit; the use case in
:mod:`gis.services` that called them commits (its unit of work) before it returns."""
