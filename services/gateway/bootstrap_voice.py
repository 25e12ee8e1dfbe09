"""Wire the voice bridge: queued callers put through to the agent who accepted them.

Its own HTTP client session for Twilio's Calls API, closed when the gateway stops (after the
consumer, which is registered later, has finished).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aiohttp
from nats.js.kv import KeyValue

from ccmesh.events import DurableConsumer
from ccmesh.rpc_client import mesh_stub
from ccmesh.service_host import Runtime
from contactcenter.routing.v1 import routing_pb2_grpc
from gateway.adapters.callback_failures import CallbackFailures
from gateway.adapters.channel_directory import ChannelDirectory
from gateway.adapters.contact_store import ContactStore
from gateway.adapters.event_codec import StreamEvents
from gateway.adapters.outbound.twilio_rest import TwilioRest
from gateway.adapters.outbox_store import OutboxStore
from gateway.adapters.voice_calls import VoiceCalls
from gateway.config import GatewayConfig
from gateway.entrypoints.callback_consumer import callback_consumer
from gateway.entrypoints.voice_bridge_consumer import voice_bridge_consumer
from gateway.service_layer.callback_attempts import CallbackAttempts
from gateway.service_layer.queued_callbacks import QueuedCallbacks
from gateway.service_layer.voice_bridge import VoiceBridge


@dataclass
class VoiceParts:
    bridge: VoiceBridge
    consumer: DurableConsumer[Any]
    #: Call backs not answered, tried again; cancelled ones closed.
    callbacks: DurableConsumer[Any]


def voice_parts(
    runtime: Runtime[GatewayConfig], *, bucket: KeyValue, store: ContactStore, directory: ChannelDirectory
) -> VoiceParts:
    config = runtime.config
    session = aiohttp.ClientSession()
    runtime.stack.push_async_callback(session.close)
    bridge = VoiceBridge(
        region=config.region,
        store=store,
        calls=VoiceCalls(bucket),
        outbox=OutboxStore(bucket),
        endpoints=directory,
        events=StreamEvents(runtime.events),
        twilio=TwilioRest(session),
        max_attempts=config.outbound_max_attempts,
        retry_seconds=config.outbound_retry_seconds,
        callbacks=CallbackAttempts(
            region=config.region,
            store=store,
            events=StreamEvents(runtime.events),
            failures=CallbackFailures(bucket),
        ),
        queued_callbacks=QueuedCallbacks(
            contacts=store,
            routing=mesh_stub(routing_pb2_grpc.RoutingServiceStub, runtime.channel),
            endpoints=directory,
        ),
    )
    assert bridge.callbacks is not None
    callbacks = callback_consumer(runtime.js, config.region, bridge.callbacks)
    consumer = voice_bridge_consumer(
        runtime.js,
        config.region,
        bridge,
        max_attempts=config.outbound_max_attempts,
        retry_seconds=config.outbound_retry_seconds,
    )
    return VoiceParts(bridge=bridge, consumer=consumer, callbacks=callbacks)
