"""The ACD's events on the region's stream: an offer goes out at once and the routing pass does
not wait for the stream's acknowledgement (a stream electing its leader answers nothing for the
whole timeout); every other event is waited for, and only what the stream stored is noted sent."""

from __future__ import annotations

import pytest
from _platform import eventually
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeoutError

from ccmesh import naming
from ccmesh.channels import Channel
from ccmesh.events import EventPublisher, StreamSettings, ensure_region_streams
from ccmesh.outbox import SentIds
from contactcenter.events.v1 import events_pb2
from routing.adapters.acd_event_codec import to_protobuf
from routing.adapters.acd_publisher import AcdPublisher
from routing.domain import events as ev
from routing.domain.contacts import ContactRecord, ContactStatus
from routing.domain.queueing import WaitingContact

from ._harness import REGION, TENANT

pytestmark = pytest.mark.timeout(60)
CONTACT = WaitingContact("c1", "support", Channel.WEBCHAT, 60, 100.0)
OFFERED = ev.ContactOffered(
    TENANT, ContactRecord(CONTACT, ContactStatus.OFFERED, "r1", "a1", 120.0, 1), "longest_idle"
)
ACCEPTED = ev.ContactAccepted(TENANT, ContactRecord(CONTACT, ContactStatus.ASSIGNED, "r1", "a1"))


async def test_an_offer_goes_out_without_waiting_for_a_stream_that_does_not_answer(nc: NATS) -> None:
    # No stream, only a listener that never answers: what a workspace's subscription sees while
    # the stream has no leader.
    seen: list[str] = []

    async def listen(message: Msg) -> None:
        seen.append(events_pb2.Event.FromString(message.data).WhichOneof("payload") or "")

    await nc.subscribe(naming.event_subject(REGION, TENANT, "*", "*"), cb=listen)
    sent = SentIds()
    publisher = AcdPublisher(EventPublisher(nc.jetstream(), REGION), REGION, sent, timeout=1.0)

    await publisher(OFFERED)
    assert publisher.awaiting == 1  # its acknowledgement is still awaited, aside

    async def offer_seen() -> bool:
        return seen == ["contact_offered"]

    await eventually(offer_seen)
    await publisher.settle()
    assert publisher.awaiting == 0
    assert to_protobuf(OFFERED, REGION).event_id not in sent  # left to the hold's outbox

    with pytest.raises(NatsTimeoutError):
        await publisher(ACCEPTED)  # an answer's event is waited for
    assert to_protobuf(ACCEPTED, REGION).event_id not in sent


async def test_what_the_stream_stores_is_noted_sent(nc: NATS) -> None:
    js = nc.jetstream()
    await ensure_region_streams(js, REGION, StreamSettings())
    sent = SentIds()
    publisher = AcdPublisher(EventPublisher(js, REGION), REGION, sent)
    await publisher(OFFERED)
    await publisher(ACCEPTED)
    assert to_protobuf(ACCEPTED, REGION).event_id in sent
    await publisher.settle()
    assert to_protobuf(OFFERED, REGION).event_id in sent
    stream = naming.events_stream(REGION).name
    stored = [
        events_pb2.Event.FromString((await js.get_msg(stream, seq)).data).WhichOneof("payload")
        for seq in (1, 2)
    ]
    assert stored == ["contact_offered", "contact_accepted"]  # in the order announced
