"""What the durable hooks count per attempt: the retry success rate and commit → ack latency."""

from datetime import UTC, datetime

import pytest
from prometheus_client import REGISTRY

from cdc_sync.config import NotificationConfig
from cdc_sync.delivery.durable import DurableHooks
from cdc_sync.events import SourcePosition
from cdc_sync.model.delivery import Action, Delivery, Outcome, VendorRequest
from cdc_sync.observability.notify import Notifier
from cdc_sync.store.ledger import LedgerWriter

DESTINATION = "durable-test"


def delivery(offset: int = 7) -> Delivery:
    source = SourcePosition(
        topic="crm.public.contacts", partition=0, offset=offset, lsn=1, tx_id=1, commit_ts=datetime.now(UTC)
    )
    request = VendorRequest(method="PUT", path="/members/x", body={})
    return Delivery(
        destination=DESTINATION,
        entity="contact:1",
        table="public.contacts",
        operation="member.upsert",
        request=request,
        idempotency_key="k",
        source=source,
    )


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, {"destination": DESTINATION, **labels}) or 0.0


@pytest.fixture
def hooks() -> DurableHooks:
    # attempted() only buffers ledger rows and counts: no database is reached.
    return DurableHooks(None, LedgerWriter(None), Notifier(NotificationConfig()))  # type: ignore[arg-type]


def test_deliveries_that_needed_a_retry_count_as_succeeded_or_failed_once(hooks: DurableHooks) -> None:
    retried = "cdc_sync_retried_deliveries_total"
    before = sample(retried, outcome="succeeded"), sample(retried, outcome="failed")
    ok, refused, busy = Outcome(200, 0.01), Outcome(400, 0.01), Outcome(503, 0.01)
    hooks.attempted(delivery(), 1, ok, Action.OK)  # no retry needed: not counted
    hooks.attempted(delivery(), 1, busy, Action.RETRY)
    hooks.attempted(delivery(), 2, ok, Action.OK)
    hooks.attempted(delivery(), 3, refused, Action.DEAD_LETTER)
    after = sample(retried, outcome="succeeded"), sample(retried, outcome="failed")
    assert (after[0] - before[0], after[1] - before[1]) == (1, 1)


def test_fresh_events_stay_out_of_commit_to_ack_latency(hooks: DurableHooks) -> None:
    count = "cdc_sync_end_to_end_latency_seconds_count"
    before = sample(count)
    hooks.attempted(delivery(offset=-1), 1, Outcome(200, 0.01), Action.OK)  # read from the CRM now
    assert sample(count) == before
    hooks.attempted(delivery(offset=7), 1, Outcome(200, 0.01), Action.OK)
    assert sample(count) == before + 1
