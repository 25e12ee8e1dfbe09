"""End to end: the platform as `make run` starts it (nats-server + five service processes).

One test walks the whole path a user relies on: every service SERVING in `ccctl status`; a
customer message through the gateway, resolved by identity, delivered as events to
integration, under ONE trace id exported over OTLP by three processes; a clean stop that
leaves no process behind; and a restart on the same data directory that lost nothing.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import nats
import pytest

from ccctl.launcher import (
    LaunchPlan,
    Platform,
    apply_examples,
    start_nats,
    start_services,
    stop,
    wait_until_serving,
)
from ccmesh.auth import TokenAuthority
from ccmesh.natsserver import free_port
from ccmesh.rpc_client import MeshChannel, mesh_stub
from contactcenter.common.v1 import common_pb2
from contactcenter.gateway.v1 import gateway_pb2, gateway_pb2_grpc
from contactcenter.integration.v1 import integration_pb2, integration_pb2_grpc
from tests.e2e.otlp_receiver import OtlpReceiver, ReceivedSpan

REPO = Path(__file__).resolve().parents[2]
PHONE = "+44 20 7946 0958"


@pytest.fixture
async def receiver() -> AsyncIterator[OtlpReceiver]:
    otlp = OtlpReceiver()
    await otlp.start()
    try:
        yield otlp
    finally:
        await otlp.stop()


def _plan(data_dir: Path) -> LaunchPlan:
    return LaunchPlan(
        data_dir=data_dir,
        regions=["eu"],
        examples_dir=REPO / "examples",
        nats_port=free_port(),
        nats_monitor_port=free_port(),
        grpc_base_port=0,
        gateway_http_port=free_port(),
        ready_timeout=60,
    )


async def _start(plan: LaunchPlan) -> Platform:
    (plan.data_dir / "logs").mkdir(parents=True, exist_ok=True)
    platform = Platform(plan)
    try:
        await asyncio.to_thread(start_nats, platform)
        await apply_examples(platform)
        secret_file = plan.data_dir / "auth-secret"
        if not secret_file.exists():
            secret_file.write_text("e2e-secret-" + "x" * 32)
        start_services(platform, secret_file.read_text().strip())
        await wait_until_serving(platform)
    except BaseException:
        await asyncio.to_thread(stop, platform)
        raise
    return platform


async def _submit(
    platform: Platform, token: str, provider_id: str, text: str
) -> gateway_pb2.SubmitInboundMessageResponse:
    nc = await nats.connect(platform.nats_url)
    try:
        gateway = mesh_stub(gateway_pb2_grpc.GatewayServiceStub, MeshChannel(nc, "eu", token=token))
        return await gateway.SubmitInboundMessage(
            gateway_pb2.SubmitInboundMessageRequest(
                # acme keeps its brands' customers apart: a message names the brand it is for.
                tenant=common_pb2.TenantRef(tenant_id="acme", brand_id="acme-retail"),
                channel=common_pb2.CHANNEL_KIND_SMS,
                entry_point="+442079460000",
                text=text,
                provider_message_id=provider_id,
                **{"from": common_pb2.Identifier(kind=common_pb2.IDENTIFIER_KIND_PHONE, value=PHONE)},
            ),
            timeout=10,
        )
    finally:
        await nc.close()


async def _contact_events(platform: Platform, token: str, contact_id: str, want: int) -> list[str]:
    nc = await nats.connect(platform.nats_url)
    try:
        integration = mesh_stub(
            integration_pb2_grpc.IntegrationServiceStub, MeshChannel(nc, "eu", token=token)
        )
        deadline = time.monotonic() + 20
        kinds: list[str] = []
        while time.monotonic() < deadline:
            reply = await integration.ListContactEvents(
                integration_pb2.ListContactEventsRequest(tenant_id="acme", contact_id=contact_id)
            )
            # The gateway's own events; the example region also streams AI insights (checked apart).
            kinds = [
                kind
                for kind in (event.WhichOneof("payload") or "" for event in reply.events)
                if kind in ("contact_created", "message_received")
            ]
            if len(kinds) >= want:
                break
            await asyncio.sleep(0.1)
        return kinds
    finally:
        await nc.close()


def _one_trace(spans: list[ReceivedSpan]) -> dict[str, list[ReceivedSpan]] | None:
    """The trace holding the gateway's SubmitInboundMessage server span, by service, if complete."""
    roots = [
        s for s in spans if s.service == "gateway" and s.name.endswith("GatewayService/SubmitInboundMessage")
    ]
    for root in roots:
        members = [s for s in spans if s.trace_id == root.trace_id]
        by_service: dict[str, list[ReceivedSpan]] = {}
        for span in members:
            by_service.setdefault(span.service, []).append(span)
        if {"gateway", "identity", "routing"} <= by_service.keys():
            return by_service
    return None


