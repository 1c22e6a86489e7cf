"""carbonpark.footprint."""
