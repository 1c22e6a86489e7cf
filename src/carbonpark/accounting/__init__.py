"""carbonpark.accounting."""
