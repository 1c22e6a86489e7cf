"""carbonpark.store."""
