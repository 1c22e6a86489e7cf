"""carbonpark.dispatch."""
