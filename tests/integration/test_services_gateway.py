"""Gateway, identity and integration together: an inbound message becomes one contact and its events.

Counts on the `events-eu` stream show what was published; the integration service's
`ListContactEvents` reads a contact's events back from it.
"""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
import pytest
from _platform import REGION, Platform, eventually

from ccmesh.status import RpcError
from contactcenter.common.v1 import common_pb2
from contactcenter.gateway.v1 import gateway_pb2
from contactcenter.gateway.v1.gateway_pb2_grpc import GatewayServiceStub
from contactcenter.identity.v1 import identity_pb2
from contactcenter.identity.v1.identity_pb2_grpc import IdentityServiceStub
from contactcenter.integration.v1 import integration_pb2
from contactcenter.integration.v1.integration_pb2_grpc import IntegrationServiceStub

pytestmark = pytest.mark.timeout(60)

SMS = common_pb2.CHANNEL_KIND_SMS
WHATSAPP = common_pb2.CHANNEL_KIND_WHATSAPP
PHONE = common_pb2.IDENTIFIER_KIND_PHONE
WHATSAPP_ID = common_pb2.IDENTIFIER_KIND_WHATSAPP_ID


def inbound(
    provider_message_id: str,
    *,
    value: str = "+49 151 2345 6789",
    kind: int = PHONE,
    channel: int = SMS,
    text: str = "Where is my parcel?",
    tenant: str = "acme",
    brand: str = "acme-retail",
) -> gateway_pb2.SubmitInboundMessageRequest:
    return gateway_pb2.SubmitInboundMessageRequest(
        tenant=common_pb2.TenantRef(tenant_id=tenant, brand_id=brand),
        channel=channel,  # type: ignore[arg-type]
        entry_point="+4930111111",
        text=text,
        provider_message_id=provider_message_id,
        **{"from": common_pb2.Identifier(kind=kind, value=value)},  # type: ignore[arg-type]
    )


async def failure(call: Any) -> RpcError:
    with pytest.raises(RpcError) as caught:
        await call
    return caught.value


@pytest.fixture
async def gateway(platform: Platform) -> Any:
    await platform.start("identity", "gateway", "integration")
    return platform.stub(GatewayServiceStub, tenant="acme", role="integration")


async def test_inbound_messages_open_then_continue_one_contact_and_are_idempotent(
    platform: Platform,
    gateway: Any,
) -> None:
    first = await gateway.SubmitInboundMessage(inbound("SM-1", text="Hello"))
    assert first.contact_id and first.customer_id and first.message_id
    assert (first.contact_created, first.duplicate) == (True, False)
    assert await platform.event_count() == 2  # ContactCreated + MessageReceived

    repeat = await gateway.SubmitInboundMessage(inbound("SM-1", text="Hello"))
    assert repeat.duplicate
    assert not repeat.contact_created
    assert (repeat.contact_id, repeat.customer_id, repeat.message_id) == (
        first.contact_id,
        first.customer_id,
        first.message_id,
    )
    assert await platform.event_count() == 2

    # The same customer on WhatsApp (same number, WhatsApp's own spelling) continues the contact.
    second = await gateway.SubmitInboundMessage(
        inbound("wamid.2", value="4915123456789", kind=WHATSAPP_ID, channel=WHATSAPP, text="Any news?")
    )
    assert (second.contact_id, second.customer_id) == (first.contact_id, first.customer_id)
    assert (second.contact_created, second.duplicate) == (False, False)
    assert second.message_id != first.message_id
    assert await platform.event_count() == 3

    identity = platform.stub(IdentityServiceStub, tenant="acme", role="agent")
    customer = await identity.GetCustomer(
        identity_pb2.GetCustomerRequest(
            tenant=common_pb2.TenantRef(tenant_id="acme", brand_id="acme-retail"),
            customer_id=first.customer_id,
        )
    )
    assert [(i.kind, i.value) for i in customer.customer.identifiers] == [(PHONE, "+4915123456789")]

    integration = platform.stub(IntegrationServiceStub, tenant="acme", role="integration")
    request = integration_pb2.ListContactEventsRequest(tenant_id="acme", contact_id=first.contact_id)

    async def all_three() -> Any:
        reply = await integration.ListContactEvents(request)
        return reply if len(reply.events) >= 3 else None

    # Read from the event stream: every event published so far is listed, each once.
    listed = await eventually(all_three)
    kinds = [event.WhichOneof("payload") for event in listed.events]
    assert kinds == ["contact_created", "message_received", "message_received"]
    ids = [event.event_id for event in listed.events]
    assert len(set(ids)) == len(ids)
    created, hello, news = listed.events
    assert created.contact_created.customer_id == first.customer_id
    assert created.contact_created.channel == SMS
    assert getattr(created.contact_created, "from").value == "+49 151 2345 6789"
    assert (hello.message_received.text, hello.message_received.provider_message_id) == ("Hello", "SM-1")
    assert hello.message_received.message_id == first.message_id
    assert (news.message_received.text, news.message_received.channel) == ("Any news?", WHATSAPP)
    for event in listed.events:
        assert (event.tenant.tenant_id, event.region, event.contact_id) == ("acme", REGION, first.contact_id)
        assert event.source == "gateway"


