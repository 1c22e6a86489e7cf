"""carbonpark.quality."""
