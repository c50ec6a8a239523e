"""What a vendor plugs into the core: the `Vendor` record and the narrow ports it fills in.

Each vendor folder (`vendors/<name>/plugin.py`) builds one `Vendor`; `vendors/registry.py` lists
them. The core asks the registry, never a vendor module, so adding a vendor touches its folder
and one line of the registry.
"""

from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import BaseModel
from starlette.applications import Starlette

from cdc_sync.delivery.destinations import AnswerRef, BatchApi, Signer
from cdc_sync.delivery.http import Headers
from cdc_sync.inbound.payloads import PayloadFormat
from cdc_sync.inbound.verifiers import VerifierFactory
from cdc_sync.inbound.writes import Applied, WriteScope
from cdc_sync.mapping.routes import TableMapper
from cdc_sync.model.config import DestinationConfig, SourceConfig
from cdc_sync.model.delivery import Delivery, Method
from cdc_sync.model.inbound import InboundEvent
from cdc_sync.model.reconcile import Record

if TYPE_CHECKING:
    import click

    from cdc_sync.sandbox.server import SandboxSettings

Credentials = Callable[[DestinationConfig, str], tuple[Headers, Signer]]
"""(config, secret) → the auth headers every request carries, and how a request is signed."""
BatchApiFactory = Callable[[DestinationConfig], BatchApi | None]


@dataclass(frozen=True)
class Page:
    items: tuple[dict[str, Any], ...]
    total: int | None = None  # all records the vendor holds, when it says


class VendorReader(Protocol):
    """Reads back what the vendor holds, for reconciliation."""

    def pages(self) -> AsyncIterator[Page]: ...

    async def one(self, key: str) -> dict[str, Any] | None: ...

    async def aclose(self) -> None: ...


class ReadApi(Protocol):
    """GETs against one destination, paced and retried (`repair.readers.VendorApi`)."""

    async def get(
        self, path: str, params: dict[str, Any] | None = None, missing_ok: bool = False
    ) -> dict[str, Any] | None: ...

    async def aclose(self) -> None: ...


ReaderFactory = Callable[[str, DestinationConfig, Callable[[], ReadApi]], VendorReader]
"""(destination name, config, opens the API) → its reader; checks the config before opening."""


@dataclass(frozen=True)
class Reconciliation:
    """How reconciliation sees this vendor's records."""

    # Deliveries as the vendor would apply them → expected records by key.
    expected: Callable[[Iterable[Delivery]], dict[str, Record]]
    # One record as the vendor lists it (and the CRM's tag vocabulary) → a compared record, or
    # None for records cdc-sync does not own.
    parse: Callable[[Mapping[str, Any], frozenset[str]], Record | None]


@dataclass(frozen=True)
class SandboxApp:
    """The vendor's stand-in: `cdc-sync sandbox` serves it under `name`, on `port` unless the
    settings' `ports` say otherwise. Its own settings (credentials, delays) are `settings`, flat
    keys of `SandboxSettings`; `secret_fields` of them are masked in logs."""

    name: str
    create: Callable[["SandboxSettings"], Starlette]
    port: int
    settings: type[BaseModel] | None = None
    secret_fields: tuple[str, ...] = ()


@dataclass(frozen=True)
class BackfillStart:
    since: datetime  # records changed at or after this
    after: str | None  # resume after this position (a page's `after`), or start at `since`
    page_size: int


@dataclass(frozen=True)
class BackfillPage:
    """One page read from the vendor: its records as the events its webhooks would have sent
    (those cdc-sync merges), how many records it held, and the position to resume after it."""

    events: tuple[InboundEvent, ...]
    records: int
    after: str
    total: int | None = None  # all records to read, when the vendor says


@dataclass(frozen=True)
class Backfill:
    """History read from the vendor (`cdc-sync backfill <system>`), merged by the same handlers
    and authority rules as its webhooks' events: the events name one of its webhook sources."""

    pages: Callable[[ReadApi, DestinationConfig, BackfillStart], AsyncIterator[BackfillPage]]
    per_minute: float  # requests a minute by default, below the vendor's limit for the endpoint
    page_size: int
    reads: str  # what it reads, for the command's help ("the incremental ticket export")


