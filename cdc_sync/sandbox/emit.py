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


def emit_route(encoder: Encoder) -> Route:
    async def emit(request: Request) -> Response:
        try:
            order = EmitRequest.model_validate_json(await request.body())
        except ValidationError as exc:
            return invalid("invalid emit request", validation_problems(exc))
        event_id = str(order.event.get("id") or order.event.get("event_id") or f"msg_{time.time_ns()}")
        body, headers = encoder(order.event, event_id, order.timestamp or int(time.time()))
        async with httpx.AsyncClient(timeout=30) as client:
            try:
                answer = await client.post(order.target, content=body, headers=headers)
            except httpx.HTTPError as exc:
                return JSONResponse({"error": f"target unreachable: {exc}"}, status_code=502)
        return JSONResponse({"status": answer.status_code, "body": answer.text, "event_id": event_id})

    return Route(f"{CONTROL_PREFIX}emit", emit, methods=["POST"])
