"""How an endpoint worker hands one event over: a signed webhook, or a connector's REST requests."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from contactcenter.events.v1 import events_pb2
from integration.adapters.rest_client import RestClient
from integration.adapters.webhook_sender import SendResult, WebhookSender
from integration.domain import payloads
from integration.domain.connectors import (
    CompiledConnector,
    MappingError,
    customer_attributes,
    identifier_of,
    lookup_path,
    render_request,
)

#: Applies attributes found by a CRM lookup to the contact: (event, attributes) -> None.
AttributeSink = Callable[[events_pb2.Event, dict[str, str]], Awaitable[None]]


class Transport(Protocol):
    async def send(self, event: events_pb2.Event, body: dict[str, Any]) -> SendResult: ...

    async def close(self) -> None: ...


@dataclass(frozen=True)
class WebhookTarget:
    url: str
    secret: str


@dataclass(frozen=True)
class ConnectorTarget:
    connector: CompiledConnector


class WebhookTransport:
    def __init__(self, target: WebhookTarget, sender: WebhookSender) -> None:
        self._target = target
        self._sender = sender

    async def send(self, event: events_pb2.Event, body: dict[str, Any]) -> SendResult:
        return await self._sender.send(
            self._target.url, self._target.secret, event.event_id, payloads.encode(body)
        )

    async def close(self) -> None:
        await self._sender.close()


class ConnectorTransport:
    """Every request configured for the event's type, in order; the event's id is the idempotency key."""

    def __init__(self, target: ConnectorTarget, client: RestClient, on_attributes: AttributeSink) -> None:
        self._connector = target.connector
        self._client = client
        self._on_attributes = on_attributes

    async def send(self, event: events_pb2.Event, body: dict[str, Any]) -> SendResult:
        kind = body["type"]
        result = SendResult(True, 0)
        try:
            lookup = self._connector.lookup
            identifier = identifier_of(body) if kind == "contact_created" and lookup is not None else None
            if lookup is not None and identifier is not None:
                result, customer = await self._client.call(
                    "GET", lookup_path(lookup, identifier), event.event_id
                )
                if not result.delivered:
                    return result
                if customer is not None:
                    await self._on_attributes(event, customer_attributes(lookup, customer))
            for index, request in enumerate(self._connector.requests):
                if request.on != kind:
                    continue
                method, path, fields = render_request(request, body)
                result, _ = await self._client.call(method, path, f"{event.event_id}-{index}", fields)
                if not result.delivered:
                    return result
        except MappingError as error:
            return SendResult(False, 0, f"field mapping failed: {error}", permanent=True)
        return result

    async def close(self) -> None:
        await self._client.close()
