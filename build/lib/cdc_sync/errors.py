"""One exception tree, named for what the caller does next.

Foreign exceptions (httpx, psycopg, KafkaException) are translated at the boundary into
one of these; nothing above the adapters sees a library's own error type.
"""


class CdcSyncError(Exception):
    """Root of every error cdc-sync raises on purpose."""


class ConfigError(CdcSyncError):
    """Bad configuration or usage: fix it and rerun (CLI exit 2)."""


class StackUnavailable(CdcSyncError):
    """A part of the stack (Kafka, Connect, registry, database) cannot be reached (CLI exit 1)."""


class SignatureInvalid(CdcSyncError):
    """Forged, stale or replayed: 401 + alert."""


class RejectedEvent(CdcSyncError):
    """This event can never be processed as it is: dead-letter it with the reason."""


class SchemaUnknown(RejectedEvent):
    """The registry does not know the schema id a record names (after bounded retries: poison)."""

    def __init__(self, schema_id: int, detail: str) -> None:
        super().__init__(f"schema id {schema_id} is unknown to the registry: {detail}")
        self.schema_id = schema_id


class ContractViolation(RejectedEvent):
    """The event breaks its versioned schema contract."""


class DestinationBusy(CdcSyncError):
    """Another operator action holds the destination's lock (store/operator_locks.py)."""


class RetryableError(CdcSyncError):
    """A transient failure: back off and try again."""


class ChangeInFlight(CdcSyncError):
    """The object has work not yet delivered or decided (held, dead-lettered, in the inbox, in
    review): finish that, then retry (CLI exit 1)."""


class SealedUnreadable(CdcSyncError):
    """A value stored encrypted does not open: its data key is not configured, or it was altered
    (CLI exit 1; configure the key that sealed it, see `cdc-sync keys rotate`)."""
