"""CRM rows a change needs beside itself, fetched once per batch (store.crm) for the mappers."""

from collections.abc import Mapping
from dataclasses import dataclass, field

from cdc_sync.events import Row


@dataclass(frozen=True)
class Lookups:
    """CRM rows a change needs beside itself (a tag's name, a contact's email), fetched per batch."""

    contacts: Mapping[int, Row] = field(default_factory=dict)
    tags: Mapping[int, str] = field(default_factory=dict)
