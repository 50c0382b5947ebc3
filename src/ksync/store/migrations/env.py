"""Alembic environment: runs against the connection `ksync.store.db.migrate` hands in."""

from alembic import context

from ksync.store.tables import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
