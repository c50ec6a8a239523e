"""`POST /_sandbox/emit`: the vendor sends one of its webhooks to cdc-sync, signed its own way.

Body: `{"event": <the vendor's payload>, "target": "http://127.0.0.1:8000/webhooks/<source>",
"timestamp": <unix seconds, optional: to send a stale one>}`. Answers with what the target said.
"""

import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx
import orjson
from pydantic import BaseModel, ConfigDict, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from cdc_sync.sandbox.control import CONTROL_PREFIX, invalid, validation_problems
from cdc_sync.signing import signed_headers

# (payload, event id, unix timestamp) → (body, headers)
Encoder = Callable[[Mapping[str, Any], str, int], tuple[bytes, dict[str, str]]]


class EmitRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    event: dict[str, Any]
    target: str
    timestamp: int | None = None


def standard_webhooks(secret: str) -> Encoder:
    def encode(payload: Mapping[str, Any], event_id: str, timestamp: int) -> tuple[bytes, dict[str, str]]:
        body = orjson.dumps(payload)
        return body, {"content-type": "application/json", **signed_headers(secret, event_id, timestamp, body)}

    return encode


def event_id_of(event: Mapping[str, Any]) -> str:
    return str(event.get("id") or event.get("event_id") or f"msg_{time.time_ns()}")


async def send_signed(
    client: httpx.AsyncClient,
    encoder: Encoder,
    event: Mapping[str, Any],
    target: str,
    timestamp: int | None = None,
    event_id: str | None = None,
) -> httpx.Response:
    """One webhook to `target`, signed the vendor's way; httpx.HTTPError if it cannot be sent."""
    body, headers = encoder(event, event_id or event_id_of(event), timestamp or int(time.time()))
    return await client.post(target, content=body, headers=headers)


def emit_route(encoder: Encoder) -> Route:
    async def emit(request: Request) -> Response:
        try:
            order = EmitRequest.model_validate_json(await request.body())
        except ValidationError as exc:
            return invalid("invalid emit request", validation_problems(exc))
        event_id = event_id_of(order.event)
        async with httpx.AsyncClient(timeout=30) as client:
            try:
                answer = await send_signed(
                    client, encoder, order.event, order.target, order.timestamp, event_id
                )
            except httpx.HTTPError as exc:
                return JSONResponse({"error": f"target unreachable: {exc}"}, status_code=502)
        return JSONResponse({"status": answer.status_code, "body": answer.text, "event_id": event_id})

    return Route(f"{CONTROL_PREFIX}emit", emit, methods=["POST"])
