"""What the registry client makes of answers that are not a usable schema (found by `make fuzz`):
only `SchemaUnknown` (that id's records end as dead letters) or `StackUnavailable` (wait), never
an error that would stop the runner."""

import json

import httpx
import pytest

from cdc_sync.errors import SchemaUnknown, StackUnavailable
from cdc_sync.outbound.registry import SchemaRegistry

RECORD = {"type": "record", "name": "Key", "fields": [{"name": "id", "type": "long"}]}


def registry(status: int, body: bytes) -> SchemaRegistry:
    transport = httpx.MockTransport(lambda request: httpx.Response(status, content=body))
    return SchemaRegistry(
        "http://registry.test", client=httpx.Client(transport=transport, base_url="http://r")
    )


def answer(schema_text: str) -> bytes:
    return json.dumps({"schema": schema_text}).encode()


def test_a_schema_is_read_once_and_kept() -> None:
    calls: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        return httpx.Response(200, content=answer(json.dumps(RECORD)))

    client = httpx.Client(transport=httpx.MockTransport(handle), base_url="http://r")
    schemas = SchemaRegistry("http://registry.test", client=client)
    assert schemas.schema(3) == RECORD
    assert schemas.schema(3) == RECORD
    assert calls == ["/schemas/ids/3"]


@pytest.mark.parametrize(
    "schema_text",
    ['{"type": "record", "name":', '"string"', "[1, 2]", "[" * 5000 + "]" * 5000],
    ids=["not-json", "not-a-record", "a-list", "too-deep"],
)
def test_schema_text_that_is_no_record_is_an_unknown_schema(schema_text: str) -> None:
    with pytest.raises(SchemaUnknown, match="schema id 4"):
        registry(200, answer(schema_text)).schema(4)


@pytest.mark.parametrize(
    "body",
    [b"[]", b"{}", b'{"schema": 5}', b'{"schema": null}', b"[" * 5000 + b"]" * 5000, b"<html>"],
    ids=["list", "no-schema", "number", "null", "too-deep", "html"],
)
def test_an_answer_with_no_schema_text_is_an_unreadable_registry(body: bytes) -> None:
    with pytest.raises(StackUnavailable, match="schema registry"):
        registry(200, body).schema(4)
