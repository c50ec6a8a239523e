"""The aiohttp port to a vendor, over a real socket: a redirect is answered, never followed."""

import asyncio

from aiohttp import web
from aiohttp.test_utils import TestServer

from cdc_sync.delivery.http import AiohttpPort


def test_a_vendor_redirect_is_its_answer_and_is_not_followed() -> None:
    followed: list[str] = []

    async def moved(request: web.Request) -> web.Response:
        raise web.HTTPFound("/internal")

    async def internal(request: web.Request) -> web.Response:
        followed.append(request.method)
        return web.Response(text="secret")

    async def go() -> int | None:
        app = web.Application()
        app.router.add_post("/v1/dial-batches", moved)
        app.router.add_route("*", "/internal", internal)
        async with TestServer(app) as server:
            port = AiohttpPort(str(server.make_url("")), 1, 5.0)
            try:
                answer = await port.request("POST", "/v1/dial-batches", b"{}", {"Authorization": "Bearer t"})
            finally:
                await port.aclose()
        return answer.outcome.status

    assert (asyncio.run(go()), followed) == (302, [])
