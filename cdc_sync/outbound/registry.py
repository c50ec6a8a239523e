"""Schema registry client for the Confluent-compatible API (Apicurio's ccompat endpoint).

Schema ids are immutable, so a schema fetched once is cached for the life of the process.
"""

import json
from collections.abc import Callable
from typing import Any

import httpx

from cdc_sync.endpoints import HttpEndpoint
from cdc_sync.errors import SchemaUnknown, StackUnavailable

AvroSchema = dict[str, Any]


class SchemaRegistry:
    """Reads schemas by id and subjects from a registry speaking the Confluent REST API."""

    def __init__(self, endpoint: HttpEndpoint | str, client: httpx.Client | None = None) -> None:
        """`endpoint`: see `endpoints.registry_endpoint` (a bare URL: no auth, the system CAs)."""
        endpoint = HttpEndpoint(endpoint) if isinstance(endpoint, str) else endpoint
        self._client = client or endpoint.client(timeout_s=10.0)
        self._by_id: dict[int, AvroSchema] = {}

    def schema(self, schema_id: int) -> AvroSchema:
        """The schema by id. `SchemaUnknown` if the registry has none by that id, or only text that
        is no JSON record; `StackUnavailable` if it cannot be read or answers with no schema text."""
        if schema_id not in self._by_id:
            path = f"/schemas/ids/{schema_id}"
            body = self._get(path, lambda detail: SchemaUnknown(schema_id, detail))
            self._by_id[schema_id] = _parsed(schema_id, _schema_text(path, body))
        return self._by_id[schema_id]

    def subjects(self) -> list[str]:
        return list(self._get("/subjects"))

    def versions(self, subject: str) -> list[int]:
        return list(self._get(f"/subjects/{subject}/versions"))

    def version(self, subject: str, version: int | str = "latest") -> dict[str, Any]:
        """One registered version: `{"subject", "version", "id", "schema"}`."""
        return dict(self._get(f"/subjects/{subject}/versions/{version}"))

    def _get(self, path: str, unknown: Callable[[str], Exception] | None = None) -> Any:
        """The JSON at `path`; a 404 raises `unknown(detail)` when given (the registry answered:
        it has no such thing), anything else that fails is an outage (`StackUnavailable`)."""
        try:
            response = self._client.get(path)
        except httpx.HTTPError as exc:
            raise StackUnavailable(f"schema registry: GET {path} failed: {exc}") from exc
        if response.status_code == 404 and unknown is not None:
            raise unknown(f"GET {path}: 404 {response.text[:200]}")
        try:
            response.raise_for_status()
            return response.json()
        except (httpx.HTTPError, ValueError, RecursionError) as exc:
            raise StackUnavailable(f"schema registry: GET {path} failed: {exc}") from exc


def _schema_text(path: str, body: Any) -> str:
    # Not the Confluent API's answer (a wrong base URL, a proxy): the registry is not readable.
    text = body.get("schema") if isinstance(body, dict) else None
    if not isinstance(text, str):
        raise StackUnavailable(f"schema registry: GET {path} answered no schema text: {str(body)[:200]}")
    return text


def _parsed(schema_id: int, text: str) -> AvroSchema:
    try:
        schema = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise SchemaUnknown(schema_id, f"schema text is not JSON: {exc}"[:300]) from exc
    if not isinstance(schema, dict):  # "string" is Avro too, but no record: nothing cdc-sync reads
        raise SchemaUnknown(schema_id, f"schema is not an Avro record: {text[:200]}")
    return schema
