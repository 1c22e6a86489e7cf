"""carbonpark.services."""
