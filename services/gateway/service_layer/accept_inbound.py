"""Accept one inbound customer message: who is it, which contact, which events.

Steps, each safe to repeat: claim the provider message id; resolve the customer (identity
service, over the mesh); open or continue the customer's contact; publish ContactCreated and
MessageReceived with ids derived from the contact and the provider message, so JetStream's
de-duplication drops a repeat; record the result under the claim.
"""

from __future__ import annotations

import time
from typing import Any, Protocol

from google.protobuf.timestamp_pb2 import Timestamp

from ccmesh.events import EventPublisher
from contactcenter.common.v1 import common_pb2
from contactcenter.events.v1 import events_pb2
from contactcenter.identity.v1 import identity_pb2
from gateway.adapters.contact_store import ContactStore
from gateway.domain.inbound import Accepted, InboundMessage, provisional_customer_id


class IdentityClient(Protocol):
    async def ResolveCustomer(self, request: identity_pb2.ResolveCustomerRequest, **kwargs: Any) -> Any: ...


def _now() -> Timestamp:
    stamp = Timestamp()
    stamp.FromNanoseconds(time.time_ns())
    return stamp


async def accept_inbound(
    message: InboundMessage,
    *,
    region: str,
    store: ContactStore,
    identity: IdentityClient,
    events: EventPublisher,
) -> tuple[Accepted, bool]:
    """Returns the result and whether it is a repeat of an already accepted message."""
    claim = await store.claim_message(message.tenant_id, message.idempotency_token())
    if claim.previous is not None:
        return claim.previous, True
    try:
        tenant = common_pb2.TenantRef(tenant_id=message.tenant_id, brand_id=message.brand_id)
        sender = common_pb2.Identifier(kind=message.from_kind, value=message.from_value)  # type: ignore[arg-type]
        resolved = await identity.ResolveCustomer(
            identity_pb2.ResolveCustomerRequest(tenant=tenant, identifiers=[sender])
        )
        customer_id = resolved.customer.customer_id or provisional_customer_id(
            home_region=resolved.remote.home_region,
            reference=resolved.remote.reference,
            from_kind=message.from_kind,
            from_value=message.from_value,
        )
        contact_id, created = await store.open_contact(message.tenant_id, customer_id)
        if created:
            await events.publish(
                events_pb2.Event(
                    event_id=f"{contact_id}.created",
                    occurred_at=_now(),
                    tenant=tenant,
                    region=region,
                    contact_id=contact_id,
                    source="gateway",
                    schema_version=1,
                    contact_created=events_pb2.ContactCreated(
                        channel=message.channel,  # type: ignore[arg-type]
                        customer_id=customer_id,
                        entry_point=message.entry_point,
                        **{"from": sender},
                    ),
                )
            )
        message_id = message.message_id()
        await events.publish(
            events_pb2.Event(
                event_id=message_id,
                occurred_at=_now(),
                tenant=tenant,
                region=region,
                contact_id=contact_id,
                source="gateway",
                schema_version=1,
                message_received=events_pb2.MessageReceived(
                    message_id=message_id,
                    channel=message.channel,  # type: ignore[arg-type]
                    customer_id=customer_id,
                    text=message.text,
                    provider_message_id=message.provider_message_id,
                ),
            )
        )
    except BaseException:
        await store.release(claim)
        raise
    result = Accepted(
        contact_id=contact_id, message_id=message_id, customer_id=customer_id, contact_created=created
    )
    await store.complete(claim, result)
    return result, False
