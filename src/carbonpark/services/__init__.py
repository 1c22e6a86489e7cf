"""carbonpark.services."""

# Importing the ledger service installs the session hook that attests every committed
# audit-log entry (docs/ledger.md "The append interface").
from carbonpark.services import ledger as _ledger  # noqa: F401
