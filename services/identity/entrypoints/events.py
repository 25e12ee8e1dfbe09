"""Contact events -> customer timelines (a durable consumer on the region's event stream)."""

from __future__ import annotations

from nats.js.client import JetStreamContext

from ccmesh import naming
from ccmesh.events import ConsumerSettings, DurableConsumer
from contactcenter.events.v1 import events_pb2
from identity.adapters.history_store import HistoryStore
from identity.service_layer.timeline import record_event

DURABLE = "identity-timeline"


def timeline_consumer(
    js: JetStreamContext, region: str, history: HistoryStore
) -> DurableConsumer[events_pb2.Event]:
    async def handle(event: events_pb2.Event) -> None:
        await record_event(history, event)

    settings = ConsumerSettings(durable=DURABLE, filter_subject=f"{naming.events_stream(region).subjects[0]}")
    return DurableConsumer(js, region, settings, handle)
