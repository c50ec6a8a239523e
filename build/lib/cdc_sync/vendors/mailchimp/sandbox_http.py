"""Mailchimp's HTTP conventions: problem documents for errors, JSON bodies, paging parameters."""

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from cdc_sync.sandbox.bodies import FastJSONResponse
from cdc_sync.sandbox.effects import BadItemKeys
from cdc_sync.sandbox.recorder import json_object
from cdc_sync.vendors.mailchimp.sandbox_members import Invalid, NotFound

ERROR_DOCS = "https://mailchimp.com/developer/marketing/docs/errors/"
TITLES = {
    400: "Invalid Resource",
    401: "API Key Invalid",
    404: "Resource Not Found",
    429: "Too Many Requests",
}
MAX_PAGE = 1000

Endpoint = Callable[[Request], Awaitable[Response]]


def problem(
    status: int, detail: str, errors: list[dict[str, str]] | None = None, title: str = ""
) -> Response:
    body: dict[str, Any] = {
        "type": ERROR_DOCS,
        "title": title or TITLES.get(status) or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "instance": str(uuid.uuid4()),
    }
    if errors:
        body["errors"] = errors
    return FastJSONResponse(body, status_code=status, media_type="application/problem+json")


def answering_problems(endpoint: Endpoint) -> Endpoint:
    """Turn the model's refusals into Mailchimp problem documents."""

    async def answer(request: Request) -> Response:
        try:
            return await endpoint(request)
        except Invalid as exc:
            return problem(400, exc.detail, exc.errors, exc.title)
        except BadItemKeys as exc:
            return problem(400, str(exc))
        except NotFound as exc:
            return problem(404, str(exc))

    return answer


async def json_body(request: Request) -> dict[str, Any]:
    body = json_object(await request.body())
    if body is None:
        raise Invalid("The request body must be a JSON object.")
    return body


def page_param(request: Request, name: str, default: int, maximum: int) -> int:
    raw = request.query_params.get(name, str(default))
    if not raw.isascii() or not raw.isdigit() or int(raw) > maximum:
        raise Invalid(f"{name} must be an integer from 0 to {maximum}, got {raw!r}.")
    return int(raw)


def paging(request: Request) -> tuple[int, int]:
    """(count, offset) as Mailchimp's list endpoints take them."""
    return page_param(request, "count", 10, MAX_PAGE), page_param(request, "offset", 0, 2**31)


def json_bytes(body: bytes) -> Response:
    return Response(body, media_type="application/json")


def since_param(request: Request, name: str) -> float | None:
    """An ISO 8601 time parameter (`since_last_changed`) as unix seconds, None when absent."""
    raw = request.query_params.get(name)
    if raw is None:
        return None
    try:
        at = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise Invalid(f"{name} must be an ISO 8601 time, got {raw!r}.") from None
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).timestamp()
