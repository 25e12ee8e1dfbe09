"""The example journey's CRM steps call the CRM under `make run`: `ccctl up` applies the example
connector (examples/connectors/eu.yaml) pointing at the provider sandbox's CRM. An admin adds an
SMS number that starts the `support` journey (`ccctl apply -f`); a customer texts it through the
signed Twilio webhook; the CRM is asked for the customer's account and cases with the customer's
phone number; the journey goes on with the fields the CRM answered and reaches the agent. When
the CRM fails, the steps take their error branch and the customer still reaches the queue. An
admin trying a connector with a request that lacks a field is told which."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
import yaml
from google.protobuf import json_format

from ccctl.main import main as ccctl
from ccmesh.configplane.channels import ChannelEndpoint
from ccmesh.configplane.loader import load_file
from ccmesh.status import RpcError
from ccsandbox.client import SandboxClient
from contactcenter.integration.v1 import integration_pb2
from contactcenter.integration.v1.integration_pb2_grpc import IntegrationServiceStub
from contactcenter.routing.v1 import routing_pb2, routing_pb2_grpc
from tests.e2e.harness import EXAMPLES, RunningRegion, eventually

ENDPOINT = "acme-sms-journey"
NUMBER = "+442071838790"
ORDER_QUESTION = "Hello, I have a question about my last order please"
OFFER = "Would you like to try our help article first?"

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def sms_journey(e2e_region: RunningRegion, tmp_path_factory: pytest.TempPathFactory) -> str:
    """An SMS number whose new contacts start the support journey, applied as an admin does."""
    documents = list(yaml.safe_load_all((EXAMPLES / "channels" / "eu.yaml").read_text()))
    webchat = next(d for d in documents if d["metadata"]["name"] == "acme-webchat-journey")
    endpoint = next(d for d in documents if d["metadata"]["name"] == "acme-uk-sms")
    endpoint["metadata"]["name"] = ENDPOINT
    assert e2e_region.platform.sandbox is not None
    endpoint["spec"].update(
        address=NUMBER,
        flow="support",
        prompts=webchat["spec"]["prompts"],
        providerApiUrl=e2e_region.platform.sandbox.url,
    )
    path = tmp_path_factory.mktemp("admin") / "sms-journey.yaml"
    path.write_text(yaml.safe_dump(endpoint, sort_keys=False))
    assert ccctl(["apply", "-f", str(path), "--nats-url", e2e_region.nats_url]) == 0
    (applied,) = load_file(path)
    assert isinstance(applied.document, ChannelEndpoint)
    e2e_region.endpoints[ENDPOINT] = applied.document
    return ENDPOINT


async def _text_in(e2e_region: RunningRegion, sender: str, text: str) -> None:
    """The customer's SMS, once the gateway knows the newly applied number."""
    async with e2e_region.http() as http:

        async def accepted() -> bool | None:
            status, body = await e2e_region.sms(http, sender, text, endpoint=ENDPOINT)
            assert status in (200, 404), body
            return True if status == 200 else None

        await eventually(accepted)


async def _contact_of(e2e_region: RunningRegion, phone: str) -> str:
    async def created() -> str | None:
        for event in await e2e_region.events():
            opened = event.WhichOneof("payload") == "contact_created"
            if opened and getattr(event.contact_created, "from").value == phone:
                return event.contact_id
        return None

    return await eventually(created)


async def _journey(e2e_region: RunningRegion, contact_id: str) -> Any:
    async with e2e_region.connect() as nc:
        routing = e2e_region.stub(nc, routing_pb2_grpc.RoutingServiceStub, e2e_region.token("admin"))
        reply = await routing.GetJourney(
            routing_pb2.GetJourneyRequest(tenant_id="acme", journey_id=contact_id)
        )
    return reply.journey


async def _offered_and_declined(sandbox: SandboxClient, e2e_region: RunningRegion, phone: str) -> None:
    """The customer is asked about self-service by SMS (the journey went past the CRM) and says no."""
    await sandbox.wait_for(lambda m: m["to"] == phone and m["text"].startswith(OFFER), seconds=60)
    async with e2e_region.http() as http:
        status, body = await e2e_region.sms(http, phone, "no", endpoint=ENDPOINT)
        assert status == 200, body


