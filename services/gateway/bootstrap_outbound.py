"""Wire outbound delivery (one durable consumer, the provider adapters) and the SMTP listener.

Kept apart from bootstrap.py so the gateway's main wiring stays one screen. The adapters share
one HTTP client session, closed when the gateway stops (after the consumer has finished).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from nats.js.kv import KeyValue

from ccmesh.events import DurableConsumer
from ccmesh.policy_violations import PolicyCheck
from ccmesh.service_host import Runtime
from gateway.adapters.attachment_store import AttachmentStore
from gateway.adapters.channel_directory import ChannelDirectory
from gateway.adapters.contact_store import ContactStore
from gateway.adapters.event_codec import StreamEvents
from gateway.adapters.outbound.base import ProviderAdapter
from gateway.adapters.outbound.generic_callback import GenericCallback
from gateway.adapters.outbound.smtp_relay import SmtpRelay
from gateway.adapters.outbound.twilio_rest import TwilioRest
from gateway.adapters.outbound.whatsapp_graph import WhatsAppGraph
from gateway.adapters.outbox_store import OutboxStore
from gateway.config import GatewayConfig
from gateway.entrypoints.outbound_consumer import outbound_consumer
from gateway.entrypoints.smtp_listener import InboundMail, start_smtp
from gateway.service_layer.accept_inbound import AcceptInbound
from gateway.service_layer.outbound import OutboundDelivery

log = logging.getLogger(__name__)


@dataclass
class OutboundParts:
    consumers: list[DurableConsumer[Any]] = field(default_factory=list)
    on_stop: list[Callable[[], Awaitable[None]]] = field(default_factory=list)


async def outbound_parts(
    runtime: Runtime[GatewayConfig],
    *,
    bucket: KeyValue,
    store: ContactStore,
    directory: ChannelDirectory,
    policy: PolicyCheck,
) -> OutboundParts:
    config = runtime.config
    session = aiohttp.ClientSession()
    twilio = TwilioRest(session)
    adapters: dict[str, ProviderAdapter] = {
        "twilio": twilio,
        "whatsapp_cloud": WhatsAppGraph(session),
        "smtp": SmtpRelay(),
        "generic": GenericCallback(session),
    }

    def public_base_url() -> str:
        # Twilio fetches the call back's TwiML from here: behind a proxy set CC_PUBLIC_BASE_URL.
        return config.public_base_url or f"http://{config.http_host}:{config.http_port}"

    delivery = OutboundDelivery(
        region=config.region,
        store=store,
        outbox=OutboxStore(bucket),
        endpoints=directory,
        events=StreamEvents(runtime.events),
        adapters=adapters,
        twilio=twilio,
        public_base_url=public_base_url,
        max_attempts=config.outbound_max_attempts,
        retry_seconds=config.outbound_retry_seconds,
        policy=policy,
    )
    consumer = outbound_consumer(
        runtime.js,
        config.region,
        delivery,
        max_attempts=config.outbound_max_attempts,
        retry_seconds=config.outbound_retry_seconds,
    )
    # Pushed now, so the exit stack closes it after the consumer (registered later) has stopped.
    runtime.stack.push_async_callback(session.close)
    return OutboundParts(consumers=[consumer])


async def email_parts(
    runtime: Runtime[GatewayConfig], *, directory: ChannelDirectory, accept: AcceptInbound
) -> OutboundParts:
    """The SMTP listener when CC_SMTP_PORT >= 0: inbound mail for the e-mail endpoints."""
    config = runtime.config
    if config.smtp_port < 0:
        return OutboundParts()
    attachments = await AttachmentStore.open(
        runtime.js, config.region, placement_tags=runtime.placement_tags, replicas=config.stream_replicas
    )
    server, port = await start_smtp(
        InboundMail(directory, accept, attachments),
        config.smtp_host,
        config.smtp_port,
        max_message_bytes=config.smtp_max_message_bytes,
    )
    log.info("SMTP listener on %s:%d", config.smtp_host, port)

    async def stop() -> None:
        server.close()
        await server.wait_closed()

    return OutboundParts(on_stop=[stop])
