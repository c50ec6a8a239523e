"""A TCP forwarder in front of the sandboxes, so a vendor outage can refuse connections: `refuse()`
closes the listeners and every open connection, `accept()` listens again."""

import asyncio
import threading
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Any

CHUNK = 65536
Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class Proxy:
    def __init__(self, routes: Mapping[int, int]) -> None:
        self.routes = dict(routes)  # listen port → sandbox port, both on 127.0.0.1
        self._loop = asyncio.new_event_loop()
        self._servers: list[asyncio.Server] = []
        self._open: set[asyncio.StreamWriter] = set()
        threading.Thread(target=self._loop.run_forever, name="chaos-proxy", daemon=True).start()

    def _call(self, coroutine: Coroutine[Any, Any, None]) -> None:
        asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=30)

    def accept(self) -> None:
        self._call(self._listen())

    def refuse(self) -> None:
        self._call(self._close())

    def stop(self) -> None:
        self.refuse()
        self._loop.call_soon_threadsafe(self._loop.stop)

    async def _listen(self) -> None:
        for listen, target in self.routes.items():
            handler = self._handler(target)
            server = await asyncio.start_server(handler, "127.0.0.1", listen, reuse_address=True)
            self._servers.append(server)

    def _handler(self, target: int) -> Handler:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await self._pipe(reader, writer, target)

        return handle

    async def _close(self) -> None:
        servers, self._servers = self._servers, []
        for server in servers:
            server.close()
        for writer in list(self._open):
            writer.transport.abort()
        for server in servers:
            await server.wait_closed()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, target: int) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", target)
        except OSError:
            writer.transport.abort()
            return
        self._open.update((writer, up_writer))
        await asyncio.gather(self._copy(reader, up_writer), self._copy(up_reader, writer))
        self._open.difference_update((writer, up_writer))

    async def _copy(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(CHUNK):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()
