"""What a vendor event does to the CRM, decided: the handler its vendor registered for the event's
kind reads the CRM and writes its decisions into a `WritePlan` (pure: `CrmReads` is the only input
beside the event). The writer applies the plan in its transaction."""

from collections.abc import Mapping

from cdc_sync.inbound.writes import Applied, CrmReads, WriteScope
from cdc_sync.model.config import Owner
from cdc_sync.model.inbound import InboundEvent
from cdc_sync.model.writes import WritePlan
from cdc_sync.vendors.registry import HANDLERS


def plan_write(
    event: InboundEvent, system: str, authority: Mapping[str, Owner], reads: CrmReads
) -> WritePlan:
    """The plan of one event, with how it ended (`status`, `detail`); an event of a kind no vendor
    handles is rejected with nothing to write."""
    scope = WriteScope.of(reads, event, system, authority)
    handler = HANDLERS.get(event.kind)
    applied = Applied("rejected", f"no handler for {event.kind}") if handler is None else handler(scope)
    scope.plan.status, scope.plan.detail = applied.status, applied.detail
    return scope.plan
