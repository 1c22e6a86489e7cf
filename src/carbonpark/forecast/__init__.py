"""carbonpark.forecast."""
