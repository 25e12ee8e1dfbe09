"""CRM and helpdesk connectors against fake REST systems: field mappings are configuration."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from nats.aio.client import Client as NATS
from nats.js.api import ConsumerConfig, DeliverPolicy

from ccmesh.configplane.loader import DocumentError, validate_document
from ccmesh.configplane.store import ConfigStore
from ccmesh.events import EventPublisher
from contactcenter.common.v1 import common_pb2
from contactcenter.events.v1 import events_pb2
from contactcenter.integration.v1 import integration_pb2
from delivery._harness import REGION, InProcessService, free_port, integration_stub, wait_for_consumer

TOKEN = "helpdesk-api-token"


@dataclass
class FakeSystem:
    """A REST API that records every request (method, path, JSON body, headers)."""

    port: int = field(default_factory=free_port)
    calls: list[tuple[str, str, Any, dict[str, str]]] = field(default_factory=list)
    customers: dict[str, dict[str, Any]] = field(default_factory=dict)
    runner: web.AppRunner | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    async def start(self) -> None:
        async def handle(request: web.Request) -> web.Response:
            body = await request.json() if request.can_read_body else None
            self.calls.append(
                (request.method, request.path_qs, body, {k.lower(): v for k, v in request.headers.items()})
            )
            if request.method == "GET":
                customer = self.customers.get(request.query.get("phone", ""))
                return web.json_response(customer) if customer else web.Response(status=404)
            return web.json_response({"ok": True})

        app = web.Application()
        app.router.add_route("*", "/api/{tail:.*}", handle)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    async def wait_for(self, count: int) -> None:
        async with asyncio.timeout(30):
            while True:
                if len(self.calls) >= count:
                    return
                await asyncio.sleep(0.02)


@pytest.fixture
async def systems() -> AsyncIterator[tuple[FakeSystem, FakeSystem]]:
    crm, helpdesk = FakeSystem(), FakeSystem()
    crm.customers["+442079460958"] = {"id": "CRM-77", "tier": "gold"}
    await crm.start()
    await helpdesk.start()
    yield crm, helpdesk
    for system in (crm, helpdesk):
        assert system.runner is not None
        await system.runner.cleanup()


def connector(name: str, spec: dict[str, Any]) -> Any:
    return validate_document(
        {
            "apiVersion": "contactcenter.dev/v1alpha1",
            "kind": "IntegrationConnector",
            "metadata": {"name": name},
            "spec": {"tenant": "acme", "endpointRegion": REGION, **spec},
        }
    )


def event(event_id: str, **payload: Any) -> events_pb2.Event:
    return events_pb2.Event(
        event_id=event_id,
        tenant=common_pb2.TenantRef(tenant_id="acme"),
        region=REGION,
        contact_id="k1",
        source="test",
        **payload,
    )


async def test_crm_lookup_outcome_write_back_and_helpdesk_ticket(
    nc: NATS, service: InProcessService, systems: tuple[FakeSystem, FakeSystem]
) -> None:
    crm, helpdesk = systems
    store = await ConfigStore.open(nc.jetstream())
    await store.apply(
        connector(
            "acme-crm",
            {
                "type": "crm",
                "baseUrl": crm.base_url,
                "lookup": {
                    "path": "/customers?phone={identifier}",
                    "attributes": {"crmId": "customer.id", "tier": "customer.tier"},
                },
                "requests": [
                    {
                        "eventType": "contact_closed",
                        "path": "/contacts/{contactId}/outcome",
                        "fields": {"outcome": "event.data.outcome", "closedBy": "event.data.closedBy"},
                    }
                ],
            },
        )
    )
    await store.apply(
        connector(
            "acme-helpdesk",
            {
                "type": "helpdesk",
                "baseUrl": helpdesk.base_url,
                "token": TOKEN,
                "requests": [
                    {
                        "eventType": "ai_ticket",
                        "method": "PUT",
                        "path": "/tickets/external/{contactId}",
                        "fields": {
                            "subject": "event.data.title",
                            "priority": "event.data.priority",
                            "description": "event.data.summary",
                        },
                    }
                ],
            },
        )
    )
    await wait_for_consumer(nc, "connector-acme-crm")
    await wait_for_consumer(nc, "connector-acme-helpdesk")

    publisher = EventPublisher(nc.jetstream(), REGION)
    phone = common_pb2.Identifier(kind=common_pb2.IDENTIFIER_KIND_PHONE, value="+442079460958")
    created = events_pb2.ContactCreated(channel=common_pb2.CHANNEL_KIND_VOICE)
    getattr(created, "from").CopyFrom(phone)  # `from` is a Python keyword
    await publisher.publish(event("k1-1", contact_created=created))
    ticket = events_pb2.AiTicket(title="Card blocked", priority="high", summary="Customer's card was blocked")
    await publisher.publish(event("k1-2", ai_ticket=ticket))
    await publisher.publish(
        event("k1-3", contact_closed=events_pb2.ContactClosed(outcome="resolved", closed_by="a1"))
    )

    await crm.wait_for(2)
    await helpdesk.wait_for(1)
    (lookup, outcome) = crm.calls
    assert lookup[:2] == ("GET", "/api/customers?phone=%2B442079460958")
    assert outcome[:3] == ("POST", "/api/contacts/k1/outcome", {"outcome": "resolved", "closedBy": "a1"})
    (put,) = helpdesk.calls
    assert put[:3] == (
        "PUT",
        "/api/tickets/external/k1",
        {"subject": "Card blocked", "priority": "high", "description": "Customer's card was blocked"},
    )
    assert put[3]["authorization"] == f"Bearer {TOKEN}"
    assert put[3]["idempotency-key"] == "k1-2-0"

    # The CRM's answer becomes contact attributes, as an inbound action for the contact's owners.
    js = nc.jetstream()
    subscription = await js.pull_subscribe(
        f"ccact.{REGION}.acme.update_attributes.k1",
        stream=f"actions-{REGION}",
        config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL),
    )
    (message,) = await subscription.fetch(1, timeout=10)
    record = integration_pb2.ActionRecord.FromString(message.data)
    assert dict(record.update_attributes.attributes) == {"crmId": "CRM-77", "tier": "gold"}


async def test_a_mapping_that_fails_on_an_event_is_dead_lettered_at_once(
    nc: NATS, service: InProcessService, systems: tuple[FakeSystem, FakeSystem]
) -> None:
    _, helpdesk = systems
    store = await ConfigStore.open(nc.jetstream())
    await store.apply(
        connector(
            "acme-broken",
            {
                "type": "helpdesk",
                "baseUrl": helpdesk.base_url,
                "requests": [
                    {
                        "eventType": "contact_closed",
                        "path": "/t/{contactId}",
                        "fields": {"x": "event.data.nope"},
                    }
                ],
            },
        )
    )
    await wait_for_consumer(nc, "connector-acme-broken")
    await EventPublisher(nc.jetstream(), REGION).publish(
        event("k1-9", contact_closed=events_pb2.ContactClosed(outcome="resolved"))
    )
    stub = integration_stub(nc)
    request = integration_pb2.ListDeadLettersRequest(tenant_id="acme", subscription="connector-acme-broken")
    async with asyncio.timeout(30):
        while True:
            dead = (await stub.ListDeadLetters(request)).dead_letters
            if dead:
                break
            await asyncio.sleep(0.05)
    assert [(d.event_id, d.attempts) for d in dead] == [("k1-9", 1)]
    assert "field mapping failed: field 'x'" in dead[0].reason
    assert helpdesk.calls == []


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        (
            {
                "type": "crm",
                "baseUrl": "https://crm",
                "requests": [{"eventType": "contact_closed", "path": "/x", "fields": {"a": "b =="}}],
            },
            "spec.requests[0].fields: field 'a': CEL expression does not compile",
        ),
        (
            {"type": "helpdesk", "baseUrl": "https://h", "lookup": {"path": "/c"}},
            "lookup is only for connectors of type crm",
        ),
        ({"type": "crm", "baseUrl": "https://crm"}, "a connector needs at least one of requests and lookup"),
        (
            {
                "type": "crm",
                "baseUrl": "https://crm",
                "requests": [{"eventType": "contact_exploded", "path": "/x"}],
            },
            "spec.requests[0].eventType: unknown event type 'contact_exploded'",
        ),
    ],
)
def test_bad_connectors_are_refused_naming_the_field(spec: dict[str, Any], problem: str) -> None:
    with pytest.raises(DocumentError) as raised:
        connector("acme-bad", spec)
    assert problem in str(raised.value)
