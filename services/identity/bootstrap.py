"""Wire the identity service's parts from the runtime."""

from __future__ import annotations

from typing import Any

from ccmesh import naming
from ccmesh.auth import TokenAuthority
from ccmesh.kv import ensure_bucket
from ccmesh.retention_holds import LegalHoldStore
from ccmesh.rpc_client import MeshChannel, mesh_stub
from ccmesh.service_host import Runtime, ServiceParts, ServiceTokens
from contactcenter.ai.v1 import ai_pb2_grpc
from contactcenter.identity.v1 import identity_pb2, identity_pb2_grpc
from contactcenter.integration.v1 import integration_pb2_grpc
from identity.adapters.agent_store import AgentStore
from identity.adapters.consent_events import ConsentEvents
from identity.adapters.consent_store import ConsentStore
from identity.adapters.contact_events import ContactEventsEraser
from identity.adapters.forget_elsewhere import AiErasure, IntegrationErasure
from identity.adapters.forget_objects import ObjectStoreEraser
from identity.adapters.global_index import GlobalIndex
from identity.adapters.history_store import HistoryStore
from identity.adapters.profile_store import ProfileStore
from identity.adapters.region_scrubber import RegionScrubber, ScrubTarget
from identity.config import IdentityConfig
from identity.domain.residency import IndexKeys
from identity.entrypoints.access import IdentityAccess
from identity.entrypoints.actions import actions_consumer
from identity.entrypoints.base import IdentityDeps
from identity.entrypoints.events import timeline_consumer
from identity.entrypoints.rpc import IdentityServicer


def scrub_targets(region: str) -> list[ScrubTarget]:
    """Every stream and bucket of the region that can hold a person's data."""
    targets = [ScrubTarget(s.name, s.subjects[0]) for s in naming.region_streams(region)]
    buckets = dict.fromkeys([*naming.region_buckets(region), *naming.identity_region_buckets(region)])
    targets += [ScrubTarget(f"KV_{b}", f"$KV.{b}.>", bucket=b) for b in buckets]
    return targets


async def build(runtime: Runtime[IdentityConfig]) -> ServiceParts:
    config = runtime.config
    buckets = {}
    for name in naming.identity_region_buckets(config.region):
        buckets[name] = await ensure_bucket(
            runtime.js, name, placement_tags=runtime.placement_tags, replicas=config.stream_replicas
        )
    # Keyed hashes and region names only: shared by every region, so no placement.
    global_kv = await ensure_bucket(
        runtime.js, naming.IDENTITY_GLOBAL_INDEX_BUCKET, history=1, replicas=config.stream_replicas
    )
    history_bucket = naming.identity_history_bucket(config.region)
    history = HistoryStore(runtime.js, buckets[history_bucket], history_bucket)
    await history.follow_link_removals(runtime.nc)
    agents = AgentStore(buckets[naming.identity_bucket(config.region)])
    index_keys = IndexKeys(config.index_key())
    tokens = ServiceTokens(TokenAuthority(config.auth_secret), runtime.name)

    def remote(region: str) -> Any:
        channel = MeshChannel(
            runtime.nc, region, token=tokens, default_timeout=config.remote_deadline_seconds
        )
        return mesh_stub(identity_pb2_grpc.IdentityServiceStub, channel)

    deps = IdentityDeps(
        access=IdentityAccess(runtime.access, agents),
        store=ProfileStore(buckets[naming.identity_bucket(config.region)]),
        history=history,
        agents=agents,
        global_index=GlobalIndex(global_kv, index_keys),
        scrubber=RegionScrubber(runtime.js, scrub_targets(config.region), config.region),
        contact_events=ContactEventsEraser(runtime.js, config.region),
        index_keys=index_keys,
        region=config.region,
        tenants=runtime.tenant,
        remote=remote,
        objects=ObjectStoreEraser(runtime.js, config.region),
        holds=LegalHoldStore(runtime.js, config.region),
        erasure_secret=config.auth_secret,
        consents=ConsentStore(buckets[naming.identity_bucket(config.region)]),
        consent_events=ConsentEvents(runtime.events, config.region),
        policy=runtime.policy_check("identity"),
        erasure_elsewhere=[
            IntegrationErasure(mesh_stub(integration_pb2_grpc.IntegrationServiceStub, runtime.channel)),
            AiErasure(mesh_stub(ai_pb2_grpc.AiServiceStub, runtime.channel)),
        ],
    )
    return ServiceParts(
        servicers=[
            (
                IdentityServicer(deps),
                identity_pb2.DESCRIPTOR.services_by_name["IdentityService"],
                identity_pb2_grpc.add_IdentityServiceServicer_to_server,
            )
        ],
        consumers=[
            timeline_consumer(runtime.js, config.region, history),
            actions_consumer(
                runtime.js,
                config.region,
                deps.store,
                buckets[naming.identity_bucket(config.region)],
                lambda: runtime.contact_center,
            ),
        ],
    )
