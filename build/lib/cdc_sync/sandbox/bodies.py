"""Response bodies built cheaply: orjson instead of the standard library's encoder, and batch
answers assembled from items encoded once (a replayed item is sent exactly as it was first)."""

from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from starlette.responses import JSONResponse


class FastJSONResponse(JSONResponse):
    """Starlette's JSONResponse, encoded by orjson."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def encoded(value: Any) -> bytes:
    """For answers kept in memory: orjson's bytes keep a 4 KiB allocation however short they
    are, so a kept answer is copied to its own size."""
    return exact(orjson.dumps(value))


def exact(body: bytes) -> bytes:
    return bytes(memoryview(body))


def assembled(parts: Mapping[str, Sequence[bytes]], extra: Mapping[str, Any]) -> bytes:
    """`{"<part>": [<encoded items>], ..., **extra}` without decoding the items again."""
    document = {name: orjson.Fragment(b"[" + b",".join(items) + b"]") for name, items in parts.items()}
    return orjson.dumps({**document, **extra})
