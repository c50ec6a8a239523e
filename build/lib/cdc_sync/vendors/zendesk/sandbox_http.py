"""Zendesk's error bodies, and the refusals of the model turned into them."""

from collections.abc import Awaitable, Callable
from http import HTTPStatus

from starlette.requests import Request
from starlette.responses import Response

from cdc_sync.sandbox.bodies import FastJSONResponse
from cdc_sync.sandbox.effects import BadItemKeys
from cdc_sync.vendors.zendesk.sandbox_pages import BadPage
from cdc_sync.vendors.zendesk.sandbox_users import RecordInvalid, RecordNotFound

ERROR_NAMES = {404: "RecordNotFound", 409: "UpdateConflict", 422: "RecordInvalid", 429: "TooManyRequests"}
FIXED_DESCRIPTIONS = {404: "Not found"}

Endpoint = Callable[[Request], Awaitable[Response]]


class BadRequest(Exception):
    """A request Zendesk refuses as a whole with 400 (e.g. too many users in one job)."""


def zendesk_error(status: int, detail: str) -> Response:
    if status == 401:
        return FastJSONResponse({"error": "Couldn't authenticate you"}, status_code=401)
    name = ERROR_NAMES.get(status) or HTTPStatus(status).phrase.replace(" ", "")
    body = {"error": name, "description": FIXED_DESCRIPTIONS.get(status, detail)}
    return FastJSONResponse(body, status_code=status)


def record_invalid(exc: RecordInvalid) -> Response:
    body = {"error": "RecordInvalid", "description": "Record validation errors", "details": exc.details}
    return FastJSONResponse(body, status_code=422)


def answering_refusals(endpoint: Endpoint) -> Endpoint:
    async def answer(request: Request) -> Response:
        try:
            return await endpoint(request)
        except RecordInvalid as exc:
            return record_invalid(exc)
        except RecordNotFound:
            return zendesk_error(404, "Not found")
        except (BadPage, BadItemKeys, BadRequest) as exc:
            return zendesk_error(400, str(exc))

    return answer
