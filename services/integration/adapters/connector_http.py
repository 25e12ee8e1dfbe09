"""GETs to connectors' REST APIs for journeys: one client per system, the caller's timeout per call."""

from __future__ import annotations

import asyncio
from typing import Any

from integration.adapters.rest_client import RestClient
from integration.adapters.webhook_sender import SendResult


class ConnectorHttp:
    def __init__(self, max_timeout_seconds: float = 30.0) -> None:
        self._max_timeout = max_timeout_seconds
        self._clients: dict[tuple[str, str], RestClient] = {}

    async def get(self, base_url: str, token: str, path: str, timeout: float) -> tuple[SendResult, Any]:
        key = (base_url, token)
        client = self._clients.get(key)
        if client is None:
            client = self._clients[key] = RestClient(base_url, token, self._max_timeout)
        try:
            # No idempotency concern for a read: the key only lets the system correlate retries.
            return await asyncio.wait_for(client.call("GET", path, "flow-lookup"), max(0.0, timeout))
        except TimeoutError:
            return SendResult(False, 0, "timed out"), None

    async def close(self) -> None:
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.close()
