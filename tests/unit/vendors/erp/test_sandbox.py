"""The ERP webhook receiver: signed hooks in, forged or stale hooks out, redeliveries counted once."""

import httpx
import orjson
import pytest

from cdc_sync.signing import signed_headers
from cdc_sync.vendors.erp.sandbox import DEFAULT_ERP_WEBHOOK_SECRET, create_erp_app
from tests.unit.sandbox.fakes import START, FakeClock, client, settings

pytestmark = pytest.mark.anyio

BODY = orjson.dumps({"event": "order.created", "order_id": 7})


def erp() -> httpx.AsyncClient:
    return client(create_erp_app(settings(), clock=FakeClock(START)))


async def deliver(
    sandbox: httpx.AsyncClient,
    msg_id: str,
    *,
    secret: str = DEFAULT_ERP_WEBHOOK_SECRET,
    sent_at: float = START,
) -> httpx.Response:
    headers = {"content-type": "application/json", **signed_headers(secret, msg_id, int(sent_at), BODY)}
    return await sandbox.post("/hooks/orders", content=BODY, headers=headers)


async def test_signed_hook_is_accepted_and_recorded() -> None:
    async with erp() as sandbox:
        response = await deliver(sandbox, "msg_1")
        hooks = (await sandbox.get("/_sandbox/hooks")).json()
        effects = (await sandbox.get("/_sandbox/effects")).json()
    assert response.status_code == 204
    assert hooks == {"hooks": [{"name": "orders", "webhook_id": "msg_1", "body": orjson.loads(BODY)}]}
    assert effects == {"effects": {"msg_1": 1}, "total": 1}


@pytest.mark.parametrize(
    ("secret", "sent_at"),
    [
        ("whsec_" + "Zm9yZ2Vk", START),
        (DEFAULT_ERP_WEBHOOK_SECRET, START - 301),
        (DEFAULT_ERP_WEBHOOK_SECRET, START + 301),
    ],
    ids=["forged", "stale", "future"],
)
async def test_forged_or_stale_hooks_are_refused_without_effect(secret: str, sent_at: float) -> None:
    async with erp() as sandbox:
        response = await deliver(sandbox, "msg_1", secret=secret, sent_at=sent_at)
        hooks = (await sandbox.get("/_sandbox/hooks")).json()
        effects = (await sandbox.get("/_sandbox/effects")).json()
    assert (response.status_code, response.json()["error"]) == (401, "invalid signature")
    assert (hooks, effects["total"]) == ({"hooks": []}, 0)


async def test_redelivered_webhook_id_is_one_effect() -> None:
    async with erp() as sandbox:
        statuses = [(await deliver(sandbox, "msg_1")).status_code for _ in range(2)]
        await deliver(sandbox, "msg_2")
        hooks = (await sandbox.get("/_sandbox/hooks")).json()["hooks"]
        effects = (await sandbox.get("/_sandbox/effects")).json()
    assert statuses == [204, 204]
    assert [hook["webhook_id"] for hook in hooks] == ["msg_1", "msg_2"]
    assert effects == {"effects": {"msg_1": 1, "msg_2": 1}, "total": 2}


async def test_a_known_webhook_id_with_a_forged_signature_is_still_refused() -> None:
    async with erp() as sandbox:
        await deliver(sandbox, "msg_1")
        forged = await deliver(sandbox, "msg_1", secret="whsec_Zm9yZ2Vk")
    assert forged.status_code == 401


async def test_signed_body_that_is_not_json_is_a_400() -> None:
    async with erp() as sandbox:
        headers = signed_headers(DEFAULT_ERP_WEBHOOK_SECRET, "msg_1", int(START), b"hello")
        response = await sandbox.post("/hooks/orders", content=b"hello", headers=headers)
        hooks = (await sandbox.get("/_sandbox/hooks")).json()["hooks"]
    assert (response.status_code, hooks) == (400, [])


async def deliver_batch(sandbox: httpx.AsyncClient, msg_id: str, keys: list[str]) -> httpx.Response:
    body = orjson.dumps({"type": "batch", "events": [{"event_id": key} for key in keys]})
    headers = {
        "content-type": "application/json",
        "x-item-idempotency-keys": ",".join(keys),
        **signed_headers(DEFAULT_ERP_WEBHOOK_SECRET, msg_id, int(START), body),
    }
    return await sandbox.post("/hooks/orders", content=body, headers=headers)


async def test_a_batch_counts_each_event_once_across_deliveries() -> None:
    async with erp() as sandbox:
        first = await deliver_batch(sandbox, "msg_a", ["e1", "e2"])
        second = await deliver_batch(sandbox, "msg_b", ["e2", "e3"])  # e2 again, in another batch
        short = await deliver_batch(sandbox, "msg_c", [])
        effects = (await sandbox.get("/_sandbox/effects")).json()
    assert (first.status_code, second.status_code, short.status_code) == (204, 204, 204)
    assert effects == {"effects": {"e1": 1, "e2": 1, "e3": 1}, "total": 3}
