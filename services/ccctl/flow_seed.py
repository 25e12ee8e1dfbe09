"""Publish the example journeys into a running platform (what `make run` does after start-up).

Each folder of `examples/flows/` that defines a Flow (`support/`: the flow, its catalog and its
overlays) is published to the region's routing service for the example tenant, and its `live`
alias set, so the example endpoints whose `flow` names it start that journey. Publishing the
same sources again changes nothing (routing keeps one version per digest).
"""

from __future__ import annotations

from pathlib import Path

import nats

from ccflow.errors import FlowError
from ccflow.loader import bundle_from_sources, read_sources
from ccmesh.auth import TokenAuthority
from ccmesh.rpc_client import MeshChannel, mesh_stub
from ccmesh.status import RpcError
from contactcenter.routing.v1 import routing_pb2, routing_pb2_grpc

LIVE = "live"


class FlowSeedError(RuntimeError):
    """An example flow could not be published; the message names the folder and the reason."""


def flow_folders(flows_dir: Path) -> list[Path]:
    """The folders of `flows_dir` that hold a flow (each a bundle of its own)."""
    if not flows_dir.is_dir():
        return []
    return sorted(p for p in flows_dir.iterdir() if p.is_dir() and any(p.rglob("*.yaml")))


def sources_of(folder: Path) -> list[tuple[str, str]]:
    """The folder's files, named relative to its parent (stable names: the same digest every time)."""
    return [(str(Path(name).relative_to(folder.parent)), text) for name, text in read_sources([folder])]


async def publish_example_flows(
    nats_url: str, region: str, secret: str, tenant: str, flows_dir: Path
) -> list[str]:
    """Publish every example flow and point `live` at it; one line per flow for the start-up summary."""
    token = TokenAuthority(secret).mint(tenant, "admin", "ccctl-up", 300)
    nc = await nats.connect(nats_url)
    lines: list[str] = []
    try:
        routing = mesh_stub(
            routing_pb2_grpc.RoutingServiceStub, MeshChannel(nc, region, token=token, default_timeout=10.0)
        )
        for folder in flow_folders(flows_dir):
            sources = sources_of(folder)
            try:
                names = sorted(bundle_from_sources(sources).flows)
            except FlowError as error:
                raise FlowSeedError(f"{folder}: {error}") from None
            for name in names:
                files = [routing_pb2.FlowSourceFile(name=file, content=text) for file, text in sources]
                try:
                    reply = await routing.PublishFlow(
                        routing_pb2.PublishFlowRequest(tenant_id=tenant, flow=name, files=files)
                    )
                    await routing.SetFlowAlias(
                        routing_pb2.SetFlowAliasRequest(
                            tenant_id=tenant, flow=name, alias=LIVE, version=reply.version
                        )
                    )
                except RpcError as error:
                    raise FlowSeedError(f"{folder}: flow {name!r} not published: {error}") from None
                lines.append(f"flow/{tenant}/{name} version {reply.version} ({LIVE})")
        return lines
    finally:
        await nc.close()
