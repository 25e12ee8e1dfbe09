"""Run platform services in-process against the test's own nats-server.

    from _platform import Platform  # the `platform` fixture comes from conftest.py

    async def test_something(platform: Platform) -> None:
        await platform.start("identity", "gateway")
        identity = platform.stub(IdentityServiceStub, tenant="acme", role="agent")
        reply = await identity.GetTenant(GetTenantRequest(tenant_id="acme"))

Before anything starts, the `platform` fixture applies examples/eu.yaml (region eu, tenants
acme with isolated brands acme-retail/acme-bank, and globex) to the config plane. Each
service runs through `ccmesh.service_host.serve()`, exactly as in production, as an asyncio
task; it counts as started once it prints its JSON ready line (which also carries the gRPC
port when it serves gRPC). After the test every service is stopped (all at once) and a
service that crashed fails the test.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest
from nats.aio.client import Client as NATS

from ccmesh import naming
from ccmesh.auth import TokenAuthority
from ccmesh.configplane.loader import load_file
from ccmesh.configplane.models import ContactCenter, Tenant
from ccmesh.configplane.store import AppliedResult, ConfigStore
from ccmesh.rpc_client import MeshChannel, mesh_stub
from ccmesh.service_host import ServiceDefinition, serve

REGION = "eu"
SECRET = "s" * 32
SERVICES = ("identity", "gateway", "integration", "routing", "ai")
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
#: Generous upper bounds for start, stop and polling; limits against hanging, not timing assertions.
START_SECONDS = 20.0
STOP_SECONDS = 20.0
WAIT_SECONDS = 10.0
#: Config every in-process start gets unless the test says otherwise: the ai service analyses on
#: threads here, since worker processes spawned and loaded for each test would cost seconds of
#: CPU each; the worker pool itself is tested in tests/integration/ai/test_ai_inference_processes.py
#: and runs in every platform the e2e tests start.
DEFAULT_SETTINGS: dict[str, dict[str, Any]] = {"ai": {"inference_processes": False}}


def eu_contact_center() -> ContactCenter:
    (sourced,) = load_file(EXAMPLES / f"{REGION}.yaml")
    assert isinstance(sourced.document, ContactCenter)
    return sourced.document


def with_tenant(document: ContactCenter, tenant: Tenant) -> ContactCenter:
    spec = document.spec.model_copy(update={"tenants": [*document.spec.tenants, tenant]})
    return document.model_copy(update={"spec": spec})


def definition_of(name: str) -> ServiceDefinition[Any]:
    definition = importlib.import_module(f"{name}.__main__").DEFINITION
    assert isinstance(definition, ServiceDefinition)
    return definition


async def eventually(probe: Callable[[], Any], *, seconds: float = WAIT_SECONDS) -> Any:
    """Await `probe()` until it returns something truthy (its result) or the time is up."""
    async with asyncio.timeout(seconds):
        while True:
            result = await probe()
            if result:
                return result
            await asyncio.sleep(0.02)


@dataclass
class _Running:
    name: str
    stop: asyncio.Event
    task: asyncio.Task[None]
    grpc_port: int = -1


@dataclass
class Platform:
    nc: NATS
    nats_url: str
    capsys: pytest.CaptureFixture[str]
    authority: TokenAuthority = field(default_factory=lambda: TokenAuthority(SECRET))
    running: dict[str, _Running] = field(default_factory=dict)
    _stdout: list[str] = field(default_factory=list)

    async def apply(self, document: ContactCenter) -> AppliedResult:
        store = await ConfigStore.open(self.nc.jetstream())
        return await store.apply(document)

    async def start(
        self, *names: str, grpc: bool = False, settings: dict[str, dict[str, Any]] | None = None
    ) -> None:
        """Start the named services (all at once) and wait until each is serving.

        `settings` adds config fields per service, e.g. `{"gateway": {"http_port": port}}`.
        """
        for name in names:
            if name in self.running:
                raise ValueError(f"{name} is already running")
            definition = definition_of(name)
            config = definition.config_model(
                region=REGION,
                nats_url=self.nats_url,
                auth_secret=SECRET,
                grpc_port=0 if grpc else -1,
                instance_name=f"{name}-test",
                shutdown_grace_seconds=2.0,
                default_deadline_seconds=5.0,
                **{**DEFAULT_SETTINGS.get(name, {}), **(settings or {}).get(name, {})},
            )
            stop = asyncio.Event()
            task = asyncio.create_task(serve(definition, config, stop), name=f"serve-{name}")
            self.running[name] = _Running(name, stop, task)
        await asyncio.gather(*(self._ready(self.running[name]) for name in names))

    async def _ready(self, service: _Running) -> None:
        async with asyncio.timeout(START_SECONDS):
            while True:
                if service.task.done():
                    service.task.result()  # raises what made it end
                    raise AssertionError(f"{service.name} ended before it was ready")
                self._stdout.extend(self.capsys.readouterr().out.splitlines())
                for line in self._stdout:
                    if line.startswith("{") and f'"ready":"{service.name}"' in line:
                        service.grpc_port = int(orjson.loads(line)["grpc_port"])
                        return
                await asyncio.sleep(0.02)

    async def stop_all(self) -> None:
        """Stop every service at once (each drains on its own) and re-raise the first crash."""
        services = list(self.running.values())
        self.running.clear()
        for service in services:
            service.stop.set()
        outcomes = await asyncio.gather(
            *(asyncio.wait_for(service.task, STOP_SECONDS) for service in services), return_exceptions=True
        )
        failures = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
        if failures:
            raise failures[0]

    async def restart(self, name: str) -> None:
        """Stop one service (it drains as on SIGTERM) and start a new instance of it."""
        service = self.running.pop(name)
        service.stop.set()
        await asyncio.wait_for(service.task, STOP_SECONDS)
        # The new instance's readiness, not the old one's, is what `start` must wait for.
        self._stdout[:] = [line for line in self._stdout if f'"ready":"{name}"' not in line]
        await self.start(name)

    def grpc_port(self, name: str) -> int:
        port = self.running[name].grpc_port
        assert port > 0, f"{name} does not serve gRPC; start it with grpc=True"
        return port

    def token(self, tenant: str = "acme", role: str = "admin", ttl_seconds: int = 300) -> str:
        return self.authority.mint(tenant, role, f"test-{role}", ttl_seconds)

    def channel(self, token: str | None) -> MeshChannel:
        return MeshChannel(self.nc, REGION, token=token, default_timeout=5.0)

    def stub(self, stub_class: Callable[[Any], object], *, tenant: str = "acme", role: str = "admin") -> Any:
        return mesh_stub(stub_class, self.channel(self.token(tenant, role)))

    async def event_count(self) -> int:
        """Messages stored on the region's event stream."""
        info = await self.nc.jetstream().stream_info(naming.events_stream(REGION).name)
        return int(info.state.messages)


@pytest.fixture
async def platform(nc: NATS, nats_url: str, capsys: pytest.CaptureFixture[str]) -> AsyncIterator[Platform]:
    running = Platform(nc=nc, nats_url=nats_url, capsys=capsys)
    await running.apply(eu_contact_center())
    try:
        yield running
    finally:
        await running.stop_all()
