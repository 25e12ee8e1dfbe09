"""InvokeConnector against a real CRM: the integration service on a real NATS asks the provider
sandbox's CRM (a real HTTP server) for the customer of a contact whose opening event it has
taken, and gives back the mapped fields; routing's adapter turns each outcome into what a
journey step does (fields, no connector, or a failure). Bad requests are refused by name."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import grpc
import pytest
from nats.aio.client import Client as NATS

from ccmesh.auth import ANY_TENANT, TokenAuthority
from ccmesh.configplane.loader import validate_document
from ccmesh.configplane.store import ConfigStore
from ccmesh.events import EventPublisher
from ccmesh.rpc_client import MeshChannel, mesh_stub
from ccmesh.status import RpcError
from ccsandbox import Sandbox, SandboxSettings
from ccsandbox.client import SandboxClient
from contactcenter.common.v1 import common_pb2
from contactcenter.events.v1 import events_pb2
from contactcenter.integration.v1 import integration_pb2
from contactcenter.integration.v1.integration_pb2_grpc import IntegrationServiceStub
from delivery._harness import AUTH_SECRET, REGION, InProcessService, integration_stub
from routing.adapters.connector_client import MeshConnectors
from routing.domain.journey_facts import WorkFailed
from tests.e2e.harness import eventually

PHONE = "+442079460111"
CRM_TOKEN = "sandbox-crm-secret"
T = TypeVar("T")

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
async def crm() -> AsyncIterator[SandboxClient]:
    async with Sandbox(SandboxSettings(smtp_port=-1)) as sandbox, SandboxClient(sandbox.base_url) as client:
        await client.seed_crm_customer(
            PHONE, {"id": "CRM-1", "tier": "gold"}, [{"id": "K-7", "status": "open"}]
        )
        yield client


def service_channel(nc: NATS) -> MeshChannel:
    token = TokenAuthority(AUTH_SECRET).mint(ANY_TENANT, "service", "routing", 300)
    return MeshChannel(nc, REGION, token=token, default_timeout=10.0)


async def connected(nc: NATS, crm: SandboxClient, contact_id: str, phone: str = PHONE) -> None:
    """The sandbox CRM as acme's connector, and a contact opened by `phone` that the service has taken."""
    document = validate_document(
        {
            "apiVersion": "contactcenter.dev/v1alpha1",
            "kind": "IntegrationConnector",
            "metadata": {"name": "acme-sandbox-crm"},
            "spec": {
                "tenant": "acme",
                "type": "crm",
                "endpointRegion": REGION,
                "baseUrl": crm.base_url + "/crm/v1",
                "token": CRM_TOKEN,
                "flowIntegrations": [
                    {"name": "crm-account", "path": "/customers/{identifier}"},
                    {
                        "name": "crm-cases",
                        "path": "/customers/{identifier}/cases",
                        "fields": {"open": "response.open", "latest": "response.cases[0].id"},
                    },
                ],
            },
        }
    )
    await (await ConfigStore.open(nc.jetstream())).apply(document)
    created = events_pb2.ContactCreated(channel=common_pb2.CHANNEL_KIND_SMS)
    getattr(created, "from").CopyFrom(
        common_pb2.Identifier(kind=common_pb2.IDENTIFIER_KIND_PHONE, value=phone)
    )
    opened = events_pb2.Event(
        event_id=f"{contact_id}-created",
        tenant=common_pb2.TenantRef(tenant_id="acme"),
        region=REGION,
        contact_id=contact_id,
        source="test",
        contact_created=created,
    )
    await EventPublisher(nc.jetstream(), REGION).publish(opened)
    admin = integration_stub(nc, role="admin")

    async def taken() -> bool | None:
        listed = await admin.ListContactEvents(
            integration_pb2.ListContactEventsRequest(tenant_id="acme", contact_id=contact_id)
        )
        return True if listed.events else None

    await eventually(taken)


async def answered(call: Callable[[], Awaitable[T]]) -> T:
    """`call`'s answer once the service's configuration watcher has seen the connector."""

    async def attempt() -> T | None:
        try:
            return await call()
        except RpcError as error:
            if error.code != grpc.StatusCode.NOT_FOUND:
                raise
            return None

    return await eventually(attempt)


