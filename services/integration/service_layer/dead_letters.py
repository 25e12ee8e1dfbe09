"""Inspect and replay a subscription's dead letters."""

from __future__ import annotations

from dataclasses import dataclass

from integration.adapters.dead_letters import DeadLetterRecord, DeadLetterStore
from integration.adapters.webhook_sender import WebhookSender
from integration.domain import payloads
from integration.service_layer.metrics import DeliveryMetrics


@dataclass(frozen=True)
class ReplayReport:
    delivered: int
    failed: list[DeadLetterRecord]


class DeadLetters:
    def __init__(self, store: DeadLetterStore, sender: WebhookSender, metrics: DeliveryMetrics) -> None:
        self._store = store
        self._sender = sender
        self._metrics = metrics

    async def list(self, tenant_id: str, subscription: str) -> list[DeadLetterRecord]:
        return await self._store.list(tenant_id, subscription)

    async def replay(
        self, tenant_id: str, subscription: str, url: str, secret: str, event_ids: set[str]
    ) -> ReplayReport:
        """Send each chosen dead letter once more, oldest first; the delivered ones leave the store."""
        delivered = 0
        failed: list[DeadLetterRecord] = []
        for record in await self._store.list(tenant_id, subscription):
            if event_ids and record.event.event_id not in event_ids:
                continue
            body = payloads.encode(payloads.body_of(record.event))
            result = await self._sender.send(url, secret, record.event.event_id, body)
            if result.delivered:
                await self._store.remove(tenant_id, subscription, record.event.event_id)
                self._metrics.dead_letter_depth.add(-1, {"subscription": subscription})
                self._metrics.deliveries.add(1, {"subscription": subscription, "outcome": "replayed"})
                delivered += 1
                continue
            attempts = record.attempts + 1
            await self._store.put(tenant_id, subscription, record.event, attempts, result.reason)
            failed.append(
                DeadLetterRecord(subscription, record.event, attempts, result.reason, record.dead_lettered_at)
            )
        return ReplayReport(delivered, failed)
