"""The gateway's ONE durable consumer of outbound work: `message_sent` and `callback_requested`.

Back-off follows the gateway's outbound settings (doubling from `outbound_retry_seconds`);
redeliveries also cover a provider's Retry-After, so the consumer allows a few deliveries per
provider attempt. What still cannot be delivered is reported by the use case (failed status),
and an event that keeps failing for another reason ends in the region's dead-letter stream.
"""

from __future__ import annotations

from nats.js.client import JetStreamContext

from ccmesh import naming
from ccmesh.events import ConsumerSettings, DurableConsumer
from contactcenter.events.v1 import events_pb2
from gateway.service_layer.outbound import OutboundDelivery

DURABLE = "gateway-outbound"
#: Deliveries allowed per provider attempt (early redeliveries while a Retry-After runs).
DELIVERIES_PER_ATTEMPT = 4


def outbound_consumer(
    js: JetStreamContext, region: str, delivery: OutboundDelivery, *, max_attempts: int, retry_seconds: float
) -> DurableConsumer[events_pb2.Event]:
    backoff = tuple(retry_seconds * 2**n for n in range(max_attempts))
    settings = ConsumerSettings(
        durable=DURABLE,
        filter_subject=naming.event_subject(region, "*", "message_sent", "*"),
        more_filter_subjects=(naming.event_subject(region, "*", "callback_requested", "*"),),
        max_deliver=max_attempts * DELIVERIES_PER_ATTEMPT,
        # A provider call may take its full timeout; the ack must not expire meanwhile.
        ack_wait_seconds=60.0,
        backoff_seconds=backoff,
        batch=16,
    )
    return DurableConsumer(js, region, settings, delivery.handle)
