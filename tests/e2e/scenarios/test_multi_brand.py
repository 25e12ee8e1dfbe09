"""Multi-brand: brands are an access boundary, and pools are isolated or shared as configured.

acme keeps its brands apart (`brandSharing: isolated`): retail customers reach retail agents and
bank customers bank agents, except through a bank queue that shares its agents with retail.
globex shares its agents across its brands (`brandSharing: shared`). Tokens carry a brand scope
(`ccctl token --brand`): a retail-scoped agent or supervisor reads no bank customer, timeline or
queue, and nobody reads another tenant's. A ChannelEndpoint of one brand naming another brand's
queue is refused by `ccctl apply`, naming the field, and nothing is stored.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
import yaml

from ccctl.main import main as ccctl
from ccmesh.configplane.loader import metadata_of
from ccmesh.configplane.store import ConfigStore
from ccmesh.status import RpcError
from contactcenter.common.v1 import common_pb2
from contactcenter.identity.v1 import identity_pb2, identity_pb2_grpc
from contactcenter.integration.v1 import integration_pb2, integration_pb2_grpc
from contactcenter.routing.v1 import routing_pb2, routing_pb2_grpc
from tests.e2e.harness import RunningRegion, WsClient, eventually, running_region
from tests.e2e.scenarios._regions import examples_with

AGENT = {"languages": ["en"], "channels": {"webchat": 3, "sms": 2}}


def _webchat(name: str, tenant: str, brand: str, queue: str) -> dict[str, Any]:
    return {
        "apiVersion": "contactcenter.dev/v1alpha1",
        "kind": "ChannelEndpoint",
        "metadata": {"name": name},
        "spec": {
            "region": "eu",
            "tenant": tenant,
            "brand": brand,
            "channel": "webchat",
            "provider": "webchat",
            "address": f"{name}-widget",
            "queue": queue,
        },
    }


BANK_WELCOME = "Welcome to ACME Bank. For your security we will check who you are."


def _bank_journey() -> dict[str, Any]:
    """The bank's web chat through the shared support journey (its brand overlay applies)."""
    endpoint = _webchat("acme-bank-journey", "acme", "acme-bank", "")
    del endpoint["spec"]["queue"]
    endpoint["spec"]["flow"] = "support"
    endpoint["spec"]["prompts"] = {"bank-welcome": BANK_WELCOME, "retail-welcome": "RETAIL GREETING"}
    return endpoint


@pytest.fixture(scope="module")
def brands(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningRegion]:
    root = tmp_path_factory.mktemp("multi-brand")
    examples = examples_with(
        root,
        workspaces={
            "eu": {
                "tenant": "acme",
                "queues": [
                    {"name": "support", "brand": "acme-retail"},
                    {"name": "bank", "brand": "acme-bank"},
                    {"name": "bank-pool", "brand": "acme-bank"},
                ],
                "agents": [
                    {"id": "rita", "brands": ["acme-retail"], "queues": ["support", "bank-pool"], **AGENT},
                    {"id": "bert", "brands": ["acme-bank"], "queues": ["bank"], **AGENT},
                ],
            }
        },
        channels={
            "eu": [
                _webchat("acme-bank-chat", "acme", "acme-bank", "bank"),
                _webchat("acme-bank-pool-chat", "acme", "acme-bank", "bank-pool"),
                _webchat("globex-outlet-chat", "globex", "globex-outlet", "outlet"),
                _bank_journey(),
            ]
        },
    )
    # globex gets a second brand; its agents serve both (brandSharing: shared in the example).
    eu = examples / "eu.yaml"
    eu.write_text(
        eu.read_text().replace(
            "        - id: globex\n          displayName: Globex\n",
            "        - id: globex\n          displayName: Globex\n        - id: globex-outlet\n",
        )
    )
    with running_region(root / "data", ["eu"], examples_dir=examples) as region:
        asyncio.run(_configure(region))
        yield region


async def _configure(region: RunningRegion) -> None:
    """What the workspace file cannot say: a bank queue sharing its agents with retail, and
    globex's outlet queue and agent."""
    async with region.connect() as nc:
        acme = region.stub(nc, routing_pb2_grpc.RoutingServiceStub, region.token("admin"))
        await acme.ConfigureQueue(
            routing_pb2.ConfigureQueueRequest(
                tenant_id="acme",
                queue=routing_pb2.QueueDefinition(
                    name="bank-pool", brand="acme-bank", shared_brands=["acme-retail"]
                ),
            )
        )
        globex_token = region.token("admin", tenant="globex")
        globex = region.stub(nc, routing_pb2_grpc.RoutingServiceStub, globex_token)
        await globex.ConfigureQueue(
            routing_pb2.ConfigureQueueRequest(
                tenant_id="globex", queue=routing_pb2.QueueDefinition(name="outlet", brand="globex-outlet")
            )
        )
        identity = region.stub(nc, identity_pb2_grpc.IdentityServiceStub, globex_token)
        await identity.UpsertAgent(
            identity_pb2.UpsertAgentRequest(
                agent=identity_pb2.Agent(
                    tenant=common_pb2.TenantRef(tenant_id="globex"),
                    agent_id="gina",
                    display_name="Gina",
                    brands=["globex"],
                    languages=["en"],
                    home_region="eu",
                    channels=[
                        identity_pb2.ChannelCapacity(
                            channel=common_pb2.CHANNEL_KIND_WEBCHAT, max_concurrent=2
                        )
                    ],
                )
            )
        )


