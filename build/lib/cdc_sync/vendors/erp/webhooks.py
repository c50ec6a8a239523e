"""ERP webhooks (`/webhooks/erp`, JSON, Standard Webhooks signed): collections and refunds."""

from typing import Annotated, Literal

from pydantic import Field, TypeAdapter

from cdc_sync.inbound.payloads import Currency, Money, PayloadFormat, Ratio, VendorModel
from cdc_sync.model.inbound import Id, InboundEvent, Instant


class _ErpMoneyEvent(VendorModel):
    event_id: Id
    order_no: Id
    contract_no: Id
    amount: Money
    currency: Currency
    occurred_at: Instant


class ErpCollection(_ErpMoneyEvent):
    type: Literal["collection.recorded"]
    collected_ratio: Ratio


class ErpRefund(_ErpMoneyEvent):
    type: Literal["refund.recorded"]
    reason: str | None = None


ErpEvent = Annotated[ErpCollection | ErpRefund, Field(discriminator="type")]


def _erp_event(source: str, hook: ErpCollection | ErpRefund) -> InboundEvent:
    data = hook.model_dump(exclude={"type", "event_id", "occurred_at"})
    return InboundEvent(
        source=source,
        event_id=hook.event_id,
        kind=hook.type,
        entity=f"order:{hook.order_no}",
        occurred_at=hook.occurred_at,
        data=data,
    )


FORMAT = PayloadFormat("application/json", TypeAdapter[ErpCollection | ErpRefund](ErpEvent), _erp_event)
