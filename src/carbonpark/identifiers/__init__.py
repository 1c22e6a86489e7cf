"""carbonpark.identifiers."""
