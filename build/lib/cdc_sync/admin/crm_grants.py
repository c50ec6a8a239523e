"""`cdc-sync db grant`: the service roles' privileges on the CRM's tables, from what the vendors'
plugins declare they write (store.grants holds the rule)."""

from sqlalchemy import Engine, text

from cdc_sync.store.grants import crm_grant_statements
from cdc_sync.vendors.registry import COMMAND_WRITES, CRM_WRITES


def grant_crm(engine: Engine, apply: bool = True) -> list[str]:
    """The statements (revokes, then grants) that leave the roles exactly what they need; run
    in one transaction as the CRM's owner unless only asked for."""
    with engine.begin() as conn:
        statements = crm_grant_statements(conn, CRM_WRITES, COMMAND_WRITES)
        if apply:
            for statement in statements:
                conn.execute(text(statement))
    return statements
