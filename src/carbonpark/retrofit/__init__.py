"""carbonpark.retrofit."""
