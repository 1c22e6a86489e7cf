"""Alembic environment: runs on the connection carbonpark hands over (see store.db.upgrade)."""

from __future__ import annotations

from alembic import context

from carbonpark.store.schema import Base

config = context.config
connection = config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
