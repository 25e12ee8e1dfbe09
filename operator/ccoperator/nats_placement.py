"""Create a region's JetStream streams and KV buckets, placed on that region's servers only.

NATS cannot declare streams in its config file, so the operator creates them with the code the services
use (`ccmesh.stores.ensure_region_stores`, from the retention table `ccmesh.retention` with the region's
`spec.retention`); the placement tag `region:<name>` pins every replica to servers with that tag.
"""

from __future__ import annotations

from dataclasses import dataclass

from nats.js.client import JetStreamContext
from nats.js.errors import NotFoundError

from ccmesh import naming
from ccmesh.retention import DEFAULT_POLICY, STORES, RetentionPolicy
from ccmesh.stores import ensure_region_stores, stream_name


@dataclass(frozen=True)
class PlacementFound:
    """Where one stream (or a bucket's stream) actually lives."""

    name: str
    cluster: str
    servers: tuple[str, ...]
    #: The limits the server enforces and what the stream holds, read back rather than assumed.
    max_age_seconds: int = 0
    max_bytes: int = -1
    bytes: int = 0
    #: The placement tags of the stream's config (NATS picks its servers among those with them).
    tags: tuple[str, ...] = ()
    #: Replicas the stream is configured with.
    replicas: int = 0
    #: Servers holding a replica that is offline or not caught up with the leader.
    lagging: tuple[str, ...] = ()

    def as_status(self) -> dict[str, object]:
        return {
            "name": self.name,
            "cluster": self.cluster,
            "servers": list(self.servers),
            "maxAgeSeconds": self.max_age_seconds,
            "maxBytes": self.max_bytes,
            "bytes": self.bytes,
            "tags": list(self.tags),
            "replicas": self.replicas,
        }


def region_stream_names(region: str) -> list[str]:
    """Every JetStream stream holding the region's data, buckets (`KV_<bucket>`) and object
    stores (`OBJ_<bucket>`) included."""
    return [stream_name(store, region) for store in STORES]


async def find_placement(js: JetStreamContext, region: str) -> list[PlacementFound]:
    found: list[PlacementFound] = []
    for name in region_stream_names(region):
        info = await js.stream_info(name)
        cluster = info.cluster
        servers: list[str] = []
        lagging: list[str] = []
        if cluster is not None:
            servers = [cluster.leader] if cluster.leader else []
            servers += [peer.name for peer in cluster.replicas or [] if peer.name]
            lagging = [p.name for p in cluster.replicas or [] if p.name and (p.offline or not p.current)]
        placement = info.config.placement
        found.append(
            PlacementFound(
                name=name,
                cluster=(cluster.name or "") if cluster else "",
                servers=tuple(servers),
                max_age_seconds=int(info.config.max_age or 0),
                max_bytes=info.config.max_bytes if info.config.max_bytes is not None else -1,
                bytes=int(info.state.bytes or 0),
                tags=tuple(placement.tags or ()) if placement else (),
                replicas=int(info.config.num_replicas or 1),
                lagging=tuple(lagging),
            )
        )
    return found


async def ensure_region_placement(
    js: JetStreamContext, region: str, replicas: int = 1, retention: RetentionPolicy = DEFAULT_POLICY
) -> list[PlacementFound]:
    """Create the region's streams and buckets, or bring their limits to `retention`; return
    where they landed."""
    await ensure_region_stores(
        js, region, retention, placement_tags=[naming.placement_tag(region)], replicas=replicas
    )
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
