"""Poison letters' records decoded again on replay, and checked against their contract as the
live service checks them (a decoded record has its writer schema, unlike a stored event)."""

from functools import cached_property
from pathlib import Path
from typing import Any

from cdc_sync.endpoints import HttpEndpoint
from cdc_sync.events import ChangeEvent
from cdc_sync.outbound.contracts import Contracts, load_contracts
from cdc_sync.outbound.envelope import EnvelopeDecoder
from cdc_sync.outbound.poison import stored_record
from cdc_sync.outbound.registry import SchemaRegistry


class StoredRecords:
    def __init__(self, registry: HttpEndpoint, contracts_dir: Path) -> None:
        self._decoder = EnvelopeDecoder(SchemaRegistry(registry))
        self._contracts_dir = contracts_dir

    def decode(self, payload: dict[str, Any]) -> ChangeEvent | None:
        """The change the record carries (None: a tombstone); `RejectedEvent` while it still
        cannot be one, `StackUnavailable` while the registry cannot be read."""
        return self._decoder.decode(stored_record(payload))

    def check_contract(self, event: ChangeEvent) -> int:
        return self._contracts.check(event, self._decoder.row_schema(event.schema_id))

    @cached_property
    def _contracts(self) -> Contracts:
        return load_contracts(self._contracts_dir)
