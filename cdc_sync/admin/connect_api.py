"""Kafka Connect's REST API, the few calls cdc-sync makes."""

import time
from collections.abc import Callable
from typing import Any

import httpx

from cdc_sync.endpoints import HttpEndpoint
from cdc_sync.errors import ConfigError, StackUnavailable

ConnectorConfig = dict[str, str]
REBALANCE_RETRIES = 30


class ConnectApi:
    """A Kafka Connect worker's REST endpoint."""

    def __init__(
        self,
        endpoint: HttpEndpoint | str,
        client: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
        timeout_s: float = 30.0,
    ) -> None:
        """`endpoint`: see `endpoints.connect_endpoint` (a bare URL: no auth, the system CAs)."""
        endpoint = HttpEndpoint(endpoint) if isinstance(endpoint, str) else endpoint
        self._client = client or endpoint.client(timeout_s)
        self._sleep = sleep

    def config(self, name: str) -> ConnectorConfig | None:
        """The live config of a connector, or None if it does not exist."""
        response = self._call("GET", f"/connectors/{name}/config", missing_ok=True)
        return None if response is None else dict(response.json())

    def put_config(self, name: str, config: ConnectorConfig) -> None:
        self._call("PUT", f"/connectors/{name}/config", json=config)

    def status(self, name: str) -> dict[str, Any] | None:
        response = self._call("GET", f"/connectors/{name}/status", missing_ok=True)
        return None if response is None else dict(response.json())

    def tasks_use(self, name: str, config: ConnectorConfig) -> bool:
        """Whether every task already runs with `config` (a PUT restarts tasks asynchronously)."""
        response = self._call("GET", f"/connectors/{name}/tasks", missing_ok=True)
        if response is None:
            return False
        tasks = response.json()
        return bool(tasks) and all(
            task["config"].get(key) == value
            for task in tasks
            for key, value in config.items()
            if key in task["config"]
        )

    def validate(self, config: ConnectorConfig) -> list[str]:
        """Connect's own check of a config (`PUT /connector-plugins/{class}/config/validate`, which
        also lets Debezium try the database): one "key: error" per problem."""
        plugin = config.get("connector.class", "")
        response = self._call("PUT", f"/connector-plugins/{plugin}/config/validate", json=config)
        assert response is not None
        found = response.json().get("configs", [])
        return [f"{c['value']['name']}: {error}" for c in found for error in c["value"].get("errors") or []]

    def restart(self, name: str, task: int | None = None, only_failed: bool = False) -> None:
        """Restart the connector and its tasks (or only the failed ones), or one task."""
        if task is not None:
            self._call("POST", f"/connectors/{name}/tasks/{task}/restart")
            return
        flags = {"includeTasks": "true", "onlyFailed": str(only_failed).lower()}
        self._call("POST", f"/connectors/{name}/restart", params=flags)

    def pause(self, name: str) -> None:
        self._call("PUT", f"/connectors/{name}/pause")

    def resume(self, name: str) -> None:
        self._call("PUT", f"/connectors/{name}/resume")

    def _call(
        self, method: str, path: str, *, missing_ok: bool = False, **kwargs: Any
    ) -> httpx.Response | None:
        response = self._request(method, path, **kwargs)
        if response.status_code == 404 and missing_ok:
            return None
        if response.status_code in (400, 409, 422):
            raise ConfigError(f"Kafka Connect refused {method} {path}: {_message(response)}")
        if response.is_error:
            raise StackUnavailable(
                f"Kafka Connect: {method} {path} -> {response.status_code}: {_message(response)}"
            )
        return response

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One call, repeated while the worker group rebalances (Connect answers 409 or 500 then)."""
        for _ in range(REBALANCE_RETRIES):
            try:
                response = self._client.request(method, path, **kwargs)
            except httpx.HTTPError as exc:
                raise StackUnavailable(f"Kafka Connect: {method} {path} failed: {exc}") from exc
            if not (response.status_code in (409, 500) and "rebalance" in _message(response).lower()):
                break
            self._sleep(1.0)
        return response


def _message(response: httpx.Response) -> str:
    try:
        return str(response.json().get("message", response.text))
    except ValueError:
        return response.text
