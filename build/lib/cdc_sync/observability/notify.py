"""Alert notifications: every alert is a row; severe ones also go to the notification URL."""

import logging
from typing import Any

import httpx

from cdc_sync.config import NotificationConfig

log = logging.getLogger(__name__)


class Notifier:
    """POSTs alerts as JSON to the configured URL (a chat/pager webhook). Failures are logged only:
    the alert row is already durable and is what operators query."""

    def __init__(self, config: NotificationConfig, client: httpx.AsyncClient | None = None) -> None:
        self._config = config
        self._client = client or httpx.AsyncClient(timeout=5.0)

    @property
    def recipients(self) -> list[str]:
        return list(self._config.recipients.values())

    async def notify(self, alert: dict[str, Any]) -> bool:
        if self._config.url is None:
            return False
        payload = {**alert, "recipients": self._config.recipients}
        try:
            response = await self._client.post(self._config.url, json=payload)
        except httpx.HTTPError as exc:
            log.warning("alert notification to %s failed: %s", self._config.url, exc)
            return False
        return response.is_success

    async def aclose(self) -> None:
        await self._client.aclose()