async def _chat(region: RunningRegion, http: Any, endpoint: str, visitor: str, text: str) -> str:
    chat = await region.chat(http, endpoint, visitor=visitor)
    await chat.send(type="message", id="m1", text=text)
    return str((await chat.expect("ack", id="m1"))["contactId"])


def _offered(agent: WsClient, contact_id: str) -> bool:
    return any(m.get("type") == "offer" and m.get("contactId") == contact_id for m in agent.seen)


async def _customer_of(region: RunningRegion, contact_id: str) -> str:
    events = await region.wait_event("message_received", contact_id)
    return events[0].message_received.customer_id


async def test_isolated_and_shared_pools(brands: RunningRegion) -> None:
    async with brands.http() as http:
        rita = await brands.agent(http, "rita")
        bert = await brands.agent(http, "bert")
        retail = await _chat(brands, http, "acme-webchat", "mb-retail-1", "retail question")
        await rita.expect("offer", seconds=60, contactId=retail)
        bank = await _chat(brands, http, "acme-bank-chat", "mb-bank-1", "bank question")
        await bert.expect("offer", seconds=60, contactId=bank)
        assert not _offered(bert, retail) and not _offered(rita, bank)
        # The bank queue that shares its agents with retail: rita (retail) may take it.
        await bert.send(type="set_state", id="away", state="break")
        await bert.expect("state", id="away")
        pooled = await _chat(brands, http, "acme-bank-pool-chat", "mb-pool-1", "pooled bank question")
        await rita.expect("offer", seconds=60, contactId=pooled)
        # globex shares its agents across brands: gina (globex) serves the outlet brand's queue.
        gina = await brands.agent(http, "gina", tenant="globex")
        outlet = await _chat(brands, http, "globex-outlet-chat", "mb-outlet-1", "outlet question")
        await gina.expect("offer", seconds=60, contactId=outlet)


async def test_a_brand_scoped_token_reads_nothing_of_another_brand(brands: RunningRegion) -> None:
    async with brands.http() as http:
        bank_contact = await _chat(brands, http, "acme-bank-chat", "mb-bank-2", "my account number is 1234")
        retail_contact = await _chat(brands, http, "acme-webchat", "mb-retail-2", "where is my parcel")
        bank_customer = await _customer_of(brands, bank_contact)
        retail_customer = await _customer_of(brands, retail_contact)
        retail_agent = brands.token("agent", "rita", brands=["acme-retail"])
        retail_supervisor = brands.token("supervisor", "sam", brands=["acme-retail"])

        def get(path: str, token: str) -> Any:
            return http.get(f"{brands.http_base}{path}", headers={"Authorization": f"Bearer {token}"})

        for path in (
            f"/v1/tenants/acme/customers/{bank_customer}?brand=acme-bank",
            f"/v1/tenants/acme/customers/{bank_customer}/timeline?brand=acme-bank",
        ):
            async with get(path, retail_agent) as response:
                assert response.status == 403, await response.text()
        async with get(f"/v1/tenants/acme/customers/{retail_customer}?brand=acme-retail", retail_agent) as ok:
            assert ok.status == 200, await ok.text()
        async with get("/v1/tenants/acme/queues", retail_supervisor) as board:
            assert board.status == 200
            names = {q["name"] for q in (await board.json())["queues"]}
        assert "support" in names and "bank" not in names
        assert "bank-pool" in names  # it shares its agents with retail

    async with brands.connect() as nc:
        identity = brands.stub(nc, identity_pb2_grpc.IdentityServiceStub, retail_agent)
        bank_ref = common_pb2.TenantRef(tenant_id="acme", brand_id="acme-bank")
        for call in (
            identity.GetCustomer(identity_pb2.GetCustomerRequest(tenant=bank_ref, customer_id=bank_customer)),
            identity.GetTimeline(identity_pb2.GetTimelineRequest(tenant=bank_ref, customer_id=bank_customer)),
        ):
            with pytest.raises(RpcError) as refused:
                await call
            assert refused.value.code == grpc.StatusCode.PERMISSION_DENIED
            assert "acme-bank" in refused.value.message
        # The bank contact's events (the conversation) are the bank's too.
        integration = brands.stub(nc, integration_pb2_grpc.IntegrationServiceStub, retail_supervisor)

        async def bank_events_refused() -> str | None:
            try:
                shown = await integration.ListContactEvents(
                    integration_pb2.ListContactEventsRequest(tenant_id="acme", contact_id=bank_contact)
                )
            except RpcError as error:
                return error.code.name
            assert not shown.events, "a retail-scoped supervisor read the bank contact's events"
            return None  # the integration service has not logged them yet

        assert await eventually(bank_events_refused) == "PERMISSION_DENIED"

        async def own_events() -> list[Any] | None:
            own = await integration.ListContactEvents(
                integration_pb2.ListContactEventsRequest(tenant_id="acme", contact_id=retail_contact)
            )
            return list(own.events) or None

        assert await eventually(own_events)  # its own brand's contact it reads
        routing = brands.stub(nc, routing_pb2_grpc.RoutingServiceStub, retail_supervisor)
        with pytest.raises(RpcError) as refused:
            await routing.GetQueueStats(routing_pb2.GetQueueStatsRequest(tenant_id="acme", queue="bank"))
        assert refused.value.code == grpc.StatusCode.PERMISSION_DENIED
        listed = await routing.ListQueues(routing_pb2.ListQueuesRequest(tenant_id="acme"))
        assert "bank" not in {q.name for q in listed.queues}
        with pytest.raises(RpcError) as refused:
            await routing.ExplainDecision(
                routing_pb2.ExplainDecisionRequest(tenant_id="acme", contact_id=bank_contact)
            )
        assert refused.value.code in (grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.NOT_FOUND)


