"""Alembic's entry: migrations run on the connection `store.migrate` hands over, in its
transaction, with the version table in cdc-sync's own schema."""

from alembic import context

from cdc_sync.store.tables import SCHEMA, metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    version_table_schema=SCHEMA,
    transactional_ddl=True,
)
with context.begin_transaction():
    context.run_migrations()
