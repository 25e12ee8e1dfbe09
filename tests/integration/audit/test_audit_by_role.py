"""Audit log and scoped permissions through the running services: reads and changes of each role
appear with who, what, when, region and role; agents and supervisors may not read the log; a
supervisor of queue A is refused queue B; an integration limited to some event types may not
subscribe to others; a config-plane apply is recorded with who applied it."""

from __future__ import annotations

import asyncio
import base64
import time
from pathlib import Path
from typing import Any

import grpc
import pytest
from _platform import EXAMPLES, REGION, Platform

from ccctl.main import main as ccctl
from ccmesh.rpc_client import mesh_stub
from ccmesh.status import RpcError
from contactcenter.common.v1 import common_pb2
from contactcenter.identity.v1 import identity_pb2
from contactcenter.identity.v1.identity_pb2_grpc import IdentityServiceStub
from contactcenter.integration.v1 import integration_pb2
from contactcenter.integration.v1.integration_pb2_grpc import IntegrationServiceStub
from contactcenter.routing.v1 import routing_pb2
from contactcenter.routing.v1.routing_pb2_grpc import RoutingServiceStub

pytestmark = pytest.mark.timeout(90)
STATS = "/contactcenter.routing.v1.RoutingService/GetQueueStats"


def _as(platform: Platform, stub_class: Any, role: str, subject: str, **scopes: Any) -> Any:
    token = platform.authority.mint("acme", role, subject, 300, **scopes)
    return mesh_stub(stub_class, platform.channel(token))


async def _refused(call: Any) -> RpcError:
    with pytest.raises(RpcError) as caught:
        await call
    assert caught.value.code is grpc.StatusCode.PERMISSION_DENIED, caught.value
    return caught.value


