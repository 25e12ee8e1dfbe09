"""A tenant's API message that names another tenant's channel endpoint gets nothing of it.

With the real identity, routing and gateway: tenant globex owns an endpoint with a journey and
prompt texts of its own, and acme's messages name it. The tenant HTTP API refuses such a message
with an error naming the field, and publishes nothing; gRPC accepts it as a message of a free
API entry point, where no journey starts, no queue of globex is joined and none of globex's
prompt texts reaches acme's contact. acme's own endpoint is the control: its journey runs.
"""

from __future__ import annotations

from typing import Any

import pytest
from _gateway_conversation import apply_endpoints, contact_events, endpoint, kinds, publish_flows
from _gateway_http import http_gateway
from _platform import Platform, eventually, platform  # noqa: F401 - the fixture

from ccmesh.status import RpcError
from contactcenter.common.v1 import common_pb2
from contactcenter.gateway.v1 import gateway_pb2
from contactcenter.gateway.v1.gateway_pb2_grpc import GatewayServiceStub
from contactcenter.routing.v1 import routing_pb2
from contactcenter.routing.v1.routing_pb2_grpc import RoutingServiceStub

pytestmark = pytest.mark.timeout(90)

#: Texts only globex's endpoint holds; acme must never see them.
GLOBEX_PROMPTS = {"welcome": "Globex private welcome", "ask-order": "Globex private question"}


async def settled_events(platform: Platform, contact_id: str, count: int) -> list[Any]:  # noqa: F811
    async def enough() -> list[Any] | None:
        found = await contact_events(platform.nc, contact_id)
        return found if len(found) >= count else None

    return list(await eventually(enough))


async def test_an_api_message_naming_another_tenants_endpoint_gets_none_of_its_journey_or_prompts(
    platform: Platform,  # noqa: F811
) -> None:
    await apply_endpoints(
        platform.nc,
        endpoint(
            "globex-orders", "sms", "+442071830901", tenant="globex", flow="orders", prompts=GLOBEX_PROMPTS
        ),
        # acme's own endpoint with the same flow: the control that the journey runs for its owner.
        endpoint("acme-orders", "sms", "+442071830902", flow="orders", prompts={"welcome": "ACME welcome"}),
    )
    await platform.start("identity", "routing")
    routing = platform.stub(RoutingServiceStub, role="admin")
    await publish_flows(routing)
    async with http_gateway(platform) as gateway:
        headers = {"Authorization": f"Bearer {platform.token('acme', 'integration')}"}
        message = {
            "channel": "sms",
            "from": {"kind": "phone", "value": "+447700900951"},
            "entryPoint": "globex-orders",
            "text": "hello",
            "providerMessageId": "SM-tenancy-1",
        }
        stored = await platform.event_count()
        async with gateway.session.post(
            gateway.url("/v1/tenants/acme/messages"), json=message, headers=headers
        ) as response:
            assert response.status == 400, await response.text()
            refused = (await response.json())["error"]
        assert refused["code"] == "INVALID_ARGUMENT"
        assert "entryPoint" in refused["message"] and "globex-orders" in refused["message"]
        assert await platform.event_count() == stored
        # The same through gRPC, from another customer.
        grpc_gateway = platform.stub(GatewayServiceStub, role="integration")
        sender = common_pb2.Identifier(kind=common_pb2.IDENTIFIER_KIND_PHONE, value="+447700900952")
        request = gateway_pb2.SubmitInboundMessageRequest(
            tenant=common_pb2.TenantRef(tenant_id="acme", brand_id="acme-retail"),
            channel=common_pb2.CHANNEL_KIND_SMS,
            entry_point="globex-orders",
            text="hello",
            provider_message_id="SM-tenancy-2",
            **{"from": sender},  # type: ignore[arg-type]
        )

        async def submitted() -> Any:
            # HTTP answers before the gateway's mesh endpoints are up: until then, no responders.
            try:
                return await grpc_gateway.SubmitInboundMessage(request)
            except RpcError as error:
                if error.code.name != "UNAVAILABLE":
                    raise
                return None

        by_grpc = await eventually(submitted)
        # The control: acme's own endpoint starts its journey and its prompt goes out.
        own = dict(message, entryPoint="acme-orders", providerMessageId="SM-tenancy-3")
        own["from"] = {"kind": "phone", "value": "+447700900953"}
        async with gateway.session.post(
            gateway.url("/v1/tenants/acme/messages"), json=own, headers=headers
        ) as response:
            assert response.status == 201, await response.text()
            control = await response.json()
        control_events = await settled_events(platform, control["contactId"], 3)
        assert "ACME welcome" in [e.message_sent.text for e in control_events if e.message_sent.text]

        events = await settled_events(platform, by_grpc.contact_id, 2)
        # Only what a free API entry point publishes: no prompt, no queue hand-off.
        assert kinds(events) == ["contact_created", "message_received"]
        assert events[0].contact_created.entry_point == "globex-orders"
        with pytest.raises(RpcError) as missing:
            await routing.GetJourney(
                routing_pb2.GetJourneyRequest(tenant_id="acme", journey_id=by_grpc.contact_id)
            )
        assert missing.value.code.name == "NOT_FOUND"
        # Globex's prompt texts are nowhere on acme's contact, even after the control settled.
        texts = [e.message_sent.text for e in await contact_events(platform.nc, by_grpc.contact_id)]
        assert not set(texts) & set(GLOBEX_PROMPTS.values())
