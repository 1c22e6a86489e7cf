"""carbonpark.web."""
