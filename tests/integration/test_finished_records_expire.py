"""Finished records expire from the live-data buckets while live ones stay, on a real nats-server:
ended journeys, removed journey deadlines, closed contacts, provider idempotency records and
receipts, wrapped-up conversations. Within the time to live a provider's retry still finds its
first result, and an expired record leaves no older revision or delete marker behind."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable

import pytest
from _platform import Platform, eu_contact_center, eventually
from flows.test_flow_journeys import example_files, publish_live
from nats.aio.client import Client as NATS
from nats.js.client import JetStreamContext
from nats.js.errors import KeyWrongLastSequenceError

from ai.adapters.tenant_store import TenantStore
from ccflow.journey import Journey
from ccmesh import naming
from ccmesh.configplane.models import ContactCenter
from ccmesh.kv import KV_STREAM_PREFIX, update_with, write_expiring
from ccmesh.retention import BY_KEY
from ccmesh.stores import ensure_store
from contactcenter.common.v1 import common_pb2
from contactcenter.gateway.v1 import gateway_pb2
from contactcenter.gateway.v1.gateway_pb2_grpc import GatewayServiceStub
from contactcenter.routing.v1 import routing_pb2
from contactcenter.routing.v1.routing_pb2_grpc import RoutingServiceStub
from gateway.adapters.contact_store import ContactStore
from gateway.adapters.provider_receipts import ProviderReceipts, Receipt
from gateway.domain.contact import ContactRecord
from gateway.domain.inbound import Accepted
from routing.adapters import flow_store
from routing.adapters.flow_store import DeadlineStore, JourneyStore
from routing.domain.wait_deadlines import WaitDeadline

pytestmark = pytest.mark.timeout(120)

REGION = "eu"
#: Short enough to watch finished records go during the test.
TTL = 2
EXPIRY_WAIT = TTL * 15.0


@pytest.fixture
def js(nc: NATS) -> JetStreamContext:
    return nc.jetstream()


async def bucket_of(js: JetStreamContext, key: str) -> str:
    store = BY_KEY[key]
    await ensure_store(js, store, REGION, store.defaults)
    return store.name(REGION)


async def revisions(js: JetStreamContext, bucket: str, key: str) -> int:
    """Messages stored for the key: values, older revisions and delete markers alike."""
    subject = f"$KV.{bucket}.{key}"
    info = await js.stream_info(f"{KV_STREAM_PREFIX}{bucket}", subjects_filter=subject)
    return (info.state.subjects or {}).get(subject, 0)


def gone(js: JetStreamContext, bucket: str, key: str) -> Callable[[], Awaitable[bool]]:
    async def probe() -> bool:
        return await revisions(js, bucket, key) == 0

    return probe


async def test_an_ended_journey_expires_with_all_its_revisions_while_a_waiting_one_stays(
    js: JetStreamContext,
) -> None:
    bucket = await bucket_of(js, "journeys")
    store = JourneyStore(await js.key_value(bucket), lambda: TTL)
    waiting = Journey("j-waiting", "welcome", status="waiting", waiting_for="input")
    ended = Journey("j-ended", "welcome", status="running")
    revision = await store.save("acme", waiting, 0)
    await store.save("acme", waiting, revision)
    revision = await store.save("acme", ended, 0)
    revision = await store.save("acme", ended, revision)
    ended.status = "ended"
    ended.outcome = {"kind": "queue", "queue": "support"}
    await store.save("acme", ended, revision)

    # Readable right after it ended (an admin's look-up, the hand-off read by routing).
    found = await store.get("acme", "j-ended")
    assert found is not None and found[0].outcome["kind"] == "queue"
    assert await revisions(js, bucket, "acme.j-ended") == 1  # the earlier revisions went at once

    await eventually(gone(js, bucket, "acme.j-ended"), seconds=EXPIRY_WAIT)
    assert await store.get("acme", "j-ended") is None
    kept = await store.get("acme", "j-waiting")
    assert kept is not None and kept[0].status == "waiting"
    assert await revisions(js, bucket, "acme.j-waiting") == 2


async def test_a_journey_store_without_a_finished_ttl_keeps_ended_journeys(js: JetStreamContext) -> None:
    bucket = await bucket_of(js, "journeys")
    store = JourneyStore(await js.key_value(bucket))
    await store.save("acme", Journey("j-kept", "welcome", status="ended"), 0)
    await asyncio.sleep(TTL + 1)
    assert await store.get("acme", "j-kept") is not None


async def test_a_removed_deadline_leaves_nothing_for_the_next_start_up_watch(
    js: JetStreamContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(flow_store, "DELETE_MARKER_TTL_SECONDS", TTL)
    bucket = await bucket_of(js, "journeys")
    kv = await js.key_value(bucket)
    deadlines = DeadlineStore(kv)
    removed = WaitDeadline(due_at=1000.0, tenant="acme", journey_id="j1", node="crm", step=3)
    pending = WaitDeadline(due_at=2000.0, tenant="acme", journey_id="j2", node="crm", step=4)
    await deadlines.put(removed)
    await deadlines.put(pending)

    # A live watcher sees the removal as it happens.
    disarmed: list[tuple[str, str]] = []
    watching = DeadlineStore(kv)
    await watching.follow(lambda _deadline: None, lambda tenant, journey: disarmed.append((tenant, journey)))
    try:
        await deadlines.remove(removed)

        async def seen() -> bool:
            return ("acme", "j1") in disarmed

        await eventually(seen)
    finally:
        await watching.stop()

    await eventually(gone(js, bucket, "due.acme.j1"), seconds=EXPIRY_WAIT)
    # A later start-up reads only the pending deadline: no marker of the removed one is left.
    armed: list[WaitDeadline] = []
    seen_removed: list[tuple[str, str]] = []
    later = DeadlineStore(kv)
    await later.follow(armed.append, lambda tenant, journey: seen_removed.append((tenant, journey)))
    await later.stop()
    assert armed == [pending]
    assert seen_removed == []


def record(contact_id: str, customer_id: str) -> ContactRecord:
    return ContactRecord(contact_id, "acme", "acme-retail", customer_id, "+4930111111")


def always(value: ContactRecord) -> Callable[[ContactRecord | None], ContactRecord]:
    return lambda _old: value


async def test_a_closed_contact_expires_while_an_open_one_stays(
    js: JetStreamContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gateway.adapters import contact_store

    monkeypatch.setattr(contact_store, "DELETE_MARKER_TTL_SECONDS", TTL)
    bucket = await bucket_of(js, "gateway")
    store = ContactStore(await js.key_value(bucket), finished_ttl=lambda: TTL)
    open_id, created = await store.open_contact("acme", "cust-open")
    closed_id, _ = await store.open_contact("acme", "cust-closed")
    assert created
    for contact_id, customer in ((open_id, "cust-open"), (closed_id, "cust-closed")):
        first = record(contact_id, customer)
        await store.change_contact("acme", contact_id, always(first))
        # A second revision, which must go with the closed record too.
        await store.change_contact("acme", contact_id, always(dataclasses.replace(first, language="de")))

    assert await store.close_contact("acme", "cust-closed", closed_id)
    # Closed, but still readable until the time to live has passed.
    assert (await store.contact("acme", closed_id))[0] is not None

    await eventually(gone(js, bucket, f"contact.acme.{closed_id}"), seconds=EXPIRY_WAIT)
    await eventually(gone(js, bucket, "open.acme.cust-closed"), seconds=EXPIRY_WAIT)
    assert await store.contact("acme", closed_id) == (None, 0)
    open_record, _ = await store.contact("acme", open_id)
    assert open_record is not None and open_record.customer_id == "cust-open"
    assert await store.is_open("acme", open_record)
    # The customer of the closed contact starts a new one with the next message.
    again, created = await store.open_contact("acme", "cust-closed")
    assert created and again != closed_id


async def test_a_provider_retry_within_the_ttl_gets_the_first_result_and_the_record_then_expires(
    js: JetStreamContext,
) -> None:
    bucket = await bucket_of(js, "gateway")
    store = ContactStore(await js.key_value(bucket), finished_ttl=lambda: TTL)
    first = await store.claim_message("acme", "token-1")
    assert first.previous is None
    result = Accepted("c1", "m1", "cust-1", contact_created=True)
    await store.complete(first, result)

    retry = await store.claim_message("acme", "token-1")
    assert retry.previous == result  # nothing new is created for the retry
    assert await revisions(js, bucket, "msg.acme.token-1") == 1

    await eventually(gone(js, bucket, "msg.acme.token-1"), seconds=EXPIRY_WAIT)
    # Past the time to live the token is unknown again.
    assert (await store.claim_message("acme", "token-1")).previous is None


async def test_a_provider_receipt_is_found_within_the_ttl_then_expires(js: JetStreamContext) -> None:
    bucket = await bucket_of(js, "gateway")
    receipts = ProviderReceipts(await js.key_value(bucket), lambda: TTL)
    receipt = Receipt("c1", "m1", "acme-retail")
    await receipts.remember("acme", "whatsapp", "wamid.1", receipt)
    await receipts.remember("acme", "whatsapp", "wamid.1", Receipt("c2", "m2", "acme-retail"))
    assert await receipts.find("acme", "whatsapp", "wamid.1") == receipt

    async def expired() -> bool:
        return await receipts.find("acme", "whatsapp", "wamid.1") is None

    await eventually(expired, seconds=EXPIRY_WAIT)


async def test_a_wrapped_up_conversation_leaves_nothing_and_an_idle_one_expires(
    js: JetStreamContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ai.adapters import tenant_store

    monkeypatch.setattr(tenant_store, "DELETE_MARKER_TTL_SECONDS", TTL)
    bucket = naming.ai_bucket(REGION)
    store = await TenantStore.open(js, REGION, [], lambda: 60)
    idle = await TenantStore.open(js, REGION, [], lambda: TTL)
    for n in range(3):
        await store.append_turn(
            "acme", "wrapped", {"message_id": f"m{n}", "speaker": "customer", "text": "hi"}
        )
    await idle.append_turn("acme", "idle", {"message_id": "m0", "speaker": "customer", "text": "hi"})
    assert await revisions(js, bucket, "conv.acme.wrapped") == 1
    conversation = await store.conversation("acme", "wrapped")
    assert conversation is not None and len(conversation["turns"]) == 3

    await store.forget_conversation("acme", "wrapped")
    assert await store.conversation("acme", "wrapped") is None
    await eventually(gone(js, bucket, "conv.acme.wrapped"), seconds=EXPIRY_WAIT)
    await eventually(gone(js, bucket, "conv.acme.idle"), seconds=EXPIRY_WAIT)


async def test_update_with_a_ttl_keeps_compare_and_set(js: JetStreamContext) -> None:
    bucket = await bucket_of(js, "journeys")
    kv = await js.key_value(bucket)
    await kv.put("cas", b"one")
    await kv.delete("cas")  # a delete marker the next write must name
    revision = await update_with(kv, "cas", lambda _old: b"two", ttl=60)
    assert (await kv.get("cas")).value == b"two"
    with pytest.raises(KeyWrongLastSequenceError):
        await write_expiring(kv, "cas", b"three", last=revision - 1, ttl=60)
    assert (await kv.get("cas")).value == b"two"


def with_gateway_ttl(document: ContactCenter) -> ContactCenter:
    raw = document.model_dump(by_alias=True, exclude_none=True)
    raw["spec"]["retention"] = {"gateway": {"finishedTtlSeconds": TTL}}
    return ContactCenter.model_validate(raw)


async def test_the_gateway_takes_its_finished_ttl_from_the_regions_retention(platform: Platform) -> None:
    await platform.apply(with_gateway_ttl(eu_contact_center()))
    await platform.start("identity", "gateway", "routing")
    gateway = platform.stub(GatewayServiceStub, tenant="acme", role="integration")
    request = gateway_pb2.SubmitInboundMessageRequest(
        tenant=common_pb2.TenantRef(tenant_id="acme", brand_id="acme-retail"),
        channel=common_pb2.CHANNEL_KIND_SMS,
        entry_point="+4930111111",
        text="Where is my parcel?",
        provider_message_id="SM-retried",
        **{"from": common_pb2.Identifier(kind=common_pb2.IDENTIFIER_KIND_PHONE, value="+491510000001")},
    )
    first = await gateway.SubmitInboundMessage(request)
    retry = await gateway.SubmitInboundMessage(request)
    assert first.contact_created
    assert (retry.contact_id, retry.message_id) == (first.contact_id, first.message_id)

    js = platform.nc.jetstream()
    bucket = naming.gateway_bucket(REGION)
    kv = await js.key_value(bucket)
    msg_keys = [key for key in await kv.keys() if key.startswith("msg.")]
    assert len(msg_keys) == 1
    for key in msg_keys:
        await eventually(gone(js, bucket, key), seconds=EXPIRY_WAIT)
    # The contact is still open: its record and its open key stay.
    assert await kv.get(f"contact.acme.{first.contact_id}")
    assert any(key.startswith("open.acme.") for key in await kv.keys())


async def test_routing_takes_its_finished_ttl_from_the_regions_retention(platform: Platform) -> None:
    document = eu_contact_center()
    raw = document.model_dump(by_alias=True, exclude_none=True)
    raw["spec"]["retention"] = {"journeys": {"finishedTtlSeconds": TTL}}
    await platform.apply(ContactCenter.model_validate(raw))
    await platform.start("routing", "ai")
    admin = platform.stub(RoutingServiceStub, tenant="acme", role="admin")
    await publish_live(admin, example_files())
    start = routing_pb2.StartJourneyRequest
    for contact in ("chat-ended", "chat-waiting"):
        started = await admin.StartJourney(
            start(tenant_id="acme", contact_id=contact, flow="support", channel="chat", brand="acme-retail")
        )
        assert started.journey.waiting_for == "input"
    step = await admin.ContinueJourney(
        routing_pb2.ContinueJourneyRequest(tenant_id="acme", journey_id="chat-ended", input="9")
    )
    assert step.journey.status == "ended"
    # The hand-off can still be looked up right after it ended.
    found = await admin.GetJourney(routing_pb2.GetJourneyRequest(tenant_id="acme", journey_id="chat-ended"))
    assert found.journey.status == "ended"

    js = platform.nc.jetstream()
    bucket = naming.journeys_bucket(REGION)
    assert await revisions(js, bucket, "acme.chat-ended") == 1  # its earlier revisions went at once
    await eventually(gone(js, bucket, "acme.chat-ended"), seconds=EXPIRY_WAIT)
    waiting = await admin.GetJourney(
        routing_pb2.GetJourneyRequest(tenant_id="acme", journey_id="chat-waiting")
    )
    assert waiting.journey.status == "waiting"
