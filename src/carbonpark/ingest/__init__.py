"""carbonpark.ingest."""
