"""The call center's webhook bodies become inbox events ordered by call leg or dial task; CRM dial
tasks go out as dial batches, the tasks of one batch in one call."""

import asyncio
from typing import Any

import httpx
import orjson
import pytest

from cdc_sync.inbound.payloads import BadPayload
from cdc_sync.inbound.sources import parse
from cdc_sync.mapping.routes import MapInput
from cdc_sync.model.config import DestinationConfig
from cdc_sync.model.delivery import Delivery
from cdc_sync.model.lookups import Lookups
from cdc_sync.vendors.callcenter.batch import DialBatches
from cdc_sync.vendors.callcenter.mapper import dial_tasks
from cdc_sync.vendors.registry import build_destination
from tests.unit.outbound.test_pipeline import event

JSON = "application/json"


def body(**document: Any) -> bytes:
    return orjson.dumps(document)


def test_a_call_event_is_ordered_by_its_leg_and_a_dial_result_by_its_task() -> None:
    call = {"call_id": "c-1", "segment_seq": 2, "direction": "inbound", "status": "ringing", "qa_tags": []}
    ringing = parse(
        "callcenter",
        JSON,
        body(event_id="e1", type="call.ringing", occurred_at="2026-12-02T09:00:00Z", call=call),
    )
    assert (ringing.kind, ringing.entity, ringing.data["direction"]) == (
        "call.ringing",
        "call:c-1#2",
        "inbound",
    )

    result = {"batch_id": "b-1", "task_id": "t-1", "result_code": "BUSY", "attempt_count": 2}
    dial = parse(
        "callcenter",
        JSON,
        body(event_id="e2", type="dial.result", occurred_at="2026-12-02T09:00:00Z", call=result),
    )
    assert (dial.entity, dial.data["result_code"]) == ("dial_task:t-1", "BUSY")


@pytest.mark.parametrize(
    ("kind", "priority"),
    [
        ("call.ringing", 0),
        ("call.answered", 0),
        ("call.ended", 0),
        ("call.recording_ready", 2),
        ("call.qa_completed", 2),
    ],
)
def test_call_records_go_before_recordings_and_qa_tags_when_the_writer_is_behind(
    kind: str, priority: int
) -> None:
    document = {
        "event_id": "e",
        "type": kind,
        "occurred_at": "2026-12-02T09:00:00Z",
        "call": {"call_id": "c"},
    }
    assert parse("callcenter", JSON, body(**document)).priority == priority


def test_a_dial_result_keeps_the_normal_priority() -> None:
    result = {"batch_id": "b", "task_id": "t", "result_code": "BUSY"}
    document = {"event_id": "e", "type": "dial.result", "occurred_at": "2026-12-02T09:00:00Z", "call": result}
    assert parse("callcenter", JSON, body(**document)).priority == 1


@pytest.mark.parametrize(
    "document",
    [
        {
            "event_id": "e",
            "type": "call.exploded",
            "occurred_at": "2026-12-02T09:00:00Z",
            "call": {"call_id": "c"},
        },
        {
            "event_id": "e",
            "type": "dial.result",
            "occurred_at": "2026-12-02T09:00:00Z",
            "call": {"task_id": "t", "batch_id": "b", "result_code": "MAYBE"},
        },
        {"event_id": "e", "type": "call.ended", "occurred_at": "yesterday", "call": {"call_id": "c"}},
    ],
)
def test_bodies_off_the_vendor_model_are_refused(document: dict[str, Any]) -> None:
    with pytest.raises(BadPayload) as refused:
        parse("callcenter", JSON, body(**document))
    assert refused.value.problem == "model"


def dial_task(task_id: str, batch_id: str = "b-1", status: str = "pending") -> dict[str, Any]:
    return {
        "id": 1,
        "batch_id": batch_id,
        "task_id": task_id,
        "target_phone_e164": "+493012345678",
        "contact_id": 7,
        "ext_campaign_id": "cmp",
        "status": status,
    }


def dial_deliveries(*task_ids: str, status: str = "pending") -> list[Delivery]:
    """What the mapper makes of newly inserted dial tasks of batch b-1."""
    rows = [{**dial_task(task_id, status=status), "id": n} for n, task_id in enumerate(task_ids, 1)]
    items = [
        MapInput(
            event("public.dial_tasks", "c", row, lsn=1000 + row["id"]), row, None, Lookups(), "cc", CONFIG
        )
        for row in rows
    ]
    return [delivery for item in items for delivery in dial_tasks(item).deliveries]


CONFIG = DestinationConfig(
    kind="callcenter",
    system="callcenter",
    base_url="http://vendor",
    tables=("public.dial_tasks",),
    credential_env="TEST_CALLCENTER_TOKEN",
    rate_limit_per_s=1000,
    batch_window_s=0,
)


def test_dial_tasks_of_one_batch_go_out_in_one_authenticated_call(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_CALLCENTER_TOKEN", "tok")
    seen: list[httpx.Request] = []

    def vendor(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(202, json={"accepted": len(orjson.loads(request.content)["tasks"])})

    deliveries = dial_deliveries("t-0", "t-1", "t-2")
    assert dial_deliveries("t-x", status="blocked") == []

    destination = build_destination("cc", CONFIG, httpx.MockTransport(vendor))
    assert {d.request.batch.group for d in deliveries if d.request.batch} == {"b-1"}
    outcomes = asyncio.run(DialBatches().send(destination, "b-1", deliveries))

    assert [o.status for o in outcomes] == [202, 202, 202]
    [request] = seen
    assert request.headers["authorization"] == "Bearer tok"
    assert orjson.loads(request.content) == {
        "batch_id": "b-1",
        "tasks": [
            {"task_id": f"t-{n}", "phone": "+493012345678", "contact_ref": "7", "campaign_id": "cmp"}
            for n in range(3)
        ],
    }
