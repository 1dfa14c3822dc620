"""The gridgis HTTP service (FastAPI). Build it with :func:`api.app.create_app`."""
