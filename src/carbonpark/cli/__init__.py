"""carbonpark.cli."""
