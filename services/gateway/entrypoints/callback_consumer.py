"""The gateway's durable consumer of call-back follow-ups: `callback_attempt_failed` (the next
attempt is placed when its time comes) and `callback_cancelled` (the open contact closes).

Each message is handled on its own (a batch runs concurrently), so one retry's wait does not hold
up another; the ack wait covers the longest spacing an endpoint may configure.
"""

from __future__ import annotations

from nats.js.client import JetStreamContext

from ccmesh import naming
from ccmesh.events import ConsumerSettings, DurableConsumer, concurrently
from contactcenter.events.v1 import events_pb2
from gateway.service_layer.callback_attempts import MAX_WAIT_SECONDS, CallbackAttempts

DURABLE = "gateway-callbacks"


def callback_consumer(
    js: JetStreamContext, region: str, attempts: CallbackAttempts
) -> DurableConsumer[events_pb2.Event]:
    settings = ConsumerSettings(
        durable=DURABLE,
        filter_subject=naming.event_subject(region, "*", "callback_attempt_failed", "*"),
        more_filter_subjects=(naming.event_subject(region, "*", "callback_cancelled", "*"),),
        ack_wait_seconds=MAX_WAIT_SECONDS + 60.0,
        batch=64,
    )
    return DurableConsumer(js, region, settings, batch_handler=concurrently(attempts.handle))
