"""carbonpark.inventory."""
