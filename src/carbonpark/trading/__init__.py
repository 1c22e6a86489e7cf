"""carbonpark.trading."""