async def test_another_tenants_token_reads_nothing(brands: RunningRegion) -> None:
    async with brands.http() as http:
        contact = await _chat(brands, http, "acme-webchat", "mb-retail-3", "hello from acme")
        customer = await _customer_of(brands, contact)
        globex = brands.token("admin", "gx", tenant="globex")
        headers = {"Authorization": f"Bearer {globex}"}
        for path in (f"/v1/tenants/acme/customers/{customer}?brand=acme-retail", "/v1/tenants/acme/queues"):
            async with http.get(f"{brands.http_base}{path}", headers=headers) as response:
                assert response.status == 403, await response.text()
    async with brands.connect() as nc:
        identity = brands.stub(nc, identity_pb2_grpc.IdentityServiceStub, globex)
        with pytest.raises(RpcError) as refused:
            await identity.GetCustomer(
                identity_pb2.GetCustomerRequest(
                    tenant=common_pb2.TenantRef(tenant_id="acme", brand_id="acme-retail"),
                    customer_id=customer,
                )
            )
        assert refused.value.code == grpc.StatusCode.PERMISSION_DENIED


async def test_an_endpoint_naming_another_brands_queue_is_refused_on_apply(
    brands: RunningRegion, tmp_path: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bank-into-retail.yaml"
    bad.write_text(yaml.safe_dump(_webchat("acme-bank-misrouted", "acme", "acme-bank", "support")))
    monkeypatch.setenv("CC_AUTH_SECRET", brands.secret)
    code = await asyncio.to_thread(ccctl, ["apply", "-f", str(bad), "--nats-url", brands.nats_url])
    assert code != 0
    err = capsys.readouterr().err
    assert "channelendpoint/acme-bank-misrouted: spec.queue" in err and "acme-retail" in err
    assert "nothing was applied" in err
    async with brands.connect() as nc:
        stored = await ConfigStore.open(nc.jetstream())
        names = [metadata_of(d).name for d in await stored.list("ChannelEndpoint")]
    assert "acme-bank-misrouted" not in names


async def test_each_brand_runs_its_own_journey(brands: RunningRegion) -> None:
    """One support journey, per-brand overlays: the bank's customer is greeted as the bank's."""
    async with brands.http() as http:
        greetings = {}
        for endpoint, visitor in (
            ("acme-webchat-journey", "mb-journey-retail"),
            ("acme-bank-journey", "mb-journey-bank"),
        ):
            chat = await brands.chat(http, endpoint, visitor=visitor)
            await chat.send(type="message", id="j1", text="I need help with my account")
            await chat.expect("ack", id="j1")
            greetings[endpoint] = (await chat.expect("message", seconds=30, **{"from": "bot"}))["text"]
    assert greetings["acme-bank-journey"] == BANK_WELCOME
    assert greetings["acme-webchat-journey"] != BANK_WELCOME
    assert "ACME" in greetings["acme-webchat-journey"]
