"""carbonpark.reports."""