async def test_each_role_is_audited_and_scopes_hold(
    platform: Platform, nats_url: str, tmp_path: Path
) -> None:
    await platform.start("identity", "routing", "integration")
    started = time.time()
    admin_routing = _as(platform, RoutingServiceStub, "admin", "ada")
    for name in ("queue-a", "queue-b"):
        await admin_routing.ConfigureQueue(
            routing_pb2.ConfigureQueueRequest(tenant_id="acme", queue=routing_pb2.QueueDefinition(name=name))
        )
    ref = common_pb2.TenantRef(tenant_id="acme", brand_id="acme-retail")
    phone = common_pb2.Identifier(kind=common_pb2.IDENTIFIER_KIND_PHONE, value="+4915112345678")
    agent_identity = _as(platform, IdentityServiceStub, "agent", "ann")
    resolved = await agent_identity.ResolveCustomer(
        identity_pb2.ResolveCustomerRequest(tenant=ref, identifiers=[phone])
    )
    customer_id = resolved.customer.customer_id
    integration_identity = _as(platform, IdentityServiceStub, "integration", "crm-sync")
    await integration_identity.GetCustomer(
        identity_pb2.GetCustomerRequest(tenant=ref, customer_id=customer_id)
    )

    # A supervisor of queue A: A's numbers, never B's, in every routing read that shows a queue.
    supervisor = _as(platform, RoutingServiceStub, "supervisor", "sam", queues=["queue-a"])
    await supervisor.GetQueueStats(routing_pb2.GetQueueStatsRequest(tenant_id="acme", queue="queue-a"))
    refused = await _refused(
        supervisor.GetQueueStats(routing_pb2.GetQueueStatsRequest(tenant_id="acme", queue="queue-b"))
    )
    assert "queue 'queue-b'" in refused.message
    listed = await supervisor.ListQueues(routing_pb2.ListQueuesRequest(tenant_id="acme"))
    assert [q.name for q in listed.queues] == ["queue-a"]
    depths = await supervisor.GetQueueDepths(routing_pb2.GetQueueDepthsRequest(tenant_id="acme"))
    assert {d.queue for d in depths.queues} <= {"queue-a"}

    # An admin limited to another region is refused here.
    await _refused(
        _as(platform, RoutingServiceStub, "admin", "us-admin", regions=["us"]).ListQueues(
            routing_pb2.ListQueuesRequest(tenant_id="acme")
        )
    )

    # An integration limited to some event types subscribes to those, never to more.
    crm = _as(platform, IntegrationServiceStub, "integration", "crm-hooks", event_types=["contact_created"])
    wanted = integration_pb2.Subscription(
        name="acme-crm",
        tenant_id="acme",
        endpoint_region=REGION,
        url="https://crm.example.com/hooks",
        secret="whsec_" + base64.b64encode(b"k" * 32).decode(),
        event_types=["contact_created"],
        enabled=True,
    )
    await crm.ApplySubscription(integration_pb2.ApplySubscriptionRequest(subscription=wanted))
    for types, named in ((["contact_created", "contact_closed"], "contact_closed"), ([], "every type")):
        del wanted.event_types[:]
        wanted.event_types.extend(types)
        refusal = await _refused(
            crm.ApplySubscription(integration_pb2.ApplySubscriptionRequest(subscription=wanted))
        )
        assert named in refusal.message

    # Who may read the audit log: admins and auditors, nobody else.
    query = identity_pb2.QueryAuditRequest(tenant_id="acme", since=started - 1, limit=1000)
    for role in ("agent", "supervisor", "integration"):
        await _refused(_as(platform, IdentityServiceStub, role, f"{role}-x").QueryAudit(query))

    # A config-plane change, applied with ccctl, is recorded with who applied it.
    # (Without its SMS entry point, whose endpoint this test does not apply.)
    document = tmp_path / "eu.yaml"
    document.write_text(
        "".join(
            line
            for line in (EXAMPLES / f"{REGION}.yaml").read_text().splitlines(keepends=True)
            if "defaultEntryPoint" not in line
        )
    )
    code = await asyncio.to_thread(
        ccctl, ["apply", "-f", str(document), "--by", "ops-olga", "--nats-url", nats_url]
    )
    assert code == 0

    auditor = _as(platform, IdentityServiceStub, "auditor", "audrey")

    async def records() -> list[Any]:
        reply = await auditor.QueryAudit(query)
        return list(reply.records)

    found = await records()
    by_actor: dict[str, list[Any]] = {}
    for record in found:
        by_actor.setdefault(record.actor, []).append(record)
        assert record.region == REGION and record.tenant_id == "acme" and record.at >= started - 1

    def one(actor: str, action_end: str, outcome: str = "allowed") -> Any:
        matches = [
            r for r in by_actor.get(actor, []) if r.action.endswith(action_end) and r.outcome == outcome
        ]
        assert matches, f"no {outcome} {action_end} by {actor} in {[(r.actor, r.action) for r in found]}"
        return matches[0]

    configure = one("ada", "/ConfigureQueue")
    assert (configure.role, configure.kind, configure.target) == ("admin", "change", "queue=queue-a")
    resolve = one("ann", "/ResolveCustomer")
    assert (resolve.role, resolve.kind) == ("agent", "change")
    assert "brand_id=acme-retail" in resolve.target
    read = one("crm-sync", "/GetCustomer")
    assert (read.role, read.kind, read.target) == (
        "integration",
        "read",
        f"customer_id={customer_id} brand_id=acme-retail",
    )
    allowed = one("sam", "/GetQueueStats")
    assert (allowed.role, allowed.kind, allowed.target) == ("supervisor", "read", "queue=queue-a")
    denied = one("sam", "/GetQueueStats", "denied")
    assert denied.target == "queue=queue-b" and "queue-b" in denied.reason
    assert "may not act in region" in one("us-admin", "/ListQueues", "denied").reason
    for role in ("agent", "supervisor", "integration"):
        assert one(f"{role}-x", "/QueryAudit", "denied").role == role
    assert "contact_closed" in one("crm-hooks", "/ApplySubscription", "denied").reason
    assert one("crm-hooks", "/ApplySubscription").kind == "change"
    applied = one("ops-olga", "config.apply ContactCenter/eu")
    assert (applied.role, applied.kind) == ("admin", "change")

    # Filters reach the stored records: only the supervisor's refused reads.
    narrowed = await auditor.QueryAudit(
        identity_pb2.QueryAuditRequest(tenant_id="acme", actor="sam", outcome="denied", since=started - 1)
    )
    assert [(r.action, r.target) for r in narrowed.records] == [(STATS, "queue=queue-b")]
    bad = identity_pb2.QueryAuditRequest(tenant_id="acme", kind="write")
    with pytest.raises(RpcError) as caught:
        await auditor.QueryAudit(bad)
    assert caught.value.code is grpc.StatusCode.INVALID_ARGUMENT and "kind" in caught.value.message
