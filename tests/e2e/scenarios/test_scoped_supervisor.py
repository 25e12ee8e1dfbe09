"""Scoped permissions and the audit log on the platform `ccctl up` starts: a customer's SMS lands
in the `support` queue and alice answers it; sam supervises only `queue-a`, sue only `support`.
Sam is refused support's numbers and contacts in every routing RPC, on the supervisor board (page
API and workspace socket), in the reports API and the export, while sue reads them; an
integration limited to one event type reads only those of the contact's events; afterwards
`ccctl audit` (an admin) shows sam's refused reads with who, what, when, region and role, and an
agent's token is refused the audit log."""

from __future__ import annotations

import asyncio
import contextlib
import io
import subprocess
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import orjson
import pytest

from ccctl.main import main as ccctl
from ccmesh.status import RpcError
from contactcenter.integration.v1 import integration_pb2
from contactcenter.integration.v1.integration_pb2_grpc import IntegrationServiceStub
from contactcenter.routing.v1 import routing_pb2
from contactcenter.routing.v1.routing_pb2_grpc import RoutingServiceStub
from tests.e2e.harness import RunningRegion, WsClient

pytestmark = pytest.mark.timeout(300)
A, B = "queue-a", "support"


async def _denied(call: Any) -> str:
    with pytest.raises(RpcError) as caught:
        await call
    assert caught.value.code is grpc.StatusCode.PERMISSION_DENIED, caught.value
    return caught.value.message


async def _answered_sms(region: RunningRegion) -> str:
    async with region.http() as http:
        alice = await region.agent(http, "alice")
        status, _ = await region.sms(http, "+447700900461", "Where is my parcel?")
        assert status == 200
        offer = await alice.expect("offer", seconds=45, channel="sms")
        await alice.send(type="accept", id="a1", reservationId=offer["reservationId"])
        await alice.expect("accepted", id="a1")
        await alice.send(type="wrap_up", id="w1", contactId=offer["contactId"], disposition="resolved")
        await alice.expect("wrapped_up", seconds=45, id="w1")
        await alice.ws.close()
    contact_id: str = offer["contactId"]
    return contact_id


