"""carbonpark.api: the REST API (FastAPI). Build it with :func:`carbonpark.api.app.create_app`."""
