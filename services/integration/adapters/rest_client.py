"""JSON over HTTP to a business system's REST API (connectors), with a bearer token and idempotency key."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import orjson

from integration.adapters.webhook_sender import SendResult
from integration.domain.retry import parse_retry_after


class RestClient:
    def __init__(self, base_url: str, token: str, timeout_seconds: float = 10.0) -> None:
        self._base_url = base_url
        self._token = token
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=self._timeout, connector=aiohttp.TCPConnector(limit=32)
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def call(
        self, method: str, path: str, idempotency_key: str, body: dict[str, Any] | None = None
    ) -> tuple[SendResult, Any]:
        """(result, parsed JSON answer or None)."""
        headers = {"accept": "application/json", "idempotency-key": idempotency_key}
        if self._token:
            headers["authorization"] = f"Bearer {self._token}"
        data = None
        if body is not None:
            headers["content-type"] = "application/json"
            data = orjson.dumps(body)
        try:
            async with self._client().request(
                method, self._base_url + path, data=data, headers=headers, allow_redirects=False
            ) as reply:
                raw = await reply.read()
                if 200 <= reply.status < 300:
                    try:
                        parsed = orjson.loads(raw) if raw else None
                    except orjson.JSONDecodeError:
                        parsed = None
                    return SendResult(True, reply.status), parsed
                if reply.status == 404 and method == "GET":
                    return SendResult(True, reply.status), None  # a lookup that found nobody
                retry_after = parse_retry_after(reply.headers.get("retry-after"))
                return SendResult(False, reply.status, f"HTTP {reply.status}", retry_after), None
        except TimeoutError:
            return SendResult(False, 0, "timed out"), None
        except aiohttp.ClientConnectorError as error:
            return SendResult(False, 0, f"cannot connect: {error.os_error.strerror or error.os_error}"), None
        except (aiohttp.ClientError, asyncio.IncompleteReadError, OSError) as error:
            return SendResult(False, 0, f"{type(error).__name__}: {error}"[:200]), None
