"""carbonpark.api."""
