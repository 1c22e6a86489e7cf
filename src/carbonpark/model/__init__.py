"""carbonpark.model."""
