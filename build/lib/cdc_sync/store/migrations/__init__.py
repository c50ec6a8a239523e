"""cdc_sync's schema history (Alembic): `cdc-sync db migrate` runs it as the schema's owner."""