async def test_the_crm_steps_call_the_crm_and_the_journey_goes_on_with_its_answer(
    e2e_region: RunningRegion, sandbox: SandboxClient, sms_journey: str
) -> None:
    phone = "+447700900301"
    await sandbox.seed_crm_customer(
        phone,
        {"id": "CRM-301", "tier": "gold", "name": "Ann Example"},
        [{"id": "CASE-9", "status": "open"}, {"id": "CASE-3", "status": "closed"}],
    )
    async with e2e_region.http() as http:
        alice = await e2e_region.agent(http, "alice")
        await _text_in(e2e_region, phone, ORDER_QUESTION)
        contact_id = await _contact_of(e2e_region, phone)
        await _offered_and_declined(sandbox, e2e_region, phone)
        offer = await alice.expect("offer", seconds=60, contactId=contact_id)
        assert (offer["queue"], offer["channel"]) == ("eu-support", "sms")

    asked = [(r["path"], r["status"], r["bearer"]) for r in await sandbox.crm_requests()]
    assert (f"/crm/v1/customers/{phone}", 200, True) in asked
    assert (f"/crm/v1/customers/{phone}/cases", 200, True) in asked

    journey = await _journey(e2e_region, contact_id)
    assert (journey.status, journey.hand_off.queue) == ("ended", "eu-support")
    attributes = json_format.MessageToDict(journey.attributes)
    assert attributes["account"] == {"id": "CRM-301", "tier": "gold", "name": "Ann Example"}
    assert attributes["cases"] == {"open": "1", "latest": "CASE-3"}
    # What the queue was handed carries it too.
    assert json_format.MessageToDict(journey.hand_off.attributes)["account"]["tier"] == "gold"
    assert {"fetch-account", "fetch-cases", "eu-offer"} <= set(journey.path)
    assert not [e for e in journey.errors if e.node.startswith("fetch-")]


async def test_a_failing_crm_takes_the_error_branch_and_the_customer_still_reaches_the_queue(
    e2e_region: RunningRegion, sandbox: SandboxClient, sms_journey: str
) -> None:
    phone = "+447700900302"
    await sandbox.seed_crm_customer(phone, {"id": "CRM-302", "tier": "silver"})
    await sandbox.fail("crm", {"status": 503}, {"status": 503})
    await _text_in(e2e_region, phone, ORDER_QUESTION)
    contact_id = await _contact_of(e2e_region, phone)
    await _offered_and_declined(sandbox, e2e_region, phone)

    async def queued() -> Any:
        journey = await _journey(e2e_region, contact_id)
        return journey if journey.status == "ended" else None

    journey = await eventually(queued, seconds=60)
    assert journey.hand_off.queue == "eu-support"
    attributes = json_format.MessageToDict(journey.attributes)
    assert "account" not in attributes and "cases" not in attributes
    failed = {e.node: e.error for e in journey.errors}
    assert "HTTP 503" in failed["fetch-account"] and "HTTP 503" in failed["fetch-cases"]
    statuses = [r["status"] for r in await sandbox.crm_requests() if phone in r["path"]]
    assert statuses == [503, 503]
    events = await e2e_region.contact_events(contact_id)
    queued_by_journey = [
        e.contact_queued.queue
        for e in events
        if e.WhichOneof("payload") == "contact_queued" and e.source == "routing"
    ]
    assert queued_by_journey == ["eu-support"]


@pytest.mark.parametrize(
    ("fields", "code", "named"),
    [
        ({"integration": ""}, grpc.StatusCode.INVALID_ARGUMENT, "integration: required"),
        ({"tenant_id": ""}, grpc.StatusCode.INVALID_ARGUMENT, "tenant_id is required"),
        ({"integration": "crm-orders"}, grpc.StatusCode.NOT_FOUND, "answers integration 'crm-orders'"),
    ],
)
async def test_an_admin_trying_a_connector_with_bad_input_is_told_which_field(
    e2e_region: RunningRegion,
    sandbox: SandboxClient,
    fields: dict[str, str],
    code: grpc.StatusCode,
    named: str,
) -> None:
    called = len(await sandbox.crm_requests())
    request = integration_pb2.InvokeConnectorRequest(
        tenant_id="acme", contact_id="someone", integration="crm-account", timeout_seconds=2.0
    )
    for name, value in fields.items():
        setattr(request, name, value)
    async with e2e_region.connect() as nc:
        stub = e2e_region.stub(nc, IntegrationServiceStub, e2e_region.token("admin"))
        with pytest.raises(RpcError) as refused:
            await stub.InvokeConnector(request)
    assert refused.value.code == code and named in refused.value.message, refused.value
    assert len(await sandbox.crm_requests()) == called
