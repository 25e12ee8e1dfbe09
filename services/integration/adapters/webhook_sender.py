"""POST one signed webhook (Standard Webhooks: webhook-id, webhook-timestamp, webhook-signature)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime

import aiohttp
from standardwebhooks.webhooks import Webhook

from integration.domain.retry import parse_retry_after

USER_AGENT = "contactcenter-integration/1"


@dataclass(frozen=True)
class SendResult:
    delivered: bool
    #: HTTP status, or 0 when no response arrived.
    status: int
    #: Short reason for a failure ("HTTP 503", "connection refused", "timed out").
    reason: str = ""
    retry_after: float | None = None
    #: The event can never be sent as configured (e.g. a field mapping fails): dead-letter at once.
    permanent: bool = False


class WebhookSender:
    def __init__(self, timeout_seconds: float = 10.0) -> None:
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._session: aiohttp.ClientSession | None = None
        self._signers: dict[str, Webhook] = {}

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            # Per endpoint worker, so one slow endpoint cannot take all pooled connections.
            self._session = aiohttp.ClientSession(
                timeout=self._timeout, connector=aiohttp.TCPConnector(limit=64)
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def send(self, url: str, secret: str, webhook_id: str, body: bytes) -> SendResult:
        now = datetime.now(UTC)
        signer = self._signers.get(secret)
        if signer is None:
            signer = self._signers[secret] = Webhook(secret)
        signature = signer.sign(webhook_id, now, body.decode())
        headers = {
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            "webhook-id": webhook_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": signature,
        }
        try:
            async with self._client().post(url, data=body, headers=headers, allow_redirects=False) as reply:
                await reply.read()
                if 200 <= reply.status < 300:
                    return SendResult(True, reply.status)
                return SendResult(
                    False,
                    reply.status,
                    f"HTTP {reply.status}",
                    parse_retry_after(reply.headers.get("retry-after")),
                )
        except TimeoutError:
            return SendResult(False, 0, "timed out")
        except aiohttp.ClientConnectorError as error:
            return SendResult(False, 0, f"cannot connect: {error.os_error.strerror or error.os_error}")
        except (aiohttp.ClientError, asyncio.IncompleteReadError, OSError) as error:
            return SendResult(False, 0, f"{type(error).__name__}: {error}"[:200])
