"""Run the identity service in several regions of a real supercluster, in-process."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nats
from nats.aio.client import Client as NATS

from ccmesh.auth import TokenAuthority
from ccmesh.configplane.loader import load_file
from ccmesh.configplane.models import ContactCenter
from ccmesh.configplane.store import ConfigStore
from ccmesh.rpc_client import MeshChannel, mesh_stub
from ccmesh.service_host import serve
from ccmesh.status import RpcError
from contactcenter.identity.v1 import identity_pb2
from contactcenter.identity.v1.identity_pb2_grpc import IdentityServiceStub
from identity.__main__ import DEFINITION
from identity.config import IdentityConfig

SECRET = "r" * 32
EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def example(region: str) -> ContactCenter:
    (sourced,) = load_file(EXAMPLES / f"{region}.yaml")
    assert isinstance(sourced.document, ContactCenter)
    return sourced.document


@dataclass
class Regions:
    clients: dict[str, NATS] = field(default_factory=dict)
    authority: TokenAuthority = field(default_factory=lambda: TokenAuthority(SECRET))

    def stub(self, region: str, tenant: str = "globex", role: str = "admin", via: str | None = None) -> Any:
        """IdentityService of `region`, called from a client connected to `via` (default: the same region)."""
        token = self.authority.mint(tenant, role, f"test-{role}", 300)
        channel = MeshChannel(self.clients[via or region], region, token=token, default_timeout=10.0)
        return mesh_stub(IdentityServiceStub, channel)

    async def apply(self, document: ContactCenter) -> None:
        store = await ConfigStore.open(self.clients[document.spec.region].jetstream())
        await store.apply(document)


async def _until_serving(stub: Any, tenant: str) -> None:
    async with asyncio.timeout(20):
        while True:
            try:
                await stub.GetTenant(identity_pb2.GetTenantRequest(tenant_id=tenant), timeout=1.0)
                return
            except RpcError:
                await asyncio.sleep(0.05)


@asynccontextmanager
async def identity_in_regions(urls: dict[str, str], documents: list[ContactCenter]) -> AsyncIterator[Regions]:
    regions = Regions()
    stops: list[tuple[asyncio.Event, asyncio.Task[None]]] = []
    try:
        for region, url in urls.items():
            regions.clients[region] = await nats.connect(url, connect_timeout=5)
        for document in documents:
            await regions.apply(document)
        for region, url in urls.items():
            config = IdentityConfig(
                region=region,
                nats_url=url,
                auth_secret=SECRET,
                grpc_port=-1,
                instance_name=f"identity-{region}",
                placement_by_region=True,
                shutdown_grace_seconds=1.0,
            )
            stop = asyncio.Event()
            stops.append((stop, asyncio.create_task(serve(DEFINITION, config, stop))))
        for region in urls:
            await _until_serving(regions.stub(region), "globex")
        yield regions
    finally:
        for stop, task in reversed(stops):
            stop.set()
            await asyncio.wait_for(task, 20)
        for client in regions.clients.values():
            await client.drain()
