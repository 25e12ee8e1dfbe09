"""The IntegrationService contract: subscriptions, dead letters and replay, idempotent inbound actions."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import grpc
import pytest
from nats.aio.client import Client as NATS

from ccmesh.configplane.store import ConfigStore
from ccmesh.status import RpcError
from contactcenter.integration.v1 import integration_pb2
from delivery._harness import (
    REGION,
    SECRET,
    InProcessService,
    Receiver,
    apply_contact_center,
    apply_subscription,
    integration_stub,
    publish_events,
    service_config,
)


def subscription(**fields: object) -> integration_pb2.Subscription:
    values: dict[str, object] = {
        "name": "acme-crm",
        "tenant_id": "acme",
        "endpoint_region": REGION,
        "url": "https://crm.example.com/hooks",
        "secret": SECRET,
        "event_types": ["contact_created", "contact_closed"],
        "filter": 'event.data.outcome != "spam"',
        "enabled": True,
    }
    values.update(fields)
    return integration_pb2.Subscription(**values)  # type: ignore[arg-type]


@pytest.fixture
async def strict_service(nc: NATS, nats_url: str) -> AsyncIterator[InProcessService]:
    """The service outside local mode: only https endpoints."""
    await apply_contact_center(nc)
    running = InProcessService(service_config(nats_url, local_mode=False))
    await running.wait_ready(nc)
    yield running
    await running.stop()


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"filter": "event.type =="}, "spec.filter: CEL expression does not compile"),
        ({"url": "http://crm.example.com/hooks"}, "spec.url: scheme must be https, got 'http'"),
        ({"secret": ""}, "spec.secret"),
        ({"secret": "whsec_dG9vc2hvcnQ="}, "spec.secret: the key must be at least 24 bytes"),
        (
            {"event_types": ["contact_exploded"]},
            "spec.eventTypes: unknown event type(s) ['contact_exploded']",
        ),
    ],
)
async def test_bad_subscription_is_rejected_naming_the_field_and_nothing_accepted_is_lost(
    nc: NATS, strict_service: InProcessService, fields: dict[str, object], problem: str
) -> None:
    stub = integration_stub(nc)
    await stub.ApplySubscription(integration_pb2.ApplySubscriptionRequest(subscription=subscription()))

    with pytest.raises(RpcError) as raised:
        await stub.ApplySubscription(
            integration_pb2.ApplySubscriptionRequest(subscription=subscription(**fields))
        )

    assert raised.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert problem in raised.value.message
    assert SECRET not in raised.value.message
    listed = await stub.ListSubscriptions(integration_pb2.ListSubscriptionsRequest(tenant_id="acme"))
    assert [(s.name, s.url, s.filter, s.secret) for s in listed.subscriptions] == [
        ("acme-crm", "https://crm.example.com/hooks", 'event.data.outcome != "spam"', "")
    ]


async def test_subscriptions_are_per_tenant_and_role_checked(
    nc: NATS, strict_service: InProcessService
) -> None:
    acme = integration_stub(nc)
    await acme.ApplySubscription(integration_pb2.ApplySubscriptionRequest(subscription=subscription()))
    globex = integration_stub(nc, tenant="globex")

    taken = subscription(tenant_id="globex")
    with pytest.raises(RpcError) as raised:
        await globex.ApplySubscription(integration_pb2.ApplySubscriptionRequest(subscription=taken))
    assert raised.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "already taken" in raised.value.message
    listed = await globex.ListSubscriptions(integration_pb2.ListSubscriptionsRequest(tenant_id="globex"))
    assert list(listed.subscriptions) == []
    deleted = await globex.DeleteSubscription(
        integration_pb2.DeleteSubscriptionRequest(tenant_id="globex", name="acme-crm")
    )
    assert not deleted.deleted

    with pytest.raises(RpcError) as refused:
        await globex.ListSubscriptions(integration_pb2.ListSubscriptionsRequest(tenant_id="acme"))
    assert refused.value.code == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(RpcError) as agent:
        await integration_stub(nc, role="agent").ApplySubscription(
            integration_pb2.ApplySubscriptionRequest(subscription=subscription())
        )
    assert agent.value.code == grpc.StatusCode.PERMISSION_DENIED


async def test_dead_letters_after_the_retry_budget_then_replay_delivers_them(
    nc: NATS, nats_url: str, receivers: list[Receiver]
) -> None:
    failing = True

    async def behaviour(_body: dict[str, object]) -> int:
        return 500 if failing else 200

    await apply_contact_center(nc)
    receiver = await Receiver.start(behaviour=behaviour)
    receivers.append(receiver)
    running = InProcessService(service_config(nats_url, delivery_max_attempts=2, breaker_threshold=1000))
    try:
        await running.wait_ready(nc)
        await apply_subscription(nc, "acme-dlq", receiver.url)
        published = await publish_events(nc, contacts=3, per_contact=2)
        stub = integration_stub(nc)
        request = integration_pb2.ListDeadLettersRequest(tenant_id="acme", subscription="acme-dlq")

        async def all_dead() -> bool:
            return len((await stub.ListDeadLetters(request)).dead_letters) == len(published)

        await _eventually(all_dead)
        listed = (await stub.ListDeadLetters(request)).dead_letters
        assert {d.event_id for d in listed} == set(published)
        assert all(
            d.reason == "HTTP 500" and d.attempts == 2 and d.event_type == "contact_queued" for d in listed
        )

        failing = False
        replayed = await stub.ReplayDeadLetters(
            integration_pb2.ReplayDeadLettersRequest(tenant_id="acme", subscription="acme-dlq")
        )
        assert replayed.delivered == len(published)
        assert list(replayed.failed) == []
        assert receiver.distinct() == set(published)
        assert list((await stub.ListDeadLetters(request)).dead_letters) == []
    finally:
        await running.stop()


async def test_inbound_action_with_a_repeated_idempotency_key_applies_once(
    nc: NATS, service: InProcessService
) -> None:
    stub = integration_stub(nc)
    header = integration_pb2.ActionHeader(tenant_id="acme", idempotency_key="close-42")
    request = integration_pb2.CloseContactRequest(header=header, contact_id="c42", outcome="resolved")

    first = await stub.CloseContact(request)
    again = await stub.CloseContact(request)

    assert not first.result.replayed
    assert again.result.replayed
    assert again.result.action_id == first.result.action_id
    js = nc.jetstream()
    closed = await js.stream_info(
        f"events-{REGION}", subjects_filter=f"ccevt.{REGION}.acme.contact_closed.c42"
    )
    assert closed.state.messages == 1
    actions = await js.stream_info(f"actions-{REGION}")
    assert actions.state.messages == 1

    changed = integration_pb2.CloseContactRequest(header=header, contact_id="c42", outcome="abandoned")
    with pytest.raises(RpcError) as conflict:
        await stub.CloseContact(changed)
    assert conflict.value.code == grpc.StatusCode.ALREADY_EXISTS
    assert "close-42" in conflict.value.message

    with pytest.raises(RpcError) as refused:
        await integration_stub(nc, role="admin").CloseContact(request)
    assert refused.value.code == grpc.StatusCode.PERMISSION_DENIED

    task = integration_pb2.CreateTaskRequest(
        header=integration_pb2.ActionHeader(tenant_id="acme", idempotency_key="task-1"), title="Call back"
    )
    created, repeated = await stub.CreateTask(task), await stub.CreateTask(task)
    assert created.contact_id and created.contact_id == repeated.contact_id
    assert (await js.stream_info(f"actions-{REGION}")).state.messages == 2


async def _eventually(probe: Callable[[], Awaitable[bool]], seconds: float = 30.0) -> None:
    async with asyncio.timeout(seconds):
        while True:
            if await probe():
                return
            await asyncio.sleep(0.05)


async def test_store_keeps_subscriptions_in_the_config_plane(
    nc: NATS, strict_service: InProcessService
) -> None:
    stub = integration_stub(nc)
    await stub.ApplySubscription(integration_pb2.ApplySubscriptionRequest(subscription=subscription()))
    stored = await (await ConfigStore.open(nc.jetstream())).get("WebhookSubscription", "acme-crm")
    assert stored is not None
    assert stored.spec.url == "https://crm.example.com/hooks"  # type: ignore[attr-defined]
