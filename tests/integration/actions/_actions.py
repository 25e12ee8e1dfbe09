"""Shared pieces of the inbound-action tests: the integration API as a business system calls it,
the dead letters of a consumer, and an action record published straight onto the stream."""

from __future__ import annotations

from typing import Any

from _platform import REGION, Platform
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from ccmesh import naming, stream_read
from contactcenter.integration.v1 import integration_pb2
from contactcenter.integration.v1.integration_pb2_grpc import IntegrationServiceStub


def crm(platform: Platform, tenant: str = "acme") -> Any:
    """The integration service's actions API with an integration-role token (a CRM calling in)."""
    return platform.stub(IntegrationServiceStub, tenant=tenant, role="integration")


def header(key: str, tenant: str = "acme") -> integration_pb2.ActionHeader:
    return integration_pb2.ActionHeader(tenant_id=tenant, idempotency_key=key)


def customer_update(key: str, customer_id: str, **attributes: str) -> integration_pb2.UpdateAttributesRequest:
    return integration_pb2.UpdateAttributesRequest(
        header=header(key),
        target=integration_pb2.ATTRIBUTE_TARGET_CUSTOMER,
        target_id=customer_id,
        attributes=attributes,
    )


def contact_update(key: str, contact_id: str, **attributes: str) -> integration_pb2.UpdateAttributesRequest:
    return integration_pb2.UpdateAttributesRequest(
        header=header(key),
        target=integration_pb2.ATTRIBUTE_TARGET_CONTACT,
        target_id=contact_id,
        attributes=attributes,
    )


async def dead_letters(nc: NATS, durable: str) -> list[Msg]:
    """Every dead letter of `durable` stored so far (read with an ephemeral consumer)."""
    return [
        message
        async for message in stream_read.stored(
            nc.jetstream(),
            naming.dead_letter_subject(REGION, durable),
            stream=naming.dead_letter_stream(REGION).name,
        )
    ]


async def republish(nc: NATS, action_id: str, message_id: str) -> None:
    """Put the stored record of `action_id` on the stream again under another message id: what a
    redelivery after the stream's duplicate window looks like to the consumers."""
    js = nc.jetstream()
    stream = naming.actions_stream(REGION).name
    subscription = await js.pull_subscribe(naming.action_subject(REGION, "*", "*", "*"), stream=stream)
    try:
        while True:
            batch = await subscription.fetch(50, timeout=0.5)
            for message in batch:
                if integration_pb2.ActionRecord.FromString(message.data).action_id == action_id:
                    await js.publish(message.subject, message.data, headers={"Nats-Msg-Id": message_id})
                    return
    finally:
        await subscription.unsubscribe()