def invoke(**fields: Any) -> integration_pb2.InvokeConnectorRequest:
    values: dict[str, Any] = {
        "tenant_id": "acme",
        "contact_id": "j1",
        "integration": "crm-account",
        "timeout_seconds": 5.0,
    }
    values.update(fields)
    return integration_pb2.InvokeConnectorRequest(**values)


async def test_a_journeys_crm_step_gets_the_customers_account_from_the_crm(
    nc: NATS, service: InProcessService, crm: SandboxClient
) -> None:
    await connected(nc, crm, "j1")
    stub: Any = mesh_stub(IntegrationServiceStub, service_channel(nc))
    reply = await answered(lambda: stub.InvokeConnector(invoke()))
    assert (reply.found, dict(reply.fields), reply.connector) == (
        True,
        {"id": "CRM-1", "tier": "gold"},
        "acme-sandbox-crm",
    )
    cases = await stub.InvokeConnector(invoke(integration="crm-cases"))
    assert dict(cases.fields) == {"open": "1", "latest": "K-7"}
    requests = await crm.crm_requests()
    assert [(r["method"], r["path"], r["status"], r["bearer"]) for r in requests] == [
        ("GET", f"/crm/v1/customers/{PHONE}", 200, True),
        ("GET", f"/crm/v1/customers/{PHONE}/cases", 200, True),
    ]


async def test_routings_adapter_turns_each_outcome_into_a_step_result(
    nc: NATS, service: InProcessService, crm: SandboxClient
) -> None:
    await connected(nc, crm, "j2")
    connectors = MeshConnectors(service_channel(nc))

    async def account() -> dict[str, str] | None:
        return await connectors.invoke("acme", "", "j2", "crm-account", {"intent": "billing"}, 3.0)

    assert await eventually(account) == {"id": "CRM-1", "tier": "gold"}
    # No connector answers it: the step waits for the system's flow event instead.
    assert await connectors.invoke("acme", "", "j2", "payment-confirmed", {}, 3.0) is None
    # The CRM fails, then is slower than the step may wait: the step's onFailure.
    await crm.fail("crm", {"status": 503})
    with pytest.raises(WorkFailed, match="UNAVAILABLE: connector 'acme-sandbox-crm': HTTP 503"):
        await connectors.invoke("acme", "", "j2", "crm-account", {}, 3.0)
    await crm.fail("crm", {"delay_seconds": 5})
    with pytest.raises(WorkFailed, match="no answer within"):
        await connectors.invoke("acme", "", "j2", "crm-account", {}, 1.0)
    # A customer the CRM does not know is an answer without fields.
    await connected(nc, crm, "j2-stranger", phone="+442079460999")
    assert await connectors.invoke("acme", "", "j2-stranger", "crm-account", {}, 3.0) == {}
    assert (await crm.crm_requests())[-1]["status"] == 404


async def test_bad_requests_are_refused_naming_the_field_and_nothing_is_called(
    nc: NATS, service: InProcessService, crm: SandboxClient
) -> None:
    await connected(nc, crm, "j3")
    stub: Any = mesh_stub(IntegrationServiceStub, service_channel(nc))
    await answered(lambda: stub.InvokeConnector(invoke(contact_id="j3")))
    called = len(await crm.crm_requests())
    refused = [
        (invoke(integration=""), grpc.StatusCode.INVALID_ARGUMENT, "integration: required"),
        (invoke(tenant_id=""), grpc.StatusCode.INVALID_ARGUMENT, "tenant_id is required"),
        (invoke(contact_id=""), grpc.StatusCode.INVALID_ARGUMENT, "contact_id: required"),
        (
            invoke(timeout_seconds=-1),
            grpc.StatusCode.INVALID_ARGUMENT,
            "timeout_seconds: must not be negative",
        ),
        (
            invoke(integration="crm-nothing"),
            grpc.StatusCode.NOT_FOUND,
            "no connector of tenant 'acme' answers integration 'crm-nothing'",
        ),
    ]
    for request, code, message in refused:
        with pytest.raises(RpcError) as raised:
            await stub.InvokeConnector(request)
        assert (raised.value.code, message in raised.value.message) == (code, True), raised.value
    # A business system's own token may not read another system's answers.
    with pytest.raises(RpcError) as denied:
        await integration_stub(nc, role="integration").InvokeConnector(invoke(contact_id="j3"))
    assert denied.value.code == grpc.StatusCode.PERMISSION_DENIED
    assert len(await crm.crm_requests()) == called
