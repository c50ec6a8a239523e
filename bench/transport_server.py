"""A vendor stand-in that is never the limit: uvloop + httptools, keep-alive, a Mailchimp-sized answer.

`python -m bench.transport_server PORT` answers every request 200 with a fixed member JSON.
"""

import asyncio
import sys
from typing import cast

import httptools
import orjson
import uvloop

MEMBER = orjson.dumps(
    {
        "id": "0" * 32,
        "email_address": "someone@example.com",
        "unique_email_id": "abcdef1234",
        "status": "transactional",
        "merge_fields": {"FNAME": "Bench", "LNAME": "Mark", "PHONE": "+4930123456", "COUNTRY": "DE"},
        "language": "de",
        "list_id": "crm-audience",
        "last_changed": "2025-01-01T00:00:00+00:00",
        "tags_count": 0,
    }
)
RESPONSE = (
    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
    + b"content-length: %d\r\n\r\n" % len(MEMBER)
    + MEMBER
)


class Vendor(asyncio.Protocol):
    def __init__(self) -> None:
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not an asyncio.Transport subclass

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            if self.transport is not None:
                self.transport.close()

    def on_message_complete(self) -> None:
        if self.transport is not None:
            self.transport.write(RESPONSE)


async def serve(port: int) -> None:
    server = await asyncio.get_running_loop().create_server(Vendor, "127.0.0.1", port, backlog=1024)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    uvloop.run(serve(int(sys.argv[1])))
