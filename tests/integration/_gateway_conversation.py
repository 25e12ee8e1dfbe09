"""Shared pieces of the gateway conversation tests: channel endpoints, a small journey, and the
contact's events read back from the region's stream."""

from __future__ import annotations

from typing import Any

from _platform import Platform, eventually
from nats.aio.client import Client as NATS

from ccmesh import channels, naming, stream_read
from ccmesh.configplane.channels import PROVIDER_OF_CHANNEL
from ccmesh.configplane.models import ChannelEndpoint
from ccmesh.configplane.store import ConfigStore
from contactcenter.events.v1 import events_pb2
from contactcenter.routing.v1 import routing_pb2

REGION = "eu"
ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "test-auth-token-0123456789"

CATALOG = """\
apiVersion: contactcenter.dev/v1alpha1
kind: FlowCatalog
metadata:
  name: orders
spec:
  queues: [general-support]
  prompts: [welcome, ask-order, thanks, callback-offer, connecting]
  flows: [orders, callback]
"""

#: Greets, asks for the order number (text input), thanks and hands the contact to a queue.
ORDERS_FLOW = """\
apiVersion: contactcenter.dev/v1alpha1
kind: Flow
metadata:
  name: orders
spec:
  start: welcome
  nodes:
    - id: welcome
      kind: message
      prompt: welcome
      next: ask
    - id: ask
      kind: collect
      prompt: ask-order
      store: order
      timeoutSeconds: 600
      next: thanks
      onFailure: to-queue
    - id: thanks
      kind: message
      prompt: thanks
      next: to-queue
    - id: to-queue
      kind: queue
      queue: general-support
"""

#: Offers a call back on voice; the journey waits there until the call is answered.
CALLBACK_FLOW = """\
apiVersion: contactcenter.dev/v1alpha1
kind: Flow
metadata:
  name: callback
spec:
  start: offer
  nodes:
    - id: offer
      kind: message
      prompt: callback-offer
      next: call-back
    - id: call-back
      kind: callback
      queue: general-support
      channel: voice
      next: connecting
    - id: connecting
      kind: message
      prompt: connecting
      next: to-queue
    - id: to-queue
      kind: queue
      queue: general-support
"""


def endpoint(name: str, channel: str, address: str, **spec: Any) -> ChannelEndpoint:
    provider = PROVIDER_OF_CHANNEL[channels.parse(channel)]
    body: dict[str, Any] = {
        "region": REGION,
        "tenant": "acme",
        "brand": "acme-retail",
        "channel": channel,
        "provider": provider,
        "address": address,
        **spec,
    }
    if provider == "twilio":
        body.setdefault("twilio", {"accountSid": ACCOUNT_SID, "authToken": AUTH_TOKEN})
    if provider == "whatsapp_cloud":
        body.setdefault(
            "whatsapp",
            {
                "phoneNumberId": address,
                "appSecret": "test-app-secret",
                "verifyToken": "test-verify-token",
                "accessToken": "test-graph-token",
            },
        )
    return ChannelEndpoint.model_validate(
        {
            "apiVersion": "contactcenter.dev/v1alpha1",
            "kind": "ChannelEndpoint",
            "metadata": {"name": name},
            "spec": body,
        }
    )


async def apply_endpoints(nc: NATS, *endpoints: ChannelEndpoint) -> None:
    store = await ConfigStore.open(nc.jetstream())
    for document in endpoints:
        await store.apply(document)


async def publish_flows(routing: Any) -> None:
    """The two test flows, live, and the queues they (and the queue-only endpoints) hand off to."""
    for queue in ("general-support", "support"):
        await routing.ConfigureQueue(
            routing_pb2.ConfigureQueueRequest(tenant_id="acme", queue=routing_pb2.QueueDefinition(name=queue))
        )
    for flow, source in (("orders", ORDERS_FLOW), ("callback", CALLBACK_FLOW)):
        files = [
            routing_pb2.FlowSourceFile(name=f"{flow}/catalog.yaml", content=CATALOG),
            routing_pb2.FlowSourceFile(name=f"{flow}/{flow}.yaml", content=source),
        ]
        published = await routing.PublishFlow(
            routing_pb2.PublishFlowRequest(tenant_id="acme", flow=flow, files=files)
        )
        await routing.SetFlowAlias(
            routing_pb2.SetFlowAliasRequest(
                tenant_id="acme", flow=flow, alias="live", version=published.version
            )
        )


async def contact_events(nc: NATS, contact_id: str) -> list[events_pb2.Event]:
    """Every event of the contact stored so far, in stream order (an ephemeral consumer)."""
    return await stored_events(nc, naming.event_subject(REGION, "*", "*", contact_id))


async def stored_events(nc: NATS, subject: str) -> list[events_pb2.Event]:
    """Every event on the region's stream matching `subject` so far, oldest first."""
    return [
        events_pb2.Event.FromString(message.data)
        async for message in stream_read.stored(
            nc.jetstream(), subject, stream=naming.events_stream(REGION).name
        )
    ]


def kinds(events: list[events_pb2.Event]) -> list[str]:
    return [str(event.WhichOneof("payload")) for event in events]


async def start_gateway(platform: Platform, **settings: Any) -> None:
    """The gateway with settings of its own (ports, retry timing), stopped with the platform."""
    await platform.start("gateway", settings={"gateway": settings})


async def events_of_kind(nc: NATS, contact_id: str, kind: str, count: int = 1) -> list[events_pb2.Event]:
    """Wait for `count` events of `kind` on the contact (bounded wait; not a timing assertion)."""

    async def enough() -> list[events_pb2.Event] | None:
        found = [e for e in await contact_events(nc, contact_id) if e.WhichOneof("payload") == kind]
        return found if len(found) >= count else None

    return list(await eventually(enough, seconds=30.0))
