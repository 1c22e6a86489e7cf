"""carbonpark.factors."""
