"""carbonpark.evaluate."""