async def test_a_supervisor_of_queue_a_is_refused_queue_b_everywhere_and_audited(
    e2e_region: RunningRegion, monkeypatch: pytest.MonkeyPatch
) -> None:
    region = e2e_region
    contact_id = await _answered_sms(region)
    sam = region.token("supervisor", "sam", queues=[A])
    sue = region.token("supervisor", "sue", queues=[B])
    today = datetime.now(UTC).date()
    async with region.connect() as nc:
        admin_routing = region.stub(nc, RoutingServiceStub, region.token("admin", "ada"))
        await admin_routing.ConfigureQueue(
            routing_pb2.ConfigureQueueRequest(tenant_id="acme", queue=routing_pb2.QueueDefinition(name=A))
        )
        sams, sues = region.stub(nc, RoutingServiceStub, sam), region.stub(nc, RoutingServiceStub, sue)

        # Routing: statistics, decisions, queue lists and depths.
        stats_b = routing_pb2.GetQueueStatsRequest(tenant_id="acme", queue=B)
        assert "queue 'support'" in await _denied(sams.GetQueueStats(stats_b))
        await sues.GetQueueStats(stats_b)
        await sams.GetQueueStats(routing_pb2.GetQueueStatsRequest(tenant_id="acme", queue=A))
        explain = routing_pb2.ExplainDecisionRequest(tenant_id="acme", contact_id=contact_id)
        await _denied(sams.ExplainDecision(explain))
        assert (await sues.ExplainDecision(explain)).queue == B
        listed = await sams.ListQueues(routing_pb2.ListQueuesRequest(tenant_id="acme"))
        assert [q.name for q in listed.queues] == [A]
        depths = await sams.GetQueueDepths(routing_pb2.GetQueueDepthsRequest(tenant_id="acme"))
        assert B not in {d.queue for d in depths.queues}
        callbacks = await sams.ListCallbacks(routing_pb2.ListCallbacksRequest(tenant_id="acme"))
        assert all(c.queue == A for c in callbacks.callbacks)

        # Integration: reports only per queue and only theirs; the export only their contacts.
        sams_reports = region.stub(nc, IntegrationServiceStub, sam)
        period = {"start": today.isoformat(), "end": (today + timedelta(days=1)).isoformat()}
        await _denied(sams_reports.GetReport(integration_pb2.GetReportRequest(tenant_id="acme", **period)))
        by_queue = await sams_reports.GetReport(
            integration_pb2.GetReportRequest(tenant_id="acme", group_by="queue", **period)
        )
        assert all(row.group == A for row in by_queue.rows)
        exported = await sams_reports.ExportContacts(
            integration_pb2.ExportContactsRequest(tenant_id="acme", **period)
        )
        assert contact_id not in {c.contact_id for c in exported.contacts}

        # The contact's events: support's supervisor reads them, queue A's is refused.
        contact_events = integration_pb2.ListContactEventsRequest(tenant_id="acme", contact_id=contact_id)
        assert "queue(s) ['queue-a']" in await _denied(sams_reports.ListContactEvents(contact_events))
        sues_reports = region.stub(nc, IntegrationServiceStub, sue)
        assert (await sues_reports.ListContactEvents(contact_events)).events

        # An integration limited to one event type reads only those of a contact's events.
        crm = region.stub(
            nc, IntegrationServiceStub, region.token("integration", "crm", event_types=["contact_created"])
        )
        history = integration_pb2.ListContactEventsRequest(tenant_id="acme", contact_id=contact_id)
        everything = region.stub(nc, IntegrationServiceStub, region.token("integration", "bi"))
        assert len((await everything.ListContactEvents(history)).events) > 1
        created = (await crm.ListContactEvents(history)).events
        assert [event.WhichOneof("payload") for event in created] == ["contact_created"]

    async with region.http() as http:
        # The supervisor board's page API: sam's board has queue A alone; naming B is a 403.
        def headers(token: str) -> dict[str, str]:
            return {"Authorization": f"Bearer {token}"}

        base = f"{region.http_base}/v1/tenants/acme"
        async with http.get(f"{base}/queues", headers=headers(sam)) as response:
            assert response.status == 200
            assert [q["name"] for q in (await response.json())["queues"]] == [A]
        async with http.get(f"{base}/queues", params={"queue": B}, headers=headers(sam)) as response:
            assert response.status == 403
            assert (await response.json())["error"]["code"] == "PERMISSION_DENIED"
        async with http.get(f"{base}/queues", params={"queue": B}, headers=headers(sue)) as response:
            assert response.status == 200
            assert [q["name"] for q in (await response.json())["queues"]] == [B]
        # The reports page's API, with sam's token: totals over every queue are refused.
        params = {"start": period["start"], "end": period["end"], "interval": "day"}
        async with http.get(
            f"{base}/reports", params={**params, "by": "brand"}, headers=headers(sam)
        ) as response:
            assert response.status == 403
        # The workspace socket's board: queue A alone.
        ws = await http.ws_connect(f"{region.ws_base}/v1/agent/ws")
        board = WsClient(ws)
        await board.send(type="auth", token=sam)
        await board.expect("ready")
        await board.send(type="subscribe_queues", id="q1")
        pushed = await board.expect("queues", seconds=30)
        assert [q["name"] for q in pushed["queues"]] == [A]
        await ws.close()

    # The audit log, read by an admin through ccctl: sam's refused reads, with their fields.
    monkeypatch.setenv("CC_AUTH_SECRET", region.secret)  # what `ccctl audit` signs its admin token with

    async def audit(*args: str) -> subprocess.CompletedProcess[str]:
        """`ccctl audit ARGS` in this process (a thread: it runs its own event loop)."""
        argv = ["audit", "--tenant", "acme", "--region", region.region, "--nats-url", region.nats_url, *args]

        def run() -> subprocess.CompletedProcess[str]:
            out, err = io.StringIO(), io.StringIO()
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                try:
                    code = ccctl(argv)
                except SystemExit as exit_:
                    code = int(exit_.code or 0)
            return subprocess.CompletedProcess(argv, code, out.getvalue(), err.getvalue())

        return await asyncio.to_thread(run)

    done = await audit("--actor", "sam", "--outcome", "denied", "-o", "json")
    assert done.returncode == 0, done.stderr
    records = orjson.loads(done.stdout)["records"]
    actions = {(r["action"].rsplit("/", 1)[-1], r["target"]) for r in records}
    assert ("GetQueueStats", f"queue={B}") in actions
    assert any(action == "ExplainDecision" for action, _ in actions)
    for record in records:
        assert (record["role"], record["region"], record["tenant_id"]) == (
            "supervisor",
            region.region,
            "acme",
        )
        assert record["kind"] == "read" and record["at"] > 0 and record["reason"]
    allowed = await audit("--actor", "sue", "--action", "ExplainDecision", "-o", "json")
    assert orjson.loads(allowed.stdout)["records"][0]["outcome"] == "allowed"
    # The workspace socket authenticates once; each of alice's actions there is recorded.
    accepted = await audit("--actor", "alice", "--action", "workspace accept", "-o", "json")
    [accept] = orjson.loads(accepted.stdout)["records"]
    assert (accept["role"], accept["kind"]) == ("agent", "change")
    assert accept["target"] == f"contact_id={contact_id}"
    # An agent may not read who read what.
    refused = await audit("--token", region.token("agent", "alice"))
    assert refused.returncode != 0 and "PERMISSION_DENIED" in refused.stderr
