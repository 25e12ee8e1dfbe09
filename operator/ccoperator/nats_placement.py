"""Create a region's JetStream streams and KV buckets, placed on that region's servers only.

NATS cannot declare streams in its config file, so the operator creates them with the code the services
use (`ccmesh.events.ensure_region_streams`, `ccmesh.kv.ensure_bucket`) and the names of `ccmesh.naming`;
the placement tag `region:<name>` pins every replica to servers with that tag.
"""

from __future__ import annotations

from dataclasses import dataclass

from nats.js.client import JetStreamContext
from nats.js.errors import NotFoundError

from ccmesh import naming
from ccmesh.events import StreamSettings, ensure_region_streams
from ccmesh.kv import ensure_bucket

KV_STREAM_PREFIX = "KV_"


@dataclass(frozen=True)
class PlacementFound:
    """Where one stream (or a bucket's stream) actually lives."""

    name: str
    cluster: str
    servers: tuple[str, ...]

    def as_status(self) -> dict[str, object]:
        return {"name": self.name, "cluster": self.cluster, "servers": list(self.servers)}


def region_stream_names(region: str) -> list[str]:
    """Every JetStream stream holding the region's data, buckets included (as `KV_<bucket>`)."""
    return [s.name for s in naming.region_streams(region)] + [
        KV_STREAM_PREFIX + bucket for bucket in naming.region_buckets(region)
    ]


async def ensure_region_buckets(js: JetStreamContext, region: str, replicas: int) -> None:
    for bucket in naming.region_buckets(region):
        await ensure_bucket(js, bucket, placement_tags=[naming.placement_tag(region)], replicas=replicas)


async def find_placement(js: JetStreamContext, region: str) -> list[PlacementFound]:
    found: list[PlacementFound] = []
    for name in region_stream_names(region):
        info = await js.stream_info(name)
        cluster = info.cluster
        servers: list[str] = []
        if cluster is not None:
            servers = [cluster.leader] if cluster.leader else []
            servers += [peer.name for peer in cluster.replicas or [] if peer.name]
        found.append(
            PlacementFound(name=name, cluster=(cluster.name or "") if cluster else "", servers=tuple(servers))
        )
    return found


async def ensure_region_placement(
    js: JetStreamContext, region: str, replicas: int = 1
) -> list[PlacementFound]:
    """Create (or update) the region's streams and buckets; return where they landed."""
    await ensure_region_streams(
        js, region, StreamSettings(replicas=replicas, placement_tags=[naming.placement_tag(region)])
    )
    await ensure_region_buckets(js, region, replicas)
    return await find_placement(js, region)


async def delete_region_data(js: JetStreamContext, region: str) -> list[str]:
    """Delete every stream and bucket of the region (deletionPolicy: Delete); returns what was removed."""
    removed: list[str] = []
    for name in region_stream_names(region):
        try:
            await js.delete_stream(name)
            removed.append(name)
        except NotFoundError:
            continue
    return removed
