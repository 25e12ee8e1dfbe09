"""The gateway's durable consumer of `contact_accepted` and `contact_transferred`: a queued caller
is put through to the agent, a transferred one goes back on hold (one consumer keeps them in order).

One durable for all gateway replicas, so one of them redirects each call. Back-off doubles from
the outbound settings' first delay; the use case reports what still fails (MessageStatusChanged
`failed`), and an event that keeps failing for another reason ends in the dead-letter stream.
"""

from __future__ import annotations

from nats.js.client import JetStreamContext

from ccmesh import naming
from ccmesh.events import ConsumerSettings, DurableConsumer
from contactcenter.events.v1 import events_pb2
from gateway.service_layer.voice_bridge import VoiceBridge

DURABLE = "gateway-voice-calls"
#: Deliveries allowed per Twilio attempt (early redeliveries while a Retry-After runs).
DELIVERIES_PER_ATTEMPT = 4


def voice_bridge_consumer(
    js: JetStreamContext, region: str, bridge: VoiceBridge, *, max_attempts: int, retry_seconds: float
) -> DurableConsumer[events_pb2.Event]:
    settings = ConsumerSettings(
        durable=DURABLE,
        filter_subject=naming.event_subject(region, "*", "contact_accepted", "*"),
        more_filter_subjects=(naming.event_subject(region, "*", "contact_transferred", "*"),),
        max_deliver=max_attempts * DELIVERIES_PER_ATTEMPT,
        # A Twilio call may take its full timeout; the ack must not expire meanwhile.
        ack_wait_seconds=60.0,
        backoff_seconds=tuple(retry_seconds * 2**n for n in range(max_attempts)),
    )
    return DurableConsumer(js, region, settings, bridge.handle)
