"""cdc-sync: change-data-capture replication between a CRM's PostgreSQL and vendor APIs."""

__version__ = "0.1.0"
