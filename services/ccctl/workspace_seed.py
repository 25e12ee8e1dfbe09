"""Load example queues and agents into a running platform (what `make run` does after start-up).

`examples/workspace/<region>.yaml` names a tenant, its queues (routing `ConfigureQueue`) and its
agents (identity `UpsertAgent`; the agent socket copies the profile into routing at log-in).
Both calls replace what is there, so loading the file again on every start changes nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import nats
import yaml
from pydantic import Field, ValidationError

from ccmesh.auth import TokenAuthority
from ccmesh.channels import ChannelField, to_kind
from ccmesh.configplane.base import Model, ResourceId
from ccmesh.rpc_client import MeshChannel, mesh_stub
from contactcenter.common.v1 import common_pb2
from contactcenter.identity.v1 import identity_pb2, identity_pb2_grpc
from contactcenter.routing.v1 import routing_pb2, routing_pb2_grpc


class ExampleLanguageStep(Model):
    after_seconds: float = Field(gt=0)
    mode: Literal["preferred", "any"]


class ExampleQueue(Model):
    name: str = Field(pattern=r"^[A-Za-z0-9_=-]{1,200}$")
    brand: str = ""
    required_skills: list[str] = Field(default_factory=list)
    #: How the contact's language is matched at first: required (the default), preferred or any.
    language: Literal["required", "preferred", "any"] = "required"
    #: Later steps that widen it with the wait (routing refuses a step that narrows).
    language_widening: list[ExampleLanguageStep] = Field(default_factory=list)
    #: "isolated" keeps the queue to its brand when the tenant shares agents across brands.
    brand_sharing: Literal["", "isolated"] = ""


class ExampleCapacityGroup(Model):
    """Channels whose contacts together count against one limit, e.g. messaging: sms + whatsapp."""

    name: str = Field(min_length=1, max_length=64)
    channels: list[ChannelField] = Field(min_length=1)
    capacity: int = Field(ge=1, le=100)


class ExampleAgent(Model):
    id: str = Field(pattern=r"^[A-Za-z0-9_.@-]{1,128}$")
    display_name: str = ""
    brands: list[str] = Field(default_factory=list)
    queues: list[str] = Field(default_factory=list)
    languages: list[str] = Field(default_factory=list)
    skills: dict[str, int] = Field(default_factory=dict)
    #: Contacts at once per channel, by the names of `ccmesh.channels` (sms and whatsapp apart).
    channels: dict[ChannelField, int] = Field(default_factory=dict)
    #: Limits on several channels together; none: every channel on its own.
    capacity_groups: list[ExampleCapacityGroup] = Field(default_factory=list)


class ExampleWorkspace(Model):
    tenant: ResourceId
    queues: list[ExampleQueue] = Field(default_factory=list)
    agents: list[ExampleAgent] = Field(default_factory=list)


class SeedError(ValueError):
    """The example file is not valid; the message names the file and the field."""


def load_workspace(path: Path) -> ExampleWorkspace:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        workspace = ExampleWorkspace.model_validate(document)
    except (OSError, yaml.YAMLError) as error:
        raise SeedError(f"{path}: {error}") from None
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(document)'}: {e['msg']}" for e in error.errors()
        )
        raise SeedError(f"{path}: {problems}") from None
    return workspace


def _agent(tenant: str, region: str, agent: ExampleAgent) -> Any:
    return identity_pb2.Agent(
        agent_id=agent.id,
        tenant=common_pb2.TenantRef(tenant_id=tenant),
        display_name=agent.display_name or agent.id,
        skills=[identity_pb2.Skill(name=name, proficiency=level) for name, level in agent.skills.items()],
        languages=agent.languages,
        channels=[
            identity_pb2.ChannelCapacity(channel=to_kind(name), max_concurrent=count)  # type: ignore[arg-type]
            for name, count in agent.channels.items()
        ],
        capacity_groups=[
            identity_pb2.CapacityGroup(
                name=group.name,
                channels=[to_kind(c) for c in group.channels],  # type: ignore[misc]
                capacity=group.capacity,
            )
            for group in agent.capacity_groups
        ],
        brands=agent.brands,
        queues=agent.queues,
        home_region=region,
    )


async def seed_workspace(nats_url: str, region: str, secret: str, path: Path) -> list[str]:
    """Configure the file's queues and agents; one line per item for the start-up summary."""
    workspace = load_workspace(path)
    token = TokenAuthority(secret).mint(workspace.tenant, "admin", "ccctl-up", 300)
    nc = await nats.connect(nats_url)
    try:
        channel = MeshChannel(nc, region, token=token, default_timeout=10.0)
        routing = mesh_stub(routing_pb2_grpc.RoutingServiceStub, channel)
        identity = mesh_stub(identity_pb2_grpc.IdentityServiceStub, channel)
        lines = []
        for queue in workspace.queues:
            await routing.ConfigureQueue(
                routing_pb2.ConfigureQueueRequest(
                    tenant_id=workspace.tenant,
                    queue=routing_pb2.QueueDefinition(
                        name=queue.name,
                        brand=queue.brand,
                        required_skills=queue.required_skills,
                        language=queue.language,
                        language_widening=[
                            routing_pb2.LanguageStep(after_seconds=step.after_seconds, mode=step.mode)
                            for step in queue.language_widening
                        ],
                        brand_sharing=queue.brand_sharing,
                    ),
                )
            )
            lines.append(f"queue/{workspace.tenant}/{queue.name}")
        for agent in workspace.agents:
            await identity.UpsertAgent(
                identity_pb2.UpsertAgentRequest(agent=_agent(workspace.tenant, region, agent))
            )
            lines.append(f"agent/{workspace.tenant}/{agent.id}")
        return lines
    finally:
        await nc.close()
