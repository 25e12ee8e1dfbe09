"""Curated contact records for business systems, on a real event stream: every finished contact
of the scripted day is published once on its tenant's subject, with its timings and without who
the customer is, even when a commit fails and the batch is folded and published again."""

from __future__ import annotations

from nats.aio.client import Client as NATS
from nats.js.client import JetStreamContext

from ccmesh import naming
from ccmesh.events import EventPublisher, StreamSettings, ensure_region_streams
from contactcenter.common.v1 import common_pb2
from contactcenter.events.v1 import events_pb2
from integration.adapters.curated_records import ContactRecords
from integration.domain.analytics_facts import ContactLedger
from integration.service_layer.analytics_ingest import AnalyticsIngest
from tests.analytics_day import scripted_day
from tests.integration._mesh import REGION
from tests.unit.analytics.analytics_fakes import MemoryAnalyticsStore

DAY = scripted_day()
REFERENCE = {fact.contact_id: fact for fact in ContactLedger().apply(DAY)}


async def records_on_stream(js: JetStreamContext, tenant: str) -> list[tuple[str, bytes]]:
    subject = f"{naming.EVENT_PREFIX}.{REGION}.{tenant}.contact_record.*"
    info = await js.stream_info(naming.events_stream(REGION).name, subjects_filter=subject)
    count = sum((info.state.subjects or {}).values())
    if not count:
        return []
    subscription = await js.pull_subscribe(subject, durable=None)
    messages = await subscription.fetch(count, timeout=5)
    await subscription.unsubscribe()
    return [(message.subject, message.data) for message in messages]


async def test_each_finished_contact_is_published_once_without_the_customer(nc: NATS):
    js = nc.jetstream()
    await ensure_region_streams(js, REGION, StreamSettings())
    store = MemoryAnalyticsStore()
    ingest = AnalyticsIngest(store, records=ContactRecords(EventPublisher(js, REGION)))

    await ingest.ingest(DAY[:23])
    store.fail_next_commit = True  # the disk refuses: the batch comes again, published again
    try:
        await ingest.ingest(DAY[23:])
    except OSError:
        pass
    else:
        raise AssertionError("the failing commit was not attempted")
    await ingest.ingest(DAY[23:])

    stored = await records_on_stream(js, "acme")
    assert len(stored) == len(REFERENCE) == len(store.facts)
    for subject, data in stored:
        event = events_pb2.Event.FromString(data)
        fact = REFERENCE[event.contact_id]
        assert subject == f"{naming.EVENT_PREFIX}.{REGION}.acme.contact_record.{fact.contact_id}"
        record = event.contact_record
        assert (record.queue, record.agent, record.outcome) == (fact.queue, fact.agent, fact.outcome)
        assert (record.wait_seconds, record.handle_seconds) == (fact.wait_seconds, fact.handle_seconds)
        assert record.HasField("sentiment") == bool(fact.sentiment_count)
        assert record.channel != common_pb2.CHANNEL_KIND_UNSPECIFIED
        if fact.customer_id:
            assert fact.customer_id.encode() not in data
    assert await records_on_stream(js, "globex") == []
