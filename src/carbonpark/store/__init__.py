"""Storage adapter (layer L3): SQLAlchemy schema, Alembic migrations, registry and readings."""

from carbonpark.store.db import (
    SchemaOutdated,
    connect,
    current_revisions,
    head_revisions,
    is_postgres,
    normalise_url,
    schema_revision,
    session,
    upgrade,
)
from carbonpark.store.readings import ReadingRow, count_readings, insert_readings

__all__ = [
    "ReadingRow",
    "SchemaOutdated",
    "connect",
    "count_readings",
    "current_revisions",
    "head_revisions",
    "insert_readings",
    "is_postgres",
    "normalise_url",
    "schema_revision",
    "session",
    "upgrade",
]
