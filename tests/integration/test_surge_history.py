"""The surge detectors' history read back from a real event stream: only the ACD's own
`ContactQueued` events count as arrivals, each once, at the time it happened."""

from __future__ import annotations

import time

from nats.aio.client import Client as NATS

from ccmesh import naming
from ccmesh.envelope import new_event, timestamp_at
from ccmesh.events import StreamSettings, ensure_region_streams
from ccsurge.assessment import SurgeKey, SurgeMetric
from ccsurge.history import PastArrival
from contactcenter.common.v1 import common_pb2
from contactcenter.events.v1 import events_pb2
from routing.adapters.acd_event_codec import ACD_SOURCE
from routing.adapters.surge_history import StreamArrivalHistory
from routing.service_layer.surge_watch import SurgeWatch, SurgeWatchSettings
from tests.unit.fakes.routing_fakes import FakeAcdView

REGION = "eu"


async def publish(
    nc: NATS, contact_id: str, at: float, *, source: str = ACD_SOURCE, kind: str = "queued"
) -> None:
    payload = (
        events_pb2.ContactQueued(queue="support", channel=common_pb2.CHANNEL_KIND_SMS)
        if kind == "queued"
        else events_pb2.ContactCreated(entry_point="+15550100")
    )
    event = new_event(
        payload,
        tenant_id="acme",
        region=REGION,
        source=source,
        contact_id=contact_id,
        occurred_at=timestamp_at(at),
    )
    subject = naming.event_subject(
        REGION, "acme", "contact_queued" if kind == "queued" else "contact_created", contact_id
    )
    await nc.jetstream().publish(subject, event.SerializeToString())


async def test_past_arrivals_are_the_acds_queued_events_and_seed_the_detectors(nc: NATS) -> None:
    await ensure_region_streams(nc.jetstream(), REGION, StreamSettings())
    now = time.time()
    await publish(nc, "c1", now - 3 * 3600)
    await publish(nc, "c2", now - 2 * 3600)
    await publish(nc, "c3", now - 3600)
    await publish(nc, "c4", now - 1800, source="routing")  # the journey's hand-off: not the ACD's
    await publish(nc, "c5", now - 900, kind="created")
    history = StreamArrivalHistory(nc.jetstream(), REGION)

    arrivals = await history(now - 86_400, now)
    assert [(a.tenant_id, a.queue, a.channel) for a in arrivals] == [("acme", "support", "sms")] * 3
    assert all(isinstance(a, PastArrival) for a in arrivals)
    assert [round(a.at) for a in arrivals] == [round(now - h * 3600) for h in (3, 2, 1)]
    # Arrivals after `until` are not history yet.
    assert len(await history(now - 86_400, now - 2.5 * 3600)) == 1

    watch = SurgeWatch(FakeAcdView(), REGION, publish=None, history=history, settings=SurgeWatchSettings())  # type: ignore[arg-type]
    await watch.learn_history()
    for key in (
        SurgeKey(REGION, "acme", "support", "sms"),
        SurgeKey(REGION, "acme", "support"),
        SurgeKey(REGION, "acme"),
    ):
        assert watch.detector_of(key, SurgeMetric.ARRIVALS) is not None, key


async def test_an_empty_or_missing_stream_is_no_history(nc: NATS) -> None:
    assert await StreamArrivalHistory(nc.jetstream(), "nowhere")(0.0, time.time()) == []
    await ensure_region_streams(nc.jetstream(), REGION, StreamSettings())
    assert await StreamArrivalHistory(nc.jetstream(), REGION)(0.0, time.time()) == []
