"""The example tenants' AI for `ccctl up`: their intent model and knowledge base from `examples/ai/`.

`examples/ai/intents-<tenant>.yaml` trains the tenant's intents and `examples/ai/kb-<tenant>.yaml`
loads its knowledge base (the formats of `ccctl ai train-intents` and `ccctl kb load`), in every
region started, so a newcomer's first messages show real intents, suggestions and summaries.
"""

from __future__ import annotations

from pathlib import Path

import nats

from ccctl.commands import CommandError
from ccctl.commands.ai import TIMEOUT_SECONDS, knowledge_request, training_request
from ccmesh.auth import TokenAuthority
from ccmesh.configplane.loader import load_file
from ccmesh.configplane.models import ContactCenter
from ccmesh.rpc_client import MeshChannel, mesh_stub
from ccmesh.status import RpcError
from contactcenter.ai.v1.ai_pb2_grpc import AiServiceStub

INTENTS_PREFIX, KNOWLEDGE_PREFIX = "intents-", "kb-"


class DemoAiError(RuntimeError):
    """An example file or the ai service refused; the message names which."""


def example_tenants(folder: Path) -> list[str]:
    """Tenants with an intents or knowledge-base file in `folder`, sorted."""
    names = {
        path.stem.removeprefix(prefix)
        for prefix in (INTENTS_PREFIX, KNOWLEDGE_PREFIX)
        for path in folder.glob(f"{prefix}*.yaml")
    }
    return sorted(names)


def served_tenants(examples_dir: Path, region: str) -> set[str]:
    """Tenants of the region's example ContactCenter (`examples/<region>.yaml`)."""
    path = examples_dir / f"{region}.yaml"
    if not path.exists():
        return set()
    return {
        tenant.id
        for sourced in load_file(path)
        if isinstance(sourced.document, ContactCenter)
        for tenant in sourced.document.spec.tenants
    }


async def load_demo_ai(nats_url: str, regions: list[str], secret: str, examples_dir: Path) -> list[str]:
    """Train and load what `examples/ai/` holds for each tenant a region serves; a line per tenant."""
    folder = examples_dir / "ai"
    tenants = example_tenants(folder)
    if not tenants:
        return []
    authority = TokenAuthority(secret)
    lines: list[str] = []
    nc = await nats.connect(nats_url)
    try:
        for region in regions:
            served = served_tenants(examples_dir, region)
            for tenant in (t for t in tenants if t in served):
                channel = MeshChannel(
                    nc,
                    region,
                    token=authority.mint(tenant, "admin", "ccctl-up", 600),
                    default_timeout=TIMEOUT_SECONDS,
                )
                ai = mesh_stub(AiServiceStub, channel)
                lines.append(f"{region}/{tenant} ai: " + await _load_tenant(ai, tenant, folder))
    finally:
        await nc.close()
    return lines


async def _load_tenant(ai: AiServiceStub, tenant: str, folder: Path) -> str:
    said: list[str] = []
    intents = folder / f"{INTENTS_PREFIX}{tenant}.yaml"
    knowledge = folder / f"{KNOWLEDGE_PREFIX}{tenant}.yaml"
    try:
        if intents.exists():
            trained = await ai.TrainIntents(training_request(tenant, intents, None))
            said.append(f"{trained.intents} intents from {trained.examples} examples")
        if knowledge.exists():
            loaded = await ai.LoadKnowledge(knowledge_request(tenant, knowledge, replace=True))
            said.append(f"{loaded.total} knowledge-base articles")
    except CommandError as error:
        raise DemoAiError(str(error)) from None
    except RpcError as error:
        raise DemoAiError(
            f"ai service refused {tenant}'s examples: {error.code.name}: {error.message}"
        ) from None
    return ", ".join(said)