async def test_make_run_platform_end_to_end(
    tmp_path: Path, receiver: OtlpReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_INSECURE", "true")
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "100")
    monkeypatch.setenv("OTEL_METRIC_EXPORT_INTERVAL", "600000")
    # Every trace, not the 1 in 100 `ccctl up` keeps by default: the test follows one across hops.
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "parentbased_always_on")
    plan = _plan(tmp_path / "data")
    platform = await _start(plan)
    pids = [s.process.pid for s in platform.services] + [platform.nats.pid if platform.nats else -1]
    try:
        status = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "ccctl.main", "status", "--nats-url", platform.nats_url, "--region", "eu"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert status.returncode == 0, status.stdout + status.stderr
        rows = [line.split() for line in status.stdout.splitlines()[1:]]
        assert sorted(r[0] for r in rows) == ["ai", "gateway", "identity", "integration", "routing"]
        assert all(r[1] == "eu" and r[-1] == "SERVING" for r in rows)

        token = TokenAuthority((plan.data_dir / "auth-secret").read_text().strip()).mint(
            "acme", "admin", "e2e"
        )
        await _check_gateway_http(plan.gateway_http_port, token)
        first = await _submit(platform, token, "SM-e2e-1", "Hello, my order is late")
        assert first.contact_created and not first.duplicate
        assert await _contact_events(platform, token, first.contact_id, 2) == [
            "contact_created",
            "message_received",
        ]

        deadline = time.monotonic() + 20
        trace = _one_trace(receiver.spans)
        while trace is None and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
            trace = _one_trace(receiver.spans)
        assert trace is not None, f"no single trace across gateway, identity and routing: {receiver.spans}"
        assert any(s.name.endswith("IdentityService/ResolveCustomer") for s in trace["identity"])
        # Routing's consumer takes the contact_queued event the gateway published in this trace.
        assert any(s.name == "events-eu process" for s in trace["routing"])
        assert any(s.name == "events-eu publish" for s in trace["gateway"])
    finally:
        await asyncio.to_thread(stop, platform)
    assert [pid for pid in pids if _alive(pid)] == [], "processes still running after stop"

    # A second start on the same data directory: nothing stored is lost.
    again = await _start(_plan_reusing(plan))
    try:
        second = await _submit(again, token, "SM-e2e-2", "Any news?")
        assert second.customer_id == first.customer_id
        assert second.contact_id == first.contact_id
        kinds = await _contact_events(again, token, first.contact_id, 3)
        assert kinds == ["contact_created", "message_received", "message_received"]
    finally:
        await asyncio.to_thread(stop, again)


def _plan_reusing(plan: LaunchPlan) -> LaunchPlan:
    fresh = _plan(plan.data_dir)
    return fresh


def _alive(pid: int) -> bool:
    """Running and not a zombie (an exited child not yet reaped counts as gone)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


async def _check_gateway_http(port: int, token: str) -> None:
    """The gateway URL that `make run` prints answers: health, and the generic provider API."""
    base = f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{base}/healthz") as response:
            assert response.status == 200
            assert (await response.json())["status"] == "SERVING"
        message = {
            "channel": "webchat",
            "from": {"kind": "webchat_visitor_id", "value": "visitor-42"},
            "text": "hi",
            "providerMessageId": "web-1",
        }
        headers = {"Authorization": f"Bearer {token}"}
        async with session.post(
            f"{base}/v1/tenants/acme/messages", json=message, headers=headers
        ) as response:
            assert response.status == 201, await response.text()
            created = await response.json()
        async with session.post(
            f"{base}/v1/tenants/acme/messages", json=message, headers=headers
        ) as response:
            assert response.status == 200
            assert (await response.json())["contactId"] == created["contactId"]
        bad = {**message, "channel": "pigeon"}
        async with session.post(f"{base}/v1/tenants/acme/messages", json=bad, headers=headers) as response:
            assert response.status == 400
            assert "channel" in (await response.json())["error"]["message"]
        async with session.post(
            f"{base}/v1/tenants/globex/messages", json=message, headers=headers
        ) as response:
            assert response.status == 403
