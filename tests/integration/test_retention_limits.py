"""Every stream and bucket of a region stays within the limits its ContactCenter sets, on a real
nats-server: the services apply `spec.retention` on start and on change, load expires on time
or is capped, and buckets holding live data refuse writes when full instead of losing keys."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from _platform import REGION, Platform, eu_contact_center, eventually
from nats.aio.client import Client as NATS
from nats.js.api import DiscardPolicy, StreamConfig
from nats.js.client import JetStreamContext
from nats.js.errors import APIError, BadRequestError

from ccmesh import naming
from ccmesh.configplane.models import ContactCenter
from ccmesh.retention import BY_KEY, GLOBAL_STORES, STORES, Limits, RetentionPolicy, StoreClass
from ccmesh.stores import ensure_region_stores, stream_name
from contactcenter.common.v1 import common_pb2
from contactcenter.gateway.v1 import gateway_pb2
from contactcenter.gateway.v1.gateway_pb2_grpc import GatewayServiceStub
from contactcenter.integration.v1 import integration_pb2
from contactcenter.integration.v1.integration_pb2_grpc import IntegrationServiceStub

pytestmark = pytest.mark.timeout(120)

MIB = 1024 * 1024
#: Short enough to watch data expire during the test.
SHORT_AGE = 3
#: Live-data buckets get only a size cap.
CAP = 64 * MIB
SHORT: dict[str, Any] = {
    "events": {"maxAgeSeconds": SHORT_AGE, "maxBytes": 2 * MIB},
    "deadLetters": {"maxAgeSeconds": SHORT_AGE},
    "actions": {"maxAgeSeconds": SHORT_AGE},
    "attachments": {"maxAgeSeconds": SHORT_AGE},
    "identityHistory": {"maxAgeSeconds": SHORT_AGE, "maxBytes": 4 * MIB},
    "integration": {"maxAgeSeconds": SHORT_AGE},
    "identity": {"maxBytes": CAP},
    "gateway": {"maxBytes": CAP},
    "ai": {"maxBytes": CAP},
    "flows": {"maxBytes": CAP},
    "journeys": {"maxBytes": CAP},
    "acd": {"maxBytes": CAP},
    "auditLog": {"maxAgeSeconds": SHORT_AGE},
    "legalHolds": {"maxBytes": CAP},
    "aiTraining": {"maxBytes": CAP},
}


@pytest.fixture
def js(nc: NATS) -> JetStreamContext:
    return nc.jetstream()


def with_retention(document: ContactCenter, retention: dict[str, Any]) -> ContactCenter:
    raw = document.model_dump(by_alias=True, exclude_none=True)
    raw["spec"]["retention"] = retention
    return ContactCenter.model_validate(raw)


def inbound(n: int) -> gateway_pb2.SubmitInboundMessageRequest:
    return gateway_pb2.SubmitInboundMessageRequest(
        tenant=common_pb2.TenantRef(tenant_id="acme", brand_id="acme-retail"),
        channel=common_pb2.CHANNEL_KIND_SMS,
        entry_point="+4930111111",
        text=f"Where is parcel {n}?",
        provider_message_id=f"SM-load-{n}",
        **{"from": common_pb2.Identifier(kind=common_pb2.IDENTIFIER_KIND_PHONE, value=f"+4915100{n:05d}")},
    )


async def assert_limits(js: JetStreamContext, store: StoreClass, limits: Limits) -> None:
    info = await js.stream_info(stream_name(store, REGION))
    assert int(info.config.max_age or 0) == limits.max_age_seconds, store.key
    assert info.config.max_bytes == limits.max_bytes, store.key
    if limits.max_bytes > 0:
        assert info.state.bytes <= limits.max_bytes, store.key


async def test_services_keep_every_store_within_the_regions_limits_under_load(platform: Platform) -> None:
    document = with_retention(eu_contact_center(), SHORT)
    policy = document.spec.retention.policy()
    await platform.apply(document)
    await platform.start("identity", "gateway", "integration", "routing")
    js = platform.nc.jetstream()
    for store in STORES:
        await assert_limits(js, store, policy.of(store))

    gateway = platform.stub(GatewayServiceStub, tenant="acme", role="integration")
    integration = platform.stub(IntegrationServiceStub, tenant="acme", role="integration")
    accepted = []
    for wave in range(4):
        replies = await asyncio.gather(
            *(gateway.SubmitInboundMessage(inbound(wave * 25 + i)) for i in range(25))
        )
        accepted.extend(replies)
        for store in STORES:
            await assert_limits(js, store, policy.of(store))
    assert all(reply.contact_created for reply in accepted)
    # The contact's events are listed from the event stream while it keeps them.
    listing = integration_pb2.ListContactEventsRequest(tenant_id="acme", contact_id=accepted[-1].contact_id)
    assert (await integration.ListContactEvents(listing)).events

    # Nothing is written per event into the integration bucket any more.
    integration_bucket = await js.stream_info(f"KV_{naming.integration_bucket(REGION)}")
    assert integration_bucket.state.messages < len(accepted)

    # Everything written during the load expires from every store with a maximum age.
    written = {
        store.key: (await js.stream_info(stream_name(store, REGION))).state.last_seq
        for store in STORES
        if policy.of(store).max_age_seconds
    }

    async def expired() -> bool:
        for store in STORES:
            key = store.key
            if key in written:
                state = (await js.stream_info(stream_name(store, REGION))).state
                if state.messages and state.first_seq <= written[key]:
                    return False
        return True

    await eventually(expired, seconds=SHORT_AGE * 10)
    assert (await js.stream_info(naming.events_stream(REGION).name)).state.messages < len(accepted)
    for store in STORES:
        await assert_limits(js, store, policy.of(store))

    # A changed retention is applied by the running services, without a restart.
    longer = with_retention(document, {**SHORT, "events": {"maxAgeSeconds": 3600}})
    await platform.apply(longer)

    async def applied() -> bool:
        info = await js.stream_info(naming.events_stream(REGION).name)
        return int(info.config.max_age or 0) == 3600 and info.config.max_bytes == -1

    await eventually(applied)


async def test_a_full_stream_drops_its_oldest_events_and_a_full_live_bucket_refuses_writes(
    js: JetStreamContext,
) -> None:
    policy = RetentionPolicy(
        {"events": Limits(max_age_seconds=3600, max_bytes=MIB), "journeys": Limits(max_bytes=MIB)}
    )
    await ensure_region_stores(js, REGION, policy)
    events = naming.events_stream(REGION).name
    payload = b"x" * 2000
    for n in range(1200):  # about 2.4 MiB into a 1 MiB stream
        await js.publish(naming.event_subject(REGION, "acme", "message_received", f"c{n}"), payload)
    state = (await js.stream_info(events)).state
    assert state.bytes <= MIB
    assert state.first_seq > 1  # the oldest were dropped to make room
    assert state.last_seq == 1200  # the newest are kept

    journeys = await js.key_value(naming.journeys_bucket(REGION))
    kept: list[str] = []
    with pytest.raises((APIError, BadRequestError)):
        for n in range(1200):
            await journeys.put(f"journey.acme.j{n}", payload)
            kept.append(f"journey.acme.j{n}")
    assert kept  # some fitted before the cap
    info = await js.stream_info(f"KV_{naming.journeys_bucket(REGION)}")
    assert info.state.bytes <= MIB
    # A full bucket refuses new writes; every key it accepted is still there.
    for key in kept:
        assert (await journeys.get(key)).value == payload


async def test_existing_stores_are_updated_to_new_limits_and_shared_buckets_never_expire(
    js: JetStreamContext,
) -> None:
    # A bucket as older releases created it: five revisions per key, no age limit, no per-key TTL.
    bucket = naming.identity_history_bucket(REGION)
    await js.add_stream(
        StreamConfig(
            name=f"KV_{bucket}",
            subjects=[f"$KV.{bucket}.>"],
            allow_direct=True,
            allow_rollup_hdrs=True,
            deny_delete=True,
            discard=DiscardPolicy.NEW,
            duplicate_window=120.0,
            max_msgs_per_subject=5,
        )
    )
    old = await js.key_value(bucket)
    await old.put("tl.acme.c1.e1", b"kept")
    await ensure_region_stores(js, REGION, RetentionPolicy())
    history = await js.stream_info(f"KV_{naming.identity_history_bucket(REGION)}")
    assert history.config.max_msgs_per_subject == 1
    assert int(history.config.max_age or 0) == BY_KEY["identityHistory"].defaults.max_age_seconds
    assert history.config.allow_msg_ttl
    assert (await old.get("tl.acme.c1.e1")).value == b"kept"
    # Keys may now carry their own time to live.
    await old.create("tl.acme.c1.e2", b"short", msg_ttl=60)

    tighter = RetentionPolicy({store.key: Limits(max_age_seconds=60) for store in STORES if store.may_expire})
    await ensure_region_stores(js, REGION, tighter)
    for store in STORES:
        info = await js.stream_info(stream_name(store, REGION))
        expected = 60 if store.may_expire else 0
        assert int(info.config.max_age or 0) == expected, store.key
        if expected:
            # nats-server refuses a duplicate window longer than the maximum age.
            assert (info.config.duplicate_window or 0) <= expected, store.key
    for store in GLOBAL_STORES:
        info = await js.stream_info(stream_name(store, REGION))
        assert int(info.config.max_age or 0) == 0
        assert info.config.max_msgs_per_subject == store.history
