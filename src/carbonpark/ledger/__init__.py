"""carbonpark.ledger."""