async def test_different_customers_get_different_contacts(gateway: Any) -> None:
    jane = await gateway.SubmitInboundMessage(inbound("SM-10", value="+4915100000010"))
    john = await gateway.SubmitInboundMessage(inbound("SM-11", value="+4915100000011"))
    assert jane.contact_created and john.contact_created
    assert jane.contact_id != john.contact_id
    assert jane.customer_id != john.customer_id


@pytest.mark.parametrize(
    ("request_", "code", "named"),
    [
        pytest.param(
            inbound(""), grpc.StatusCode.INVALID_ARGUMENT, ["provider_message_id"], id="no-provider-id"
        ),
        pytest.param(
            inbound("SM-20", channel=common_pb2.CHANNEL_KIND_UNSPECIFIED),
            grpc.StatusCode.INVALID_ARGUMENT,
            ["channel"],
            id="unspecified-channel",
        ),
        pytest.param(
            inbound("SM-21", kind=common_pb2.IDENTIFIER_KIND_UNSPECIFIED),
            grpc.StatusCode.INVALID_ARGUMENT,
            ["from"],
            id="unspecified-sender-kind",
        ),
        pytest.param(
            inbound("SM-22", value="not a phone"),
            grpc.StatusCode.INVALID_ARGUMENT,
            ["phone", "not a phone", "E.164"],
            id="bad-phone-from-identity",
        ),
        pytest.param(
            inbound("SM-23", brand="acme-insurance"),
            grpc.StatusCode.NOT_FOUND,
            ["brand", "acme-insurance"],
            id="unknown-brand-from-identity",
        ),
    ],
)
async def test_bad_input_is_rejected_naming_the_problem_and_publishes_nothing(
    platform: Platform,
    gateway: Any,
    request_: gateway_pb2.SubmitInboundMessageRequest,
    code: grpc.StatusCode,
    named: list[str],
) -> None:
    await gateway.SubmitInboundMessage(inbound("SM-0", value="+4915100000000"))
    before = await platform.event_count()

    error = await failure(gateway.SubmitInboundMessage(request_))

    assert error.code is code
    for word in named:
        assert word in error.message, (word, error.message)
    assert await platform.event_count() == before


async def test_a_rejected_message_can_be_resubmitted_once_corrected(
    platform: Platform,
    gateway: Any,
) -> None:
    # The failed attempt must not leave a claim behind that turns the retry into a "duplicate".
    error = await failure(gateway.SubmitInboundMessage(inbound("SM-30", value="0151 oops")))
    assert error.code is grpc.StatusCode.INVALID_ARGUMENT
    assert await platform.event_count() == 0

    retried = await gateway.SubmitInboundMessage(inbound("SM-30", value="+4915100000030"))
    assert (retried.duplicate, retried.contact_created) == (False, True)
    assert await platform.event_count() == 2


async def test_unknown_tenant_is_rejected_by_identity_and_publishes_nothing(
    platform: Platform,
) -> None:
    await platform.start("identity", "gateway")
    initech = platform.stub(GatewayServiceStub, tenant="initech", role="admin")
    error = await failure(initech.SubmitInboundMessage(inbound("SM-40", tenant="initech", brand="")))
    assert error.code is grpc.StatusCode.NOT_FOUND
    assert "initech" in error.message
    assert await platform.event_count() == 0


async def test_tenants_do_not_share_contacts_for_the_same_phone_and_provider_id(
    platform: Platform,
    gateway: Any,
) -> None:
    globex = platform.stub(GatewayServiceStub, tenant="globex", role="integration")
    acme_reply = await gateway.SubmitInboundMessage(inbound("SM-50"))
    globex_reply = await globex.SubmitInboundMessage(inbound("SM-50", tenant="globex", brand="globex"))
    assert not globex_reply.duplicate
    assert globex_reply.contact_created
    assert globex_reply.contact_id != acme_reply.contact_id
    assert globex_reply.customer_id != acme_reply.customer_id
    assert await platform.event_count() == 4


async def test_concurrent_deliveries_of_one_provider_message_are_accepted_once(
    platform: Platform,
    gateway: Any,
) -> None:
    outcomes = await asyncio.gather(
        *(gateway.SubmitInboundMessage(inbound("SM-60")) for _ in range(5)), return_exceptions=True
    )
    replies = [o for o in outcomes if not isinstance(o, BaseException)]
    errors = [o for o in outcomes if isinstance(o, BaseException)]
    # A delivery racing the first one is told to retry (ABORTED); none is accepted twice.
    assert all(isinstance(e, RpcError) and e.code is grpc.StatusCode.ABORTED for e in errors), errors
    assert sum(not reply.duplicate for reply in replies) == 1
    assert len({reply.contact_id for reply in replies}) == 1
    assert len({reply.message_id for reply in replies}) == 1
    assert await platform.event_count() == 2
    retried = await gateway.SubmitInboundMessage(inbound("SM-60"))
    assert retried.duplicate
    assert retried.contact_id == replies[0].contact_id