class SubjectApi(ReadApi, Protocol):
    """Calls to one destination for a data-subject request (`repair.readers.VendorApi`)."""

    async def send(
        self,
        method: Method,
        path: str,
        body: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        missing_ok: bool = False,
        key: str | None = None,
    ) -> dict[str, Any] | None: ...


@dataclass(frozen=True)
class Subject:
    """The person a data-subject request is about, as the vendors know them."""

    contact_id: int
    email: str | None  # from the CRM row (or the operator, when the CRM row is gone)
    refs: tuple[str, ...] = ()  # this vendor's own ids of the contact (`vendor_refs`)


SubjectCall = Callable[[SubjectApi, DestinationConfig, Subject], Awaitable[Any]]


@dataclass(frozen=True)
class SubjectRights:
    """What the vendor holds about one person, and how it is erased there (`cdc-sync privacy`).
    `export` answers the vendor's records of the subject (None: it holds none); `erase` deletes
    them for good and answers whether there was anything to delete (a re-run finds nothing and
    answers False). A missing call means the vendor's API offers none: `unsupported` says so."""

    export: SubjectCall | None = None
    erase: SubjectCall | None = None
    unsupported: str = ""


Handler = Callable[[WriteScope], Applied]
"""One kind of vendor event → what it does to the CRM, decided into `scope.plan` (pure)."""


AdmissionFactory = Callable[[Mapping[str, DestinationConfig]], Callable[[InboundEvent], str | None]]
"""(the configured destinations) → why a well-signed event of the source is not ours, or None."""


@dataclass(frozen=True)
class WebhookSource:
    """One way the vendor calls us, at `/webhooks/<name>`: its default config and its payload,
    and optionally the check that an event is for an account of ours (403 and an alert if not)."""

    config: SourceConfig
    payload: PayloadFormat[Any]
    admission: AdmissionFactory | None = None


def _no_batches(config: DestinationConfig) -> BatchApi | None:
    return None


@dataclass(frozen=True)
class Vendor:
    """One vendor kind and everything the core needs from it. Only `name` is required: the ERP
    has no destination kind of its own (it receives signed webhooks), only webhooks and a sandbox."""

    name: str
    system: str | None = None  # the system it speaks for, an owner in the authority rules
    # Destination settings of this kind beyond the common ones (validated with extra="forbid").
    options: type[BaseModel] | None = None
    # Destination side (a `kind` of the config) when credentials are given.
    credentials: Credentials | None = None
    mappers: Mapping[str, TableMapper] = field(default_factory=dict)  # table → mapper
    any_table: TableMapper | None = None  # a mapper for every table (the webhook destination)
    removals: frozenset[str] = frozenset()  # operations after which earlier changes are stale
    batch_api: BatchApiFactory = _no_batches
    answer_ref: AnswerRef | None = None  # its id of the object in a single request's answer
    reader: ReaderFactory | None = None  # None: write-only, cannot be reconciled
    reconciliation: Reconciliation | None = None
    sandbox: SandboxApp | None = None
    # Inbound side: the webhook sources it calls, the event kinds they carry, its own schemes.
    sources: Mapping[str, WebhookSource] = field(default_factory=dict)
    handlers: Mapping[str, Handler] = field(default_factory=dict)
    schemes: Mapping[str, VerifierFactory] = field(default_factory=dict)
    backfill: Backfill | None = None
    subject_rights: SubjectRights | None = None  # None: it keeps nothing about a person
    channels: frozenset[str] = frozenset()  # live channels its handlers announce on (`GET /events/...`)
    # CRM table → the privileges its handlers' writes need ("INSERT, UPDATE"), and its operator
    # commands'; the database grants the writer and the operator role exactly these (store.grants).
    crm_writes: Mapping[str, str] = field(default_factory=dict)
    command_writes: Mapping[str, str] = field(default_factory=dict)
    # Operator commands of its own (`cdc-sync <group> ...`), loaded when the CLI starts: a
    # callable, since commands import the CLI, which imports the registry.
    commands: Callable[[], Sequence["click.Command"]] | None = None

    def mapper_for(self, table: str) -> TableMapper | None:
        return self.any_table or self.mappers.get(table)
