"""Contact events -> customer timelines (a durable consumer on the region's event stream)."""

from __future__ import annotations

from collections.abc import Sequence

from nats.js.client import JetStreamContext

from ccmesh import naming
from ccmesh.events import ConsumerSettings, DurableConsumer, Outcome
from contactcenter.events.v1 import events_pb2
from identity.adapters.history_store import HistoryStore
from identity.domain.timeline import TIMELINE_KINDS
from identity.service_layer.timeline import record_events

DURABLE = "identity-timeline"


def timeline_consumer(
    js: JetStreamContext, region: str, history: HistoryStore
) -> DurableConsumer[events_pb2.Event]:
    async def handle(events: Sequence[events_pb2.Event]) -> Sequence[Outcome]:
        return await record_events(history, events)

    # Only the kinds that make entries: the others would cost a delivery and an ack each.
    kinds = sorted(TIMELINE_KINDS)
    subjects = [naming.event_subject(region, "*", kind, "*") for kind in kinds]
    settings = ConsumerSettings(
        durable=DURABLE,
        filter_subject=subjects[0],
        more_filter_subjects=tuple(subjects[1:]),
        # Timelines are read by people, not by the contact's path to an agent: a quarter second
        # of gathering turns about one fetch per event into one per batch.
        gather_seconds=0.25,
    )
    return DurableConsumer(js, region, settings, batch_handler=handle)
